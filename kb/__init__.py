"""Takumi KB core: settings, database, domain, CLI.

Importing it makes the model libraries offline (kb.settings.OFFLINE_ENVIRONMENT): every entry point
(the kb command, the web app, workers, tests, benchmarks) imports kb before any model loads, so this
is the one place that says nothing may download at run time.
"""
from kb.settings import set_offline_environment

set_offline_environment()
