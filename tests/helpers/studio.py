"""Helpers shared by the studio and upload tests (test_web_studio, test_api_upload, test_upload_bad_files,
e2e/test_e2e_studio): a fresh knowledge base with its app and users, uploads through the real form,
the real worker, and a check that files, rows and indexes still agree.

Why fresh knowledge bases (not the shared demo one): these tests add, change and
delete recordings, and the demo knowledge base is shared read-only by other tests.
"""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path

from kb.settings import load_config

PASSWORD = "studio-pass-123"


def studio_app(home: Path, **settings):
    """(app, config) over a new knowledge base at ``home`` (settings: e.g. embed_model="hash")."""
    from kb.home import init_home
    from web.app import create_app

    config = load_config(home=home, **settings)
    init_home(config).close()
    app = create_app({"KB_CONFIG": config, "TESTING": True})
    return app, config


def add_user(config, login: str, role: str, organisation_id: int = 1, meister: str | None = None) -> int:
    """A user with PASSWORD; returns the id."""
    from kb import db, users

    conn = db.connect(config.db_path)
    try:
        return users.create_user(
            conn, login, PASSWORD, role, organisation_id=organisation_id, display_name=meister or login, meister=meister
        )
    finally:
        conn.close()


def client_as(app, login: str):
    """A client logged in as ``login`` that reads the interface in English (the tests quote its messages)."""
    from helpers.web import session_client
    from web.i18n import COOKIE

    client = session_client(app, login)
    client.set_cookie(COOKIE, "en")
    return client


def api_token(config, login: str) -> str:
    from kb import db, users

    conn = db.connect(config.db_path)
    try:
        return users.create_token(conn, users.find_account(conn, login).id, "tests")[1]
    finally:
        conn.close()


def studio_token(client) -> str:
    """The CSRF token of the studio page, as a browser would send it back with the form."""
    from helpers.web import csrf_of

    page = client.get("/studio")
    assert page.status_code == 200, page.status_code
    return csrf_of(page.get_data(as_text=True))


def as_file(content: bytes | Path, name: str):
    """A (stream, filename) pair for the test client's multipart encoder."""
    data = content.read_bytes() if isinstance(content, Path) else content
    return (io.BytesIO(data), name)


def upload(client, files: list, *, json: bool = True, token: str | None = None, **fields):
    """POST /studio/upload like the form does (files: (content, name) pairs)."""
    data = {"csrf_token": token or studio_token(client), **fields, "file": [as_file(c, n) for c, n in files]}
    headers = {"Accept": "application/json"} if json else {}
    return client.post("/studio/upload", data=data, content_type="multipart/form-data", headers=headers)


def process_all(config) -> list:
    """Run the real worker until no job is waiting; returns its outcomes."""
    from ingest.worker import Worker

    worker = Worker(config, label="test")
    try:
        return worker.run_until_empty()
    finally:
        worker.close()


def wait_for(predicate, timeout: float = 600, interval: float = 0.1):
    """Poll until ``predicate()`` returns something true (a guard against hanging, not a timing check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("gave up waiting")


def rows(config, sql: str, *params) -> list:
    from kb import db

    conn = db.connect(config.db_path)
    try:
        return [tuple(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def problems(config) -> list[str]:
    """Disagreements between files, rows and indexes (an empty list when the knowledge base is whole)."""
    from kb import db

    home = config.home
    out = []
    conn = db.connect(config.db_path)
    try:
        stored = {r[0] for r in conn.execute("SELECT stored_path FROM recordings WHERE stored_path IS NOT NULL")}
        for rel in stored:
            if not (home / rel).is_file():
                out.append(f"missing original {rel}")
        for f in (home / "originals").rglob("*"):
            if f.is_file() and f.relative_to(home).as_posix() not in stored:
                out.append(f"stray original {f.relative_to(home)}")
        incoming = home / "uploads" / "incoming"
        if incoming.is_dir() and any(incoming.iterdir()):
            out.append(f"left in uploads: {sorted(p.name for p in incoming.iterdir())}")
        ids = {r[0] for r in conn.execute("SELECT id FROM recordings")}
        for table in ("segments", "chunks", "jobs"):
            orphans = conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE recording_id NOT IN (SELECT id FROM recordings)"
            ).fetchone()[0]
            if orphans:
                out.append(f"{orphans} {table} rows of deleted recordings")
        media = home / "media"
        for d in media.iterdir() if media.is_dir() else ():
            if d.is_dir() and d.name.isdigit() and int(d.name) not in ids:
                out.append(f"media of a deleted recording: {d.name}")
        chunk_ids = {r[0] for r in conn.execute("SELECT id FROM chunks")}
        lexical_ids = lexical_chunk_ids(conn)
        if lexical_ids is not None and lexical_ids != chunk_ids:
            out.append(f"lexical index differs from chunks: {sorted(lexical_ids ^ chunk_ids)[:10]}")
    finally:
        conn.close()
    return out


def lexical_chunk_ids(conn) -> set[int] | None:
    """The chunk ids the lexical (FTS5) index holds, or None when its table is not found."""
    names = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%VIRTUAL TABLE%fts5%'")
    ]
    if not names:
        return None
    return {r[0] for r in conn.execute(f"SELECT rowid FROM {names[0]}")}


def saved_index(config) -> dict:
    """The saved vector index's manifest (count, generation), as the next process to open it reads it."""
    import json

    return json.loads((config.index_dir / "manifest.json").read_text("utf-8"))


def index_agrees(config) -> bool:
    """The saved vector index holds as many vectors as SQLite has chunks, at SQLite's generation."""
    from kb import db

    manifest = saved_index(config)
    conn = db.connect(config.db_path)
    try:
        chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return manifest["count"] == chunks and manifest["generation"] == db.get_generation(conn)
    finally:
        conn.close()


def small_video(audio: Path | None, dest: Path, seconds: int = 4) -> Path:
    """An MP4 (a test pattern, with the first seconds of ``audio``, or silent without one) made with the
    bundled ffmpeg."""
    from media.ffmpeg import ffmpeg_binary

    sound = ["-i", str(audio), "-c:a", "aac", "-shortest"] if audio is not None else ["-an"]
    subprocess.run(
        [
            ffmpeg_binary(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=10",
            *sound,
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(dest),
        ],
        check=True,
        timeout=120,
    )
    return dest
