"""後で見る: moments a person keeps for later (a recording at a time, a document at a passage or page).

Why it works this way:

- only what the person may see can be saved (kb.access.visible_recording: a hidden recording answers
  like a missing one), and the list shows only what they may still see: a recording made private
  or deleted since drops out (deleting it removes the row: ON DELETE CASCADE);
- the place is kept as the time, the passage id and its page, with a short label taken from the
  passage: passages are rebuilt when a transcript is corrected, so the page and the time are what
  still lead back when the passage id has gone;
- saving the same place twice keeps one row (UNIQUE on the place), and a person keeps at most
  :data:`MAX_PER_USER` moments (the oldest have to be removed first): a size bound like any input.
"""

from __future__ import annotations

import sqlite3

from kb.access import Viewer, visible_recording, visible_where
from kb.errors import InputError, NotFound

MAX_PER_USER = 500
LABEL_CHARS = 60


def _place(start: float | None, chunk_id: int | None) -> str:
    if start is not None:
        return f"t:{round(start, 1):g}"
    if chunk_id is not None:
        return f"c:{chunk_id}"
    return "r"


def _label(
    conn: sqlite3.Connection, recording_id: int, start: float | None, chunk_id: int | None
) -> tuple[str, int | None]:
    """(the words spoken at that time, or the passage's first words; its page) at the saved place."""
    row = None
    if chunk_id is not None:
        row = conn.execute(
            "SELECT text, page FROM chunks WHERE id = ? AND recording_id = ?", (chunk_id, recording_id)
        ).fetchone()
    elif start is not None:
        row = conn.execute(
            "SELECT text, page FROM segments WHERE recording_id = ? AND start IS NOT NULL "
            "AND start <= ? ORDER BY start DESC, idx DESC LIMIT 1",
            (recording_id, start + 0.5),
        ).fetchone()
    if row is None:
        return "", None
    flat = " ".join((row["text"] or "").split())
    return (flat if len(flat) <= LABEL_CHARS else flat[: LABEL_CHARS - 1].rstrip() + "…"), row["page"]


def save(
    conn: sqlite3.Connection,
    viewer: Viewer,
    recording_id: int,
    *,
    start: float | None = None,
    chunk_id: int | None = None,
) -> int:
    """Keep this place for later; returns the saved moment's id (the existing one when saved before).

    NotFound when the viewer may not see the recording (or it is not processed yet)."""
    if viewer.user_id is None:
        raise InputError("only a person with a login keeps moments")
    rec = visible_recording(conn, viewer, recording_id)
    if rec.get("status") != "done":
        raise NotFound(f"no recording with id {recording_id}")
    if start is not None:
        if not 0 <= start <= 10 * 24 * 3600:
            raise InputError("the time is outside the recording", code="time_outside")
        chunk_id = None
    if (
        chunk_id is not None
        and conn.execute("SELECT 1 FROM chunks WHERE id = ? AND recording_id = ?", (chunk_id, recording_id)).fetchone()
        is None
    ):
        chunk_id = None  # a passage rebuilt since the page was shown: keep the recording itself
    place = _place(start, chunk_id)
    row = conn.execute(
        "SELECT id FROM saved_moments WHERE user_id = ? AND recording_id = ? AND place = ?",
        (viewer.user_id, recording_id, place),
    ).fetchone()
    if row is not None:
        return int(row[0])
    count = conn.execute("SELECT COUNT(*) FROM saved_moments WHERE user_id = ?", (viewer.user_id,)).fetchone()[0]
    if count >= MAX_PER_USER:
        raise InputError(f"at most {MAX_PER_USER} saved moments: remove some first", code="too_many", n=MAX_PER_USER)
    label, page = _label(conn, recording_id, start, chunk_id)
    with conn:
        cur = conn.execute(
            "INSERT OR IGNORE INTO saved_moments(user_id, recording_id, place, start, chunk_id, page, label)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (viewer.user_id, recording_id, place, start, chunk_id, page, label),
        )
    if cur.rowcount:
        return int(cur.lastrowid)
    return int(
        conn.execute(
            "SELECT id FROM saved_moments WHERE user_id = ? AND recording_id = ? AND place = ?",
            (viewer.user_id, recording_id, place),
        ).fetchone()[0]
    )


def remove(conn: sqlite3.Connection, viewer: Viewer, saved_id: int) -> bool:
    """Remove one of the viewer's own saved moments; False when they have no such one (someone else's
    answers the same as a missing one)."""
    with conn:
        return (
            conn.execute("DELETE FROM saved_moments WHERE id = ? AND user_id = ?", (saved_id, viewer.user_id)).rowcount
            == 1
        )


def listing(conn: sqlite3.Connection, viewer: Viewer, limit: int | None = None) -> list[dict]:
    """The viewer's saved moments they may still see, newest first: {id, recording_id, title, kind, start,
    chunk_id, page, label, created_at} (chunk_id None when that passage was rebuilt since)."""
    if viewer.user_id is None:
        return []
    where, params = visible_where(viewer, "r")
    rows = conn.execute(
        f"""SELECT s.*, r.title, r.kind, r.meister_id, m.name AS meister,
                   EXISTS (SELECT 1 FROM chunks c WHERE c.id = s.chunk_id AND c.recording_id = s.recording_id)
                       AS chunk_alive
            FROM saved_moments s JOIN recordings r ON r.id = s.recording_id
            LEFT JOIN meisters m ON m.id = r.meister_id
            WHERE s.user_id = ? AND r.status = 'done' AND {where}
            ORDER BY s.id DESC {"LIMIT ?" if limit else ""}""",
        [viewer.user_id, *params, *([limit] if limit else [])],
    )
    out = []
    for r in rows:
        chunk = r["chunk_id"] if r["chunk_alive"] else None
        out.append(
            {
                "id": r["id"],
                "recording_id": r["recording_id"],
                "title": r["title"],
                "kind": r["kind"],
                "meister": r["meister"],
                "start": r["start"],
                "chunk_id": chunk,
                "page": r["page"],
                "label": r["label"],
                "created_at": r["created_at"],
            }
        )
    return out


def places(conn: sqlite3.Connection, viewer: Viewer) -> dict[str, int]:
    """ "<recording id>/<place>" -> saved id, for marking what is saved already on a results page."""
    if viewer.user_id is None:
        return {}
    return {
        f"{r[0]}/{r[1]}": r[2]
        for r in conn.execute("SELECT recording_id, place, id FROM saved_moments WHERE user_id = ?", (viewer.user_id,))
    }


def place_key(recording_id: int, start: float | None, chunk_id: int | None) -> str:
    return f"{recording_id}/{_place(start, chunk_id)}"
