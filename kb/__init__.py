"""Takumi KB core: settings, database, domain, CLI."""
