"""Blueprints by audience: search (apprentices' way in), recordings (watch and share), api (other tools)."""
