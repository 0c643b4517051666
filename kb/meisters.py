"""The meister registry: one profile per meister (organisations, specialities, certifications,
areas they can visit, availability).  "Who can teach this" is search/teachers.py: it ranks by the
meisters' own recordings through the search index.

Why the profile hangs on the existing ``meisters`` row: recordings and meister accounts
already point at it (recordings.meister_id, users.meister_id), so a profile shows the
meister's recordings without copying anything.  A meister may work with two organisations
(meister_organisations); the programme figures count them once overall and once in each.
Every function that changes something commits its own transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable

from kb import access, programme, users
from kb.access import Viewer
from kb.errors import InputError, NotFound

MAX_NAME = 100
MAX_TEXT = 2000
MAX_YEARS = 80


def _text(value: str | None, what: str, limit: int = MAX_NAME, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InputError(f"{what} is required", code="required", what=what)
    if len(value) > limit:
        raise InputError(f"{what} is too long (at most {limit} characters)", code="too_long", what=what, n=limit)
    return value


def _words(values: Iterable[str] | None, what: str) -> list[str]:
    out = []
    for v in values or ():
        v = _text(v, what)
        if v and v not in out:
            out.append(v)
    return out


def _years(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        years = int(value)
    except (TypeError, ValueError):
        raise InputError(f"years of experience must be a whole number, not {value!r}", code="years") from None
    if not 0 <= years <= MAX_YEARS:
        raise InputError(f"years of experience must be between 0 and {MAX_YEARS}", code="years")
    return years


def get_meister(conn: sqlite3.Connection, meister_id: int) -> dict:
    row = conn.execute("SELECT * FROM meisters WHERE id = ?", (meister_id,)).fetchone()
    if row is None:
        raise NotFound(f"no meister with id {meister_id}")
    return dict(row)


def create_meister(
    conn: sqlite3.Connection,
    name: str,
    *,
    organisation_ids: Iterable[int] = (),
    registered_on: str | None = None,
    **profile,
) -> int:
    """A new meister in the registry (InputError when the name is taken: names are unique)."""
    name = _text(name, "the name", required=True)
    if conn.execute("SELECT 1 FROM meisters WHERE name = ?", (name,)).fetchone():
        raise InputError(f"a meister named {name!r} is registered already", code="meister_taken", name=name)
    registered_on = programme.check_day(registered_on, "the registration date")
    with conn:
        cur = conn.execute("INSERT INTO meisters(name, registered_on) VALUES (?, ?)", (name, registered_on))
    meister_id = int(cur.lastrowid)
    try:
        update_profile(conn, meister_id, organisation_ids=organisation_ids, **profile)
    except Exception:
        with conn:
            conn.execute("DELETE FROM meisters WHERE id = ?", (meister_id,))
        raise
    return meister_id


def update_profile(
    conn: sqlite3.Connection,
    meister_id: int,
    *,
    name: str | None = None,
    years_experience=None,
    availability: str | None = None,
    organisation_ids: Iterable[int] | None = None,
    categories: Iterable[str] | None = None,
    tags: Iterable[str] | None = None,
    areas: Iterable[str] | None = None,
    registered_on: str | None = None,
) -> None:
    """Change the parts given (None leaves a part as it is); all checked before anything is written."""
    get_meister(conn, meister_id)
    fields: dict = {}
    if name is not None:
        fields["name"] = _text(name, "the name", required=True)
        other = conn.execute(
            "SELECT id FROM meisters WHERE name = ? AND id != ?", (fields["name"], meister_id)
        ).fetchone()
        if other:
            raise InputError(
                f"a meister named {fields['name']!r} is registered already", code="meister_taken", name=fields["name"]
            )
    if years_experience is not None:
        fields["years_experience"] = _years(years_experience)
    if availability is not None:
        fields["availability"] = _text(availability, "the availability note", MAX_TEXT)
    if registered_on is not None:
        registered_on = programme.check_day(registered_on, "the registration date")
        if registered_on is None:
            raise InputError("the registration date is required", code="required", what="registration date")
        fields["registered_on"] = registered_on
    if organisation_ids is not None:
        organisation_ids = list(dict.fromkeys(int(o) for o in organisation_ids))
        for oid in organisation_ids:
            if conn.execute("SELECT 1 FROM organisations WHERE id = ?", (oid,)).fetchone() is None:
                raise NotFound(f"no organisation with id {oid}")
    categories = None if categories is None else _words(categories, "a technique category")
    tags = None if tags is None else _words(tags, "a tag")
    areas = None if areas is None else _words(areas, "an area")
    with conn:
        if fields:
            conn.execute(
                f"UPDATE meisters SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                (*fields.values(), meister_id),
            )
        if organisation_ids is not None:
            conn.execute("DELETE FROM meister_organisations WHERE meister_id = ?", (meister_id,))
            conn.executemany(
                "INSERT INTO meister_organisations(meister_id, organisation_id) VALUES (?,?)",
                [(meister_id, o) for o in organisation_ids],
            )
        for kind, values in (("category", categories), ("tag", tags)):
            if values is not None:
                conn.execute("DELETE FROM meister_specialities WHERE meister_id = ? AND kind = ?", (meister_id, kind))
                conn.executemany(
                    "INSERT INTO meister_specialities(meister_id, kind, value) VALUES (?,?,?)",
                    [(meister_id, kind, v) for v in values],
                )
        if areas is not None:
            conn.execute("DELETE FROM meister_areas WHERE meister_id = ?", (meister_id,))
            conn.executemany(
                "INSERT INTO meister_areas(meister_id, area) VALUES (?,?)", [(meister_id, a) for a in areas]
            )


def add_certification(
    conn: sqlite3.Connection, meister_id: int, name: str, trade: str = "", obtained_on: str | None = None
) -> int:
    get_meister(conn, meister_id)
    name = _text(name, "the certification", required=True)
    trade = _text(trade, "the trade")
    obtained_on = programme.check_day(obtained_on, "the date obtained")
    with conn:
        cur = conn.execute(
            "INSERT INTO meister_certifications(meister_id, name, trade, obtained_on) VALUES (?,?,?,?)",
            (meister_id, name, trade, obtained_on),
        )
    return int(cur.lastrowid)


def remove_certification(conn: sqlite3.Connection, certification_id: int) -> None:
    with conn:
        if not conn.execute("DELETE FROM meister_certifications WHERE id = ?", (certification_id,)).rowcount:
            raise NotFound(f"no certification with id {certification_id}")


def organisations_of(conn: sqlite3.Connection, meister_id: int) -> list[dict]:
    rows = conn.execute(
        """SELECT o.id, o.name FROM meister_organisations mo JOIN organisations o
                           ON o.id = mo.organisation_id WHERE mo.meister_id = ? ORDER BY o.id""",
        (meister_id,),
    )
    return [dict(r) for r in rows]


def profile(conn: sqlite3.Connection, meister_id: int, viewer: Viewer = access.SYSTEM) -> dict:
    """The whole profile; ``recordings`` lists only those ``viewer`` may see (kb.access decides)."""
    out = get_meister(conn, meister_id)
    out["organisations"] = organisations_of(conn, meister_id)
    specs = conn.execute(
        "SELECT kind, value FROM meister_specialities WHERE meister_id = ? ORDER BY rowid", (meister_id,)
    ).fetchall()
    out["categories"] = [r["value"] for r in specs if r["kind"] == "category"]
    out["tags"] = [r["value"] for r in specs if r["kind"] == "tag"]
    out["areas"] = [
        r[0] for r in conn.execute("SELECT area FROM meister_areas WHERE meister_id = ? ORDER BY rowid", (meister_id,))
    ]
    out["certifications"] = [
        dict(r)
        for r in conn.execute(
            "SELECT id, name, trade, obtained_on FROM meister_certifications WHERE meister_id = ? ORDER BY id",
            (meister_id,),
        )
    ]
    where, params = access.visible_where(viewer, "r")
    out["recordings"] = [
        dict(r)
        for r in conn.execute(
            f"""SELECT r.id, r.title, r.kind, r.technique, r.status, r.done_at FROM recordings r
            WHERE r.meister_id = ? AND ({where}) ORDER BY r.id""",
            (meister_id, *params),
        )
    ]
    out["accounts"] = [
        dict(r)
        for r in conn.execute(
            "SELECT id, login, display_name FROM users WHERE meister_id = ? ORDER BY id", (meister_id,)
        )
    ]
    return out


def list_meisters(conn: sqlite3.Connection, organisation_id: int | None = None) -> list[dict]:
    """Every meister (or those working with one organisation), by name, with their organisations."""
    if organisation_id is None:
        rows = conn.execute("SELECT * FROM meisters ORDER BY name").fetchall()
    else:
        rows = conn.execute(
            """SELECT m.* FROM meisters m JOIN meister_organisations mo ON mo.meister_id = m.id
                               WHERE mo.organisation_id = ? ORDER BY m.name""",
            (organisation_id,),
        ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["organisations"] = organisations_of(conn, r["id"])
        out.append(d)
    return out


# ---------------------------------------------------------------- the directory and the record pages
# (added for the registry pages, web/views/meisters.py; see docs/meisters.md)


def may_edit(viewer: Viewer, meister_id: int) -> bool:
    """The meister themselves (an account linked to this meister row), coordinators and admins.

    The same people see the names of the technicians a meister coached and the session notes."""
    if viewer.sees_everything:
        return True
    return viewer.is_authenticated and viewer.meister_id is not None and viewer.meister_id == meister_id


def visible_recordings(conn: sqlite3.Connection, meister_id: int, viewer: Viewer) -> list[dict]:
    """The meister's recordings ``viewer`` may open: visible (kb.access) and finished, or unfinished ones
    only to those who may change them (kb.access.visible_recording's rule), newest first."""
    where, params = access.visible_where(viewer, "r")
    rows = conn.execute(
        f"""SELECT r.id, r.title, r.kind, r.technique, r.status, r.done_at, r.created_at, r.meister_id,
                   r.owner_user_id, r.visibility, r.organisation_id
            FROM recordings r WHERE r.meister_id = ? AND {where} ORDER BY r.id DESC""",
        (meister_id, *params),
    )
    out = []
    for r in rows:
        rec = dict(r)
        if rec["status"] == "done" or access.can_edit(viewer, rec):
            out.append({k: rec[k] for k in ("id", "title", "kind", "technique", "status", "done_at", "created_at")})
    return out


def _split(raw: str | None) -> list[str]:
    return [w for w in (raw or "").split() if w]


def directory(
    conn: sqlite3.Connection,
    viewer: Viewer = access.SYSTEM,
    *,
    q: str | None = None,
    category: str | None = None,
    area: str | None = None,
    organisation_id: int | None = None,
) -> list[dict]:
    """The registry as a list, by name: each meister's profile fields and how many finished recordings of
    theirs ``viewer`` may see.

    ``q``: words that must each occur (case-insensitive, part of a word is enough) in the name, a
    speciality or tag, an area or a certification (name or trade).  ``category``: a technique category
    they list.  ``area``: part of an area they can visit.  ``organisation_id``: one they work with."""
    sql, params = "SELECT m.* FROM meisters m WHERE 1", []
    for word in _split(q)[:10]:
        sql += """ AND (instr(lower(m.name), lower(:w{n})) > 0
                   OR EXISTS (SELECT 1 FROM meister_specialities s WHERE s.meister_id = m.id
                              AND instr(lower(s.value), lower(:w{n})) > 0)
                   OR EXISTS (SELECT 1 FROM meister_areas a WHERE a.meister_id = m.id
                              AND instr(lower(a.area), lower(:w{n})) > 0)
                   OR EXISTS (SELECT 1 FROM meister_certifications c WHERE c.meister_id = m.id
                              AND (instr(lower(c.name), lower(:w{n})) > 0 OR instr(lower(c.trade), lower(:w{n})) > 0)))
               """.replace("{n}", str(len(params)))
        params.append(word)
    named = {f"w{i}": w for i, w in enumerate(params)}
    if category and category.strip():
        sql += (
            " AND EXISTS (SELECT 1 FROM meister_specialities s WHERE s.meister_id = m.id"
            " AND s.kind = 'category' AND s.value = :category)"
        )
        named["category"] = category.strip()
    if area and area.strip():
        sql += (
            " AND EXISTS (SELECT 1 FROM meister_areas a WHERE a.meister_id = m.id"
            " AND instr(lower(a.area), lower(:area)) > 0)"
        )
        named["area"] = area.strip()
    if organisation_id is not None:
        sql += (
            " AND EXISTS (SELECT 1 FROM meister_organisations o WHERE o.meister_id = m.id AND o.organisation_id = :org)"
        )
        named["org"] = int(organisation_id)
    rows = conn.execute(sql + " ORDER BY m.name", named).fetchall()
    where, vparams = access.visible_where(viewer, "r")
    counts = dict(
        conn.execute(
            f"SELECT r.meister_id, COUNT(*) FROM recordings r WHERE r.status = 'done' "
            f"AND r.meister_id IS NOT NULL AND {where} GROUP BY r.meister_id",
            vparams,
        ).fetchall()
    )
    out = []
    for r in rows:
        p = profile(conn, r["id"], access.ANONYMOUS)  # the profile's fields; its recordings are counted above
        del p["recordings"], p["accounts"]
        p["recording_count"] = counts.get(r["id"], 0)
        out.append(p)
    return out


def directory_choices(conn: sqlite3.Connection) -> dict:
    """What the directory's filters offer: technique categories, areas and organisations in use."""
    return {
        "categories": [
            r[0]
            for r in conn.execute(
                "SELECT value FROM meister_specialities WHERE kind = 'category' GROUP BY value ORDER BY value"
            )
        ],
        "areas": [r[0] for r in conn.execute("SELECT area FROM meister_areas GROUP BY area ORDER BY area")],
        "organisations": users.organisation_choices(conn),
    }


def meister_choices(conn: sqlite3.Connection) -> list[dict]:
    """Every meister as ``{"id", "name"}``, by name: what a form's meister menu offers."""
    return [dict(r) for r in conn.execute("SELECT id, name FROM meisters ORDER BY name")]


def certification_owner(conn: sqlite3.Connection, certification_id: int) -> int | None:
    """The meister a certification belongs to (None: no such certification)."""
    row = conn.execute("SELECT meister_id FROM meister_certifications WHERE id = ?", (certification_id,)).fetchone()
    return None if row is None else row[0]


def _fiscal_year_of_day(day: str) -> int:
    return int(day[:4]) if int(day[5:7]) >= 4 else int(day[:4]) - 1


def record(conn: sqlite3.Connection, meister_id: int, viewer: Viewer = access.SYSTEM) -> dict:
    """The meister's record: confirmed coaching sessions over time (per fiscal year and month: sessions,
    hours), the technicians coached, and the recordings made per fiscal year (those ``viewer`` may see).

    ``detailed`` (may_edit: the meister, coordinators, admins): the technicians' names and the session
    notes are included; everyone else gets counts only."""
    from kb import coaching

    get_meister(conn, meister_id)
    detailed = may_edit(viewer, meister_id)
    sessions = coaching.list_sessions(conn, meister_id=meister_id, confirmed=True)
    years: dict[int, dict] = {}
    technicians: dict[int, dict] = {}
    shown = []
    for s in sessions:
        fy = _fiscal_year_of_day(s["held_on"])
        year = years.setdefault(
            fy, {"fiscal_year": fy, "sessions": 0, "hours": 0.0, "technicians": set(), "months": {}, "recordings": 0}
        )
        month = year["months"].setdefault(s["held_on"][:7], {"month": s["held_on"][:7], "sessions": 0, "hours": 0.0})
        for bucket in (year, month):
            bucket["sessions"] += 1
            bucket["hours"] += s["hours"]
        for t in s["technicians"]:
            year["technicians"].add(t["id"])
            person = technicians.setdefault(
                t["id"],
                {
                    "id": t["id"],
                    "display_name": t["display_name"] or t["login"],
                    "sessions": 0,
                    "hours": 0.0,
                    "last": s["held_on"],
                },
            )
            person["sessions"] += 1
            person["hours"] += s["hours"]
            person["last"] = max(person["last"], s["held_on"])
        entry = {
            "id": s["id"],
            "held_on": s["held_on"],
            "fiscal_year": fy,
            "organisation": s["organisation"],
            "technique": s["technique"],
            "hours": s["hours"],
            "technician_count": len(s["technicians"]),
        }
        if detailed:
            entry["technicians"] = [t["display_name"] or t["login"] for t in s["technicians"]]
            entry["notes"] = s["notes"]
        shown.append(entry)
    for rec in visible_recordings(conn, meister_id, viewer):
        day = programme.japan_day(rec["done_at"]) if rec["status"] == "done" else None
        if day:
            fy = _fiscal_year_of_day(day)
            years.setdefault(
                fy,
                {"fiscal_year": fy, "sessions": 0, "hours": 0.0, "technicians": set(), "months": {}, "recordings": 0},
            )["recordings"] += 1
    by_year = []
    for fy in sorted(years, reverse=True):
        y = years[fy]
        # months in fiscal-year order (April first), only those with sessions
        months = sorted(y["months"].values(), key=lambda m: m["month"])
        by_year.append(
            {
                "fiscal_year": fy,
                "sessions": y["sessions"],
                "hours": round(y["hours"], 2),
                "technicians": len(y["technicians"]),
                "recordings": y["recordings"],
                "months": [dict(m, hours=round(m["hours"], 2)) for m in months],
            }
        )
    out = {
        "detailed": detailed,
        "sessions": shown,
        "by_year": by_year,
        "totals": {
            "sessions": len(sessions),
            "hours": round(sum(s["hours"] for s in sessions), 2),
            "technicians": len(technicians),
        },
    }
    if detailed:
        out["technicians"] = sorted(
            ({**t, "hours": round(t["hours"], 2)} for t in technicians.values()),
            key=lambda t: (-t["sessions"], t["display_name"]),
        )
        out["unconfirmed"] = len(coaching.list_sessions(conn, meister_id=meister_id, confirmed=False))
    return out


def unlinked_accounts(conn: sqlite3.Connection) -> list[dict]:
    """Meister accounts not linked to any meister row (e.g. made a meister after being created)."""
    return [
        dict(r)
        for r in conn.execute(
            """SELECT u.id, u.login, u.display_name, o.name AS organisation FROM users u
           JOIN organisations o ON o.id = u.organisation_id
           WHERE u.role = 'meister' AND u.meister_id IS NULL AND u.disabled = 0 ORDER BY u.display_name, u.id"""
        )
    ]


def check_link(conn: sqlite3.Connection, user_id: int) -> None:
    """InputError unless ``user_id`` is a meister account with no meister row yet (NotFound if no such user)."""
    row = conn.execute("SELECT role, meister_id FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    if row["role"] != "meister":
        raise InputError("only a meister account can be linked to a meister", code="link_role")
    if row["meister_id"] is not None:
        raise InputError("that account is linked to a meister already", code="link_taken")


def link_account(conn: sqlite3.Connection, meister_id: int, user_id: int) -> None:
    """Link a meister account that has no meister row to this meister (their recordings, their profile)."""
    get_meister(conn, meister_id)
    check_link(conn, user_id)
    with conn:
        conn.execute("UPDATE users SET meister_id = ? WHERE id = ?", (meister_id, user_id))
