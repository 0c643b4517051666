"""Coaching sessions (指導実績): who coached whom, where, on what, for how long.

Why logging and confirming are separate: a meister logs their own sessions (they know
what happened on the shop floor), a coordinator confirms them (the programme reports
these hours to its funders).  A coordinator's own entry is confirmed by them at once.
Both steps keep who and when, with the person's name so it survives a deleted account.
Only confirmed sessions count in kb.programme's figures.  A meister may change or
delete their own session only while it is unconfirmed; changing a confirmed session
(coordinators) confirms it again in the changer's name.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable

from kb import access, programme, users
from kb.db import NOW_SQL
from kb.errors import InputError, NotFound

MAX_NOTES = 4000
MAX_TECHNIQUE = 100


class NotAllowed(InputError):
    """The actor may not do this to this session (the message says why)."""


def _may_log_for(actor: users.Account, meister_id: int) -> None:
    if actor.viewer.at_least("coordinator"):
        return
    if actor.role == "meister" and actor.meister_id == meister_id:
        return
    raise NotAllowed("a meister logs only their own sessions; coordinators log for anyone", code="coaching_not_allowed")


def _check(
    conn: sqlite3.Connection,
    *,
    held_on,
    meister_id,
    organisation_id,
    technique,
    hours,
    notes,
    technicians,
    recording_ids,
    item_ids,
) -> dict:
    held_on = programme.check_day(held_on, "the date of the session")
    if held_on is None:
        raise InputError("the date of the session is required", code="required", what="date")
    if conn.execute("SELECT 1 FROM meisters WHERE id = ?", (meister_id,)).fetchone() is None:
        raise NotFound(f"no meister with id {meister_id}")
    if conn.execute("SELECT 1 FROM organisations WHERE id = ?", (organisation_id,)).fetchone() is None:
        raise NotFound(f"no organisation with id {organisation_id}")
    try:
        hours = float(hours)
    except (TypeError, ValueError):
        raise InputError(f"hours must be a number, not {hours!r}", code="hours") from None
    if not 0 < hours <= 24:
        raise InputError("hours must be more than 0 and at most 24", code="hours")
    technique = (technique or "").strip()
    notes = (notes or "").strip()
    if len(technique) > MAX_TECHNIQUE or len(notes) > MAX_NOTES:
        raise InputError("the technique or the notes are too long", code="too_long", what="notes", n=MAX_NOTES)
    out = {
        "held_on": held_on,
        "meister_id": int(meister_id),
        "organisation_id": int(organisation_id),
        "technique": technique,
        "hours": hours,
        "notes": notes,
    }
    for key, ids, table, what in (
        ("technicians", technicians, "users", "user"),
        ("recording_ids", recording_ids, "recordings", "recording"),
        ("item_ids", item_ids, "curriculum_items", "curriculum item"),
    ):
        ids = list(dict.fromkeys(int(i) for i in ids or ()))
        for i in ids:
            if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (i,)).fetchone() is None:
                raise NotFound(f"no {what} with id {i}")
        out[key] = ids
    return out


def _write_links(conn: sqlite3.Connection, session_id: int, data: dict) -> None:
    for table, column, key in (
        ("coaching_technicians", "user_id", "technicians"),
        ("coaching_recordings", "recording_id", "recording_ids"),
        ("coaching_items", "item_id", "item_ids"),
    ):
        conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))
        conn.executemany(
            f"INSERT INTO {table}(session_id, {column}) VALUES (?,?)", [(session_id, i) for i in data[key]]
        )


def log_session(
    conn: sqlite3.Connection,
    actor: users.Account,
    *,
    held_on: str,
    meister_id: int,
    organisation_id: int,
    hours,
    technique: str = "",
    notes: str = "",
    technicians: Iterable[int] = (),
    recording_ids: Iterable[int] = (),
    item_ids: Iterable[int] = (),
) -> int:
    """Store a session; confirmed at once when a coordinator or admin logs it."""
    _may_log_for(actor, int(meister_id))
    data = _check(
        conn,
        held_on=held_on,
        meister_id=meister_id,
        organisation_id=organisation_id,
        technique=technique,
        hours=hours,
        notes=notes,
        technicians=technicians,
        recording_ids=recording_ids,
        item_ids=item_ids,
    )
    confirming = actor.viewer.at_least("coordinator")
    with conn:
        cur = conn.execute(
            f"""INSERT INTO coaching_sessions(held_on, meister_id, organisation_id, technique, hours, notes,
                                             logged_by, logged_by_name, confirmed_by, confirmed_by_name, confirmed_at)
               VALUES (?,?,?,?,?,?,?,?,?,?, CASE WHEN ? THEN {NOW_SQL} END)""",
            (
                data["held_on"],
                data["meister_id"],
                data["organisation_id"],
                data["technique"],
                data["hours"],
                data["notes"],
                actor.id,
                actor.display_name,
                actor.id if confirming else None,
                actor.display_name if confirming else None,
                int(confirming),
            ),
        )
        session_id = int(cur.lastrowid)
        _write_links(conn, session_id, data)
    return session_id


def get_session(conn: sqlite3.Connection, session_id: int) -> dict:
    row = conn.execute(
        """SELECT s.*, m.name AS meister, o.name AS organisation FROM coaching_sessions s
                          JOIN meisters m ON m.id = s.meister_id JOIN organisations o ON o.id = s.organisation_id
                          WHERE s.id = ?""",
        (session_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no coaching session with id {session_id}")
    out = dict(row)
    out["confirmed"] = out["confirmed_at"] is not None
    out["technicians"] = [
        dict(r)
        for r in conn.execute(
            """SELECT u.id, u.login, u.display_name FROM coaching_technicians t JOIN users u ON u.id = t.user_id
           WHERE t.session_id = ? ORDER BY u.display_name, u.id""",
            (session_id,),
        )
    ]
    out["recording_ids"] = [
        r[0]
        for r in conn.execute(
            "SELECT recording_id FROM coaching_recordings WHERE session_id = ? ORDER BY recording_id", (session_id,)
        )
    ]
    out["item_ids"] = [
        r[0]
        for r in conn.execute("SELECT item_id FROM coaching_items WHERE session_id = ? ORDER BY item_id", (session_id,))
    ]
    return out


def _may_change(actor: users.Account, session: dict) -> None:
    if actor.viewer.at_least("coordinator"):
        return
    if actor.role == "meister" and actor.meister_id == session["meister_id"] and not session["confirmed"]:
        return
    raise NotAllowed(
        "only a coordinator changes a confirmed session, or another meister's", code="coaching_not_allowed"
    )


def may_change(actor: users.Account, session: dict) -> bool:
    """Whether ``actor`` may change or delete ``session`` (the rule update_session and delete_session
    apply), for pages that offer Edit and Delete only where they would work."""
    try:
        _may_change(actor, session)
    except NotAllowed:
        return False
    return True


def update_session(conn: sqlite3.Connection, session_id: int, actor: users.Account, **fields) -> None:
    """Replace the session's details (the same arguments as :func:`log_session`)."""
    session = get_session(conn, session_id)
    _may_change(actor, session)
    merged = {
        "held_on": session["held_on"],
        "meister_id": session["meister_id"],
        "organisation_id": session["organisation_id"],
        "technique": session["technique"],
        "hours": session["hours"],
        "notes": session["notes"],
        "technicians": [t["id"] for t in session["technicians"]],
        "recording_ids": session["recording_ids"],
        "item_ids": session["item_ids"],
    }
    unknown = set(fields) - set(merged)
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    merged.update(fields)
    _may_log_for(actor, int(merged["meister_id"]))
    data = _check(conn, **merged)
    confirming = actor.viewer.at_least("coordinator")
    with conn:
        conn.execute(
            f"""UPDATE coaching_sessions SET held_on = ?, meister_id = ?, organisation_id = ?, technique = ?,
                   hours = ?, notes = ?, confirmed_by = ?, confirmed_by_name = ?,
                   confirmed_at = CASE WHEN ? THEN {NOW_SQL} END,
                   updated_at = {NOW_SQL} WHERE id = ?""",
            (
                data["held_on"],
                data["meister_id"],
                data["organisation_id"],
                data["technique"],
                data["hours"],
                data["notes"],
                actor.id if confirming else None,
                actor.display_name if confirming else None,
                int(confirming),
                session_id,
            ),
        )
        _write_links(conn, session_id, data)


