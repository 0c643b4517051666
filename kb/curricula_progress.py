"""Progress through curricula: events from the technician's browser, sign-offs, completion, the skills matrix.

States of one item for one technician, lowest to highest:
``not_started`` -> ``watched`` (the player reported that at least
:data:`WATCHED_FRACTION` of the moment was played) -> ``done`` (the technician
marked it done) -> ``signed_off`` (a meister or coordinator checked it in
practice: who, when, a comment).  A curriculum is completed when every
required item is signed off (and, when none is required, when every item is).

Why events with a client-made id: the browser may lose its connection on the
shop floor; it keeps unsent events and sends them again later.  The id is
UNIQUE in progress_events, so an event that arrives twice is counted once.

Flags: an item whose recording was deleted (``removed``), may not be seen by
this technician (``hidden``) or is not ready (``unavailable``) is shown
flagged, never dropped; it still counts in the completion rule, so a
coordinator notices and replaces it.
"""

from __future__ import annotations

import codecs
import io
import re
import sqlite3
from typing import Iterable, Mapping

from kb import csvsafe, curricula, recordings, users
from kb.access import Viewer, can_view
from kb.db import NOW_SQL
from kb.errors import InputError, NotFound

WATCHED_FRACTION = 0.8
STATES = ("not_started", "watched", "done", "signed_off")
EVENT_KINDS = ("watched", "done", "undone")
EVENT_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
MAX_COMMENT = 2000


# ---------------------------------------------------------------- events


def record_event(
    conn: sqlite3.Connection, user_id: int, *, event_id: str, item_id: int, kind: str, fraction: float | None = None
) -> str:
    """Store one progress event; "recorded", or "duplicate" when this event id was stored before.

    NotFound when the item is not in a curriculum assigned to the user (the same
    answer as a missing item); InputError for a malformed event."""
    event_id = (event_id or "").strip()
    if not EVENT_ID.fullmatch(event_id):
        raise InputError("event_id must be 8 to 64 letters, digits or dashes (a UUID)")
    if kind not in EVENT_KINDS:
        raise InputError(f"unknown event kind {kind!r} (one of: {', '.join(EVENT_KINDS)})")
    if kind == "watched":
        try:
            fraction = float(fraction)
        except (TypeError, ValueError):
            raise InputError("a watched event needs the fraction played (0 to 1)") from None
        if not 0 <= fraction <= 1:
            raise InputError("fraction must be between 0 and 1")
        if fraction < WATCHED_FRACTION:
            raise InputError(f"watched needs at least {WATCHED_FRACTION:.0%} of the moment played")
    else:
        fraction = None
    if conn.execute("SELECT 1 FROM progress_events WHERE event_id = ?", (event_id,)).fetchone():
        return "duplicate"
    item = _assigned_item(conn, item_id, user_id)
    with conn:
        cur = conn.execute(
            "INSERT OR IGNORE INTO progress_events(event_id, user_id, item_id, kind, fraction) VALUES (?,?,?,?,?)",
            (event_id, user_id, item["id"], kind, fraction),
        )
    return "recorded" if cur.rowcount else "duplicate"


def _assigned_item(conn: sqlite3.Connection, item_id: int, user_id: int) -> dict:
    try:
        item = curricula.get_item(conn, int(item_id))
    except (TypeError, ValueError):
        raise NotFound(f"no curriculum item with id {item_id}") from None
    if not curricula.is_assigned(conn, item["curriculum_id"], user_id):
        raise NotFound(f"no curriculum item with id {item_id}")
    return item


# ---------------------------------------------------------------- sign-offs


def may_sign_off(signer: Viewer, technician_organisation_id: int) -> bool:
    """Coordinators and admins sign off anyone; meisters the technicians of their own organisation."""
    if signer.at_least("coordinator"):
        return True
    return signer.role == "meister" and signer.organisation_id == technician_organisation_id


def sign_off(conn: sqlite3.Connection, item_id: int, user_id: int, signer: users.Account, comment: str = "") -> None:
    """Record a practical check (signing again replaces who, when and the comment)."""
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise InputError(
            f"comment is too long (at most {MAX_COMMENT} characters)", code="too_long", what="comment", n=MAX_COMMENT
        )
    _assigned_item(conn, item_id, user_id)
    with conn:
        conn.execute(
            f"""INSERT INTO curriculum_signoffs(item_id, user_id, signed_by, signed_by_name, comment)
                        VALUES (?,?,?,?,?)
                        ON CONFLICT(item_id, user_id) DO UPDATE SET signed_by = excluded.signed_by,
                            signed_by_name = excluded.signed_by_name, comment = excluded.comment,
                            signed_at = {NOW_SQL}""",
            (item_id, user_id, signer.id, signer.display_name, comment),
        )


def withdraw_sign_off(conn: sqlite3.Connection, item_id: int, user_id: int) -> bool:
    with conn:
        cur = conn.execute("DELETE FROM curriculum_signoffs WHERE item_id = ? AND user_id = ?", (item_id, user_id))
    return bool(cur.rowcount)


