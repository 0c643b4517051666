"""What waits for me: the one list on the home page of what each person has to do next.

Why per role: each role has its own kind of waiting work, and finding it today means knowing
which page to open.

- a meister: the practical checks waiting for their sign-off (the technicians of their own
  organisation who watched or marked an item done; kb.curricula_progress.pending_signoffs);
- everyone with assigned curricula (apprentices above all): the items not done yet of the
  curricula due within ``due_days`` days, and of the overdue ones;
- coordinators and admins: coaching sessions nobody has confirmed yet (only confirmed ones count
  in the programme's figures), and processed recordings whose transcript looks incomplete
  (kb.speech_checks: far fewer characters than the speech, usually a wrong language or model).

Each list is cut at ``limit`` entries; the counts say how many there are in all, and the page
links to the full list.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

from kb import coaching, curricula, curricula_progress as progress, speech_checks
from kb.access import Viewer

BATCH = 500


def due_items(conn: sqlite3.Connection, user_id: int, today: date, due_days: int) -> list[dict]:
    """The user's curricula due by today + due_days (overdue first) that are not completed, each with the
    items still to do (not done and openable): [{curriculum, due_date, overdue, days, items}]."""
    horizon = (today + timedelta(days=max(0, due_days))).isoformat()
    out = []
    for c in curricula.curricula_for_user(conn, user_id):
        due = c.get("due_date")
        if not due or due > horizon:
            continue
        p = progress.user_progress(conn, c["id"], user_id)
        if p["completed"]:
            continue
        todo = [it for it in p["items"] if it["state"] in ("not_started", "watched") and it["flag"] is None]
        if not todo:
            continue
        days = (date.fromisoformat(due) - today).days
        out.append(
            {
                "curriculum": {"id": c["id"], "title": c["title"]},
                "due_date": due,
                "overdue": days < 0,
                "days": days,
                "items": todo,
                "count": len(todo),
            }
        )
    out.sort(key=lambda d: (d["due_date"], d["curriculum"]["title"]))
    return out


def incomplete_transcripts(conn: sqlite3.Connection) -> list[dict]:
    """Processed recordings whose transcript looks incomplete, newest first: {id, title, meister, check}."""
    ids = [
        r[0]
        for r in conn.execute("SELECT id FROM recordings WHERE status = 'done' AND kind != 'document' ORDER BY id DESC")
    ]
    found: dict[int, dict] = {}
    for i in range(0, len(ids), BATCH):
        found.update(speech_checks.incomplete(conn, ids[i : i + BATCH]))
    if not found:
        return []
    marks = ",".join("?" * len(found))
    rows = conn.execute(
        f"""SELECT r.id, r.title, m.name AS meister FROM recordings r
                            LEFT JOIN meisters m ON m.id = r.meister_id WHERE r.id IN ({marks})
                            ORDER BY r.id DESC""",
        list(found),
    )
    return [{"id": r["id"], "title": r["title"], "meister": r["meister"], "check": found[r["id"]]} for r in rows]


def for_viewer(conn: sqlite3.Connection, viewer: Viewer, *, today: date, due_days: int = 7, limit: int = 10) -> dict:
    """{"signoffs", "due", "coaching", "incomplete"}: each {"shown": the first ``limit``, "count": all}, or None
    where the list is not this role's; "total" counts every entry."""
    lists: dict[str, list | None] = {"signoffs": None, "due": None, "coaching": None, "incomplete": None}
    if viewer.user_id is not None:
        lists["due"] = due_items(conn, viewer.user_id, today, due_days)
    if viewer.role == "meister":
        lists["signoffs"] = progress.pending_signoffs(conn, viewer)
    if viewer.at_least("coordinator"):
        lists["coaching"] = coaching.list_sessions(conn, confirmed=False)
        lists["incomplete"] = incomplete_transcripts(conn)
    out: dict = {k: (None if v is None else {"shown": v[:limit], "count": len(v)}) for k, v in lists.items()}
    out["total"] = sum(v["count"] for v in out.values() if isinstance(v, dict))
    return out
