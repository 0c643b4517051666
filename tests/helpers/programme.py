"""Rows with known dates for the programme figures (test_programme, test_web_programme)."""

from __future__ import annotations

import uuid

from kb import recordings, users
from kb.recordings import RecordingMeta


def add_recording(conn, title, *, meister, organisation_id, done_at=None, status="done"):
    meta = RecordingMeta(title=title, meister=meister, technique="旋盤", organisation_id=organisation_id)
    with conn:
        rid = recordings.create(
            conn,
            title=title,
            kind="video",
            fmt="mp4",
            source_name=f"{title}.mp4",
            sha256=uuid.uuid4().hex,
            size_bytes=10,
            meta=meta,
            status=status,
        )
        if done_at:
            conn.execute("UPDATE recordings SET done_at = ? WHERE id = ?", (done_at, rid))
    return rid


def account(conn, login, role, name, org=1, created_at="2024-04-10T00:00:00Z", meister=None):
    """A user whose account was created on ``created_at`` (UTC), for the retention figure."""
    uid = users.create_user(
        conn, login, users.generate_password(), role, organisation_id=org, display_name=name, meister=meister
    )
    with conn:
        conn.execute("UPDATE users SET created_at = ? WHERE id = ?", (created_at, uid))
    return uid