# ---------------------------------------------------------------- states


def _marks(values: Iterable[int]) -> str:
    return ",".join("?" * len(list(values)))


def states(conn: sqlite3.Connection, user_ids: Iterable[int], item_ids: Iterable[int]) -> dict[tuple[int, int], str]:
    """(user id, item id) -> state, for every pair asked (not_started where nothing happened)."""
    user_ids, item_ids = list(dict.fromkeys(user_ids)), list(dict.fromkeys(item_ids))
    out = {(u, i): "not_started" for u in user_ids for i in item_ids}
    if not user_ids or not item_ids:
        return out
    params = [*user_ids, *item_ids]
    where = f"user_id IN ({_marks(user_ids)}) AND item_id IN ({_marks(item_ids)})"
    for r in conn.execute(
        f"SELECT DISTINCT user_id, item_id FROM progress_events WHERE {where} AND kind = 'watched'", params
    ):
        out[(r[0], r[1])] = "watched"
    # done: the latest done/undone event says done
    for r in conn.execute(
        f"""SELECT user_id, item_id, kind FROM progress_events e WHERE {where}
                              AND kind IN ('done', 'undone') AND id = (SELECT MAX(id) FROM progress_events f
                                  WHERE f.user_id = e.user_id AND f.item_id = e.item_id
                                  AND f.kind IN ('done', 'undone'))""",
        params,
    ):
        if r[2] == "done":
            out[(r[0], r[1])] = "done"
    for r in conn.execute(f"SELECT user_id, item_id FROM curriculum_signoffs WHERE {where}", params):
        out[(r[0], r[1])] = "signed_off"
    return out


def signoffs(conn: sqlite3.Connection, user_id: int, item_ids: Iterable[int]) -> dict[int, dict]:
    item_ids = list(item_ids)
    if not item_ids:
        return {}
    rows = conn.execute(
        f"SELECT * FROM curriculum_signoffs WHERE user_id = ? AND item_id IN ({_marks(item_ids)})", [user_id, *item_ids]
    )
    return {r["item_id"]: dict(r) for r in rows}


def flag(item: Mapping, rec: Mapping | None, viewer: Viewer) -> str | None:
    """Why this technician cannot open the item: removed / hidden / unavailable, or None."""
    if item["recording_id"] is None or rec is None:
        return "removed"
    if not can_view(viewer, rec):
        return "hidden"
    if rec.get("status") != "done":
        return "unavailable"
    return None


# What an item says about its recording beyond its title and times: shown only to those who may open it.
RECORDING_FIELDS = ("excerpt", "sha256", "recording_id", "chunk_id", "technique", "recording_kind")


def for_viewer(item: Mapping, rec: Mapping | None, viewer: Viewer) -> dict:
    """The item as ``viewer`` may read it: an item whose recording they cannot open (deleted, or hidden from
    them) keeps its title, times and note, and loses the text, checksum, id and technique of the recording,
    the same rule as the recording page (issue 16, defect 8)."""
    d = dict(item)
    if rec is None or d.get("recording_id") is None or not can_view(viewer, rec):
        for key in RECORDING_FIELDS:
            d[key] = None
    return d


def is_completed(items: list[dict], state_of: Mapping[int, str]) -> bool:
    """Every required item signed off (every item, when none is required); never for an empty curriculum."""
    if not items:
        return False
    required = [it for it in items if it["required"]] or items
    return all(state_of.get(it["id"]) == "signed_off" for it in required)


def user_progress(conn: sqlite3.Connection, curriculum_id: int, user_id: int) -> dict:
    """One technician's view of a curriculum: items with state, flag and sign-off, counts, next item, completed."""
    account = users.get_account(conn, user_id)
    its = curricula.items(conn, curriculum_id)
    recs = recordings.get_many(conn, [it["recording_id"] for it in its if it["recording_id"] is not None])
    state_pairs = states(conn, [user_id], [it["id"] for it in its])
    signed = signoffs(conn, user_id, [it["id"] for it in its])
    out_items = []
    for it in its:
        d = for_viewer(it, recs.get(it["recording_id"]), account.viewer)
        d["state"] = state_pairs[(user_id, it["id"])]
        d["flag"] = flag(it, recs.get(it["recording_id"]), account.viewer)
        d["signoff"] = signed.get(it["id"])
        out_items.append(d)
    state_of = {d["id"]: d["state"] for d in out_items}
    done = sum(1 for d in out_items if d["state"] in ("done", "signed_off"))
    next_item = next((d for d in out_items if d["state"] not in ("done", "signed_off") and d["flag"] is None), None)
    return {
        "items": out_items,
        "total": len(out_items),
        "done": done,
        "signed_off": sum(1 for d in out_items if d["state"] == "signed_off"),
        "percent": round(100 * done / len(out_items)) if out_items else 0,
        "next_item": next_item,
        "completed": is_completed(its, state_of),
        "flagged": sum(1 for d in out_items if d["flag"]),
    }


