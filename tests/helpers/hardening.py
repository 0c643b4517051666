"""A small real knowledge base for the hardening tests (issue 16): real SQLite, real Flask app, real
pipeline code paths, the model-free hash embedder (these tests are about who sees what and what is
refused, not about search quality), two organisations and one user per role."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Kb:
    app: object
    config: object
    conn: object
    logins: dict = field(default_factory=dict)  # key -> (login, password, user id)

    def client(self, key: str):
        from helpers.web import session_client

        return session_client(self.app, self.logins[key][0])

    def user_id(self, key: str) -> int:
        return self.logins[key][2]


def make_kb(tmp_path: Path, **settings) -> Kb:
    """本社 (1) and 第二工場 (2); admin, coordinator, meister (田中), apprentice in 本社; other_meister
    (中村) and other_apprentice in 第二工場."""
    from kb import db, users
    from kb.home import init_home
    from kb.settings import load_config
    from web.app import create_app

    settings.setdefault("embed_model", "hash")
    settings.setdefault("second_embed_model", "none")
    settings.setdefault("serve_worker", "0")
    config = load_config(home=tmp_path / "kb", **settings)
    init_home(config).close()
    conn = db.connect(config.db_path)
    users.create_organisation(conn, "第二工場")
    logins = {}
    for key, role, org, meister in (
        ("admin", "admin", 1, None),
        ("coordinator", "coordinator", 1, None),
        ("meister", "meister", 1, "田中 一郎"),
        ("apprentice", "apprentice", 1, None),
        ("other_meister", "meister", 2, "中村 誠"),
        ("other_apprentice", "apprentice", 2, None),
    ):
        login, password = f"{key}-{secrets.token_hex(3)}", users.generate_password()
        uid = users.create_user(conn, login, password, role, organisation_id=org, meister=meister)
        logins[key] = (login, password, uid)
    app = create_app({"KB_CONFIG": config, "TESTING": True})
    return Kb(app, config, conn, logins)


def add_recording(
    kb: Kb,
    *,
    title: str,
    text: str,
    visibility: str = "organisation",
    organisation_id: int = 1,
    owner: str | None = "meister",
    technique: str | None = None,
    meister: str | None = None,
    timed: bool = False,
    sha256: str | None = None,
) -> int:
    """A processed (searchable) recording with one passage of ``text``, written through the search store."""
    from ingest.chunking import chunks_for
    from kb.recordings import RecordingMeta, create, replace_segments, update
    from search.store import SearchStore

    owner_id = kb.user_id(owner) if owner else None
    meta = RecordingMeta(
        title=title,
        meister=meister,
        technique=technique,
        visibility=visibility,
        organisation_id=organisation_id,
        owner_user_id=owner_id,
    )
    with kb.conn:
        rid = create(
            kb.conn,
            title=title,
            kind="audio" if timed else "document",
            fmt="mp3" if timed else "txt",
            source_name=f"{title}.{'mp3' if timed else 'txt'}",
            sha256=sha256 or secrets.token_hex(32),
            size_bytes=len(text.encode()),
            meta=meta,
        )
        segs = [{"start": 0.0, "end": 10.0, "text": text}] if timed else [{"page": None, "text": text}]
        replace_segments(kb.conn, rid, segs)
    store = SearchStore(kb.config, kb.conn)
    store.write_chunks(rid, chunks_for(kb.config, segs))
    with kb.conn:
        update(kb.conn, rid, status="done")
    return rid
