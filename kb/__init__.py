"""Takumi KB core: settings, database, domain.  The lowest layer: it imports no other package of ours
(docs/architecture.md; tests/test_layers.py).

Importing it makes the model libraries offline (kb.settings.OFFLINE_ENVIRONMENT): every entry point
(the kb command, the web app, workers, tests, benchmarks) imports kb before any model loads, so this
is the one place that says nothing may download at run time.
"""

from kb.settings import set_offline_environment

set_offline_environment()
