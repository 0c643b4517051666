"""A recording's passages (the chunks the pipeline cut and search finds), read for pages: a document's
passages in order, a video's timed ones (its chapters), one passage for a link or a printed card.

Why here and not in the views: a page asks for passages by recording, and the question "does this
passage belong to this recording?" is the same whoever asks (a shared link must not show another
recording's text)."""

from __future__ import annotations

import sqlite3


def in_order(conn: sqlite3.Connection, recording_id: int) -> list[dict]:
    """``{"id", "idx", "page", "text"}`` of every passage of the recording, in reading order."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT id, idx, page, text FROM chunks WHERE recording_id = ? ORDER BY idx", (recording_id,)
        )
    ]


def timed(conn: sqlite3.Connection, recording_id: int) -> list[dict]:
    """``{"id", "start", "end", "text"}`` of the recording's passages that have a time, by time."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT id, start, end, text FROM chunks WHERE recording_id = ? AND start IS NOT NULL ORDER BY start, idx",
            (recording_id,),
        )
    ]


def of_recording(conn: sqlite3.Connection, recording_id: int, chunk_id: int) -> dict | None:
    """``{"page", "text"}`` of passage ``chunk_id`` if it is one of the recording's (None otherwise)."""
    row = conn.execute(
        "SELECT page, text FROM chunks WHERE id = ? AND recording_id = ?", (chunk_id, recording_id)
    ).fetchone()
    return None if row is None else dict(row)