# ---------------------------------------------------------------- the skills matrix


def matrix(
    conn: sqlite3.Connection,
    curriculum_id: int,
    *,
    organisation_id: int | None = None,
    cohort_id: int | None = None,
    by: str = "item",
) -> dict:
    """Technicians x items (or x techniques): {"columns": [...], "rows": [{"user", "cells", "completed"}]}.

    By technique, a cell is the lowest state among that technique's items (a
    technique counts as signed off only when all of its items are)."""
    its = curricula.items(conn, curriculum_id)
    people = curricula.assignees(conn, curriculum_id, organisation_id=organisation_id, cohort_id=cohort_id)
    pairs = states(conn, [p["id"] for p in people], [it["id"] for it in its])
    recs = recordings.get_many(conn, [it["recording_id"] for it in its if it["recording_id"] is not None])
    viewers = {p["id"]: Viewer(p["id"], p["role"], p["organisation_id"], _meister_id(conn, p["id"])) for p in people}
    if by == "technique":
        techniques = list(dict.fromkeys(it["technique"] or "" for it in its))
        columns = [
            {"key": t, "title": t, "items": [it["id"] for it in its if (it["technique"] or "") == t]}
            for t in techniques
        ]
    elif by == "item":
        columns = [{"key": it["id"], "title": it["title"], "item": it, "items": [it["id"]]} for it in its]
    else:
        raise InputError("matrix by item or by technique")
    rows = []
    for p in people:
        cells = []
        for col in columns:
            col_states = [pairs[(p["id"], i)] for i in col["items"]]
            state = min(col_states, key=STATES.index) if col_states else "not_started"
            flags = [flag(it, recs.get(it["recording_id"]), viewers[p["id"]]) for it in its if it["id"] in col["items"]]
            cells.append({"state": state, "flag": next((f for f in flags if f), None)})
        state_of = {i: pairs[(p["id"], i)] for i in (it["id"] for it in its)}
        rows.append({"user": p, "cells": cells, "completed": is_completed(its, state_of)})
    return {"by": by, "columns": columns, "rows": rows}


def _meister_id(conn: sqlite3.Connection, user_id: int) -> int | None:
    row = conn.execute("SELECT meister_id FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else None


def matrix_csv(data: dict, labels: Mapping[str, str], headings: Mapping[str, str]) -> bytes:
    """The matrix as CSV for Excel: UTF-8 with a BOM (so Excel in Japan reads it as UTF-8, not Shift_JIS),
    CRLF line ends.  ``labels`` names the states, ``headings`` the fixed columns, in the interface language."""
    out = io.StringIO()
    writer = csvsafe.writer(out, lineterminator="\r\n")  # no formulas (issue 16, defect 15)
    writer.writerow(
        [
            headings["login"],
            headings["name"],
            headings["organisation"],
            headings["due"],
            *[c["title"] or "—" for c in data["columns"]],
            headings["completed"],
        ]
    )
    for row in data["rows"]:
        u = row["user"]
        writer.writerow(
            [
                u["login"],
                u["display_name"],
                u["organisation"],
                u.get("due_date") or "",
                *[labels[c["state"]] + (f" ({labels[c['flag']]})" if c["flag"] else "") for c in row["cells"]],
                labels["yes"] if row["completed"] else labels["no"],
            ]
        )
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def pending_signoffs(conn: sqlite3.Connection, signer: Viewer) -> list[dict]:
    """Items technicians have watched or marked done and nobody signed off yet, that ``signer`` may sign off."""
    rows = conn.execute("""
        SELECT DISTINCT e.user_id, e.item_id FROM progress_events e
        JOIN curriculum_items i ON i.id = e.item_id JOIN curricula c ON c.id = i.curriculum_id
        WHERE c.archived = 0 AND NOT EXISTS (SELECT 1 FROM curriculum_signoffs s
                                             WHERE s.item_id = e.item_id AND s.user_id = e.user_id)""").fetchall()
    out = []
    for user_id, item_id in rows:
        account = users.get_account(conn, user_id)
        if account.disabled or not may_sign_off(signer, account.organisation_id):
            continue
        item = curricula.get_item(conn, item_id)
        if not curricula.is_assigned(conn, item["curriculum_id"], user_id):
            continue
        state = states(conn, [user_id], [item_id])[(user_id, item_id)]
        if state in ("watched", "done"):
            rid = item["recording_id"]
            rec = recordings.get_many(conn, [rid]).get(rid) if rid is not None else None
            out.append(
                {
                    "user": account.public(),
                    "item": for_viewer(item, rec, signer),
                    "state": state,
                    "curriculum": curricula.get(conn, item["curriculum_id"]),
                }
            )
    out.sort(key=lambda d: (d["curriculum"]["title"], d["user"]["display_name"], d["item"]["position"]))
    return out
