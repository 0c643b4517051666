"""The tests' shared helpers, in one place (imported as ``helpers.<module>``: pyproject.toml puts tests/ on
pytest's import path, so no test changes sys.path).

- config: the repository, the shared test data, a configuration for a fresh knowledge base, bench scripts;
- web: the demo knowledge base for the web tests (fast and real builds), logging in, CSRF, Chromium;
- fast_demo: that knowledge base built without models (and demo_transcripts.json, what Whisper wrote for it);
- studio, hardening, remote, programme, i18n: the helpers of those areas' tests.

Fixtures built on them live in conftest.py.  Nothing here ships in the product's packages.
"""
