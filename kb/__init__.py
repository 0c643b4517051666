"""Takumi KB core: settings, database, domain.  The lowest layer: it imports no other package of ours
(docs/architecture.md; tests/test_layers.py)."""