def confirm(conn: sqlite3.Connection, session_id: int, actor: users.Account) -> None:
    """A coordinator's (or admin's) confirmation: who and when."""
    get_session(conn, session_id)
    if not actor.viewer.at_least("coordinator"):
        raise NotAllowed("only a coordinator confirms a coaching session", code="coaching_not_allowed")
    with conn:
        conn.execute(
            f"""UPDATE coaching_sessions SET confirmed_by = ?, confirmed_by_name = ?,
                            confirmed_at = {NOW_SQL} WHERE id = ?""",
            (actor.id, actor.display_name, session_id),
        )


def delete_session(conn: sqlite3.Connection, session_id: int, actor: users.Account) -> None:
    _may_change(actor, get_session(conn, session_id))
    with conn:
        conn.execute("DELETE FROM coaching_sessions WHERE id = ?", (session_id,))


def list_sessions(
    conn: sqlite3.Connection,
    *,
    meister_id: int | None = None,
    organisation_id: int | None = None,
    confirmed: bool | None = None,
    start: str | None = None,
    end: str | None = None,
) -> list[dict]:
    """Sessions, newest first, filtered by meister, organisation visited, confirmation, held_on in [start, end]."""
    where, params = ["1"], []
    for column, value in (("meister_id", meister_id), ("organisation_id", organisation_id)):
        if value is not None:
            where.append(f"s.{column} = ?")
            params.append(value)
    if confirmed is not None:
        where.append("s.confirmed_at IS NOT NULL" if confirmed else "s.confirmed_at IS NULL")
    if start:
        where.append("s.held_on >= ?")
        params.append(start)
    if end:
        where.append("s.held_on <= ?")
        params.append(end)
    ids = [
        r[0]
        for r in conn.execute(
            f"SELECT s.id FROM coaching_sessions s WHERE {' AND '.join(where)} ORDER BY s.held_on DESC, s.id DESC",
            params,
        )
    ]
    return [get_session(conn, i) for i in ids]


def held_on_days(conn: sqlite3.Connection) -> list[str]:
    """Every day a session was held on, as stored (once each): the fiscal years the list offers."""
    return [r[0] for r in conn.execute("SELECT DISTINCT held_on FROM coaching_sessions")]


def linked_recordings(conn: sqlite3.Connection, recording_ids: Iterable[int]) -> list[dict]:
    """``{"id", "title", "kind"}`` of the given recordings (a session's, already cut to what the viewer may
    see), by title."""
    ids = list(recording_ids)
    if not ids:
        return []
    return [
        dict(r)
        for r in conn.execute(
            f"SELECT id, title, kind FROM recordings WHERE id IN ({','.join('?' * len(ids))}) ORDER BY title", ids
        )
    ]


def linked_items(conn: sqlite3.Connection, item_ids: Iterable[int]) -> list[dict]:
    """The curriculum items a session covered, each with its curriculum's id and title, by curriculum and
    position."""
    ids = list(item_ids)
    if not ids:
        return []
    return [
        dict(r)
        for r in conn.execute(
            f"""SELECT i.id, i.title, i.start, i.page, i.recording_id, c.id AS curriculum_id, c.title AS curriculum
            FROM curriculum_items i JOIN curricula c ON c.id = i.curriculum_id
            WHERE i.id IN ({",".join("?" * len(ids))}) ORDER BY c.title, i.position""",
            ids,
        )
    ]


# ---------------------------------------------------------------- what the session form offers


def active_technicians(conn: sqlite3.Connection, keep: Iterable[int] = ()) -> list[dict]:
    """Apprentices still active (not disabled, not left), with their organisation, by organisation and name;
    and those of ``keep`` (already on the session) whatever their state.  ``{"id", "display_name",
    "organisation_id", "organisation"}``."""
    rows = conn.execute("""SELECT u.id, u.display_name, u.organisation_id, o.name AS organisation
                           FROM users u JOIN organisations o ON o.id = u.organisation_id
                           WHERE u.role = 'apprentice' AND u.disabled = 0 AND u.left_on IS NULL
                           ORDER BY o.id, u.display_name, u.id""").fetchall()
    people = [dict(r) for r in rows]
    keep = set(keep)
    if keep - {p["id"] for p in people}:
        extra = conn.execute(
            f"""SELECT u.id, u.display_name, u.organisation_id, o.name AS organisation
                                 FROM users u JOIN organisations o ON o.id = u.organisation_id
                                 WHERE u.id IN ({",".join("?" * len(keep))})""",
            sorted(keep),
        ).fetchall()
        known = {p["id"] for p in people}
        people += [dict(r) for r in extra if r["id"] not in known]
    return people


def finished_recordings(conn: sqlite3.Connection, viewer: access.Viewer) -> list[dict]:
    """Finished recordings ``viewer`` may see, by title: ``{"id", "title", "technique", "kind", "meister_id"}``."""
    where, params = access.visible_where(viewer, "r")
    rows = conn.execute(
        f"""SELECT r.id, r.title, r.technique, r.kind, r.meister_id FROM recordings r
                            WHERE ({where}) AND r.status = 'done' ORDER BY r.title, r.id""",
        params,
    ).fetchall()
    return [dict(r) for r in rows]


def techniques(conn: sqlite3.Connection, viewer: access.Viewer | None = None) -> list[str]:
    """Techniques to offer: the recordings' ones the viewer may see (all, without a viewer), the meisters'
    specialities and those of coaching sessions."""
    from kb.recordings import visible_techniques

    rows = conn.execute("""SELECT value FROM meister_specialities WHERE kind = 'category'
                           UNION SELECT technique FROM coaching_sessions WHERE technique != ''""")
    seen = (
        visible_techniques(conn, viewer)
        if viewer is not None
        else [
            r[0]
            for r in conn.execute("SELECT technique FROM recordings WHERE technique IS NOT NULL AND technique != ''")
        ]
    )
    return sorted({r[0] for r in rows} | set(seen))
