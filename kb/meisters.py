"""The meister registry: one profile per meister (organisations, specialities, certifications,
areas they can visit, availability) and "who can teach this".

Why the profile hangs on the existing ``meisters`` row: recordings and meister accounts
already point at it (recordings.meister_id, users.meister_id), so a profile shows the
meister's recordings without copying anything.  A meister may work with two organisations
(meister_organisations); the programme figures count them once overall and once in each.
Every function that changes something commits its own transaction.
"""
from __future__ import annotations

import sqlite3
from typing import Iterable

from kb import access, programme
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


def create_meister(conn: sqlite3.Connection, name: str, *, organisation_ids: Iterable[int] = (),
                   registered_on: str | None = None, **profile) -> int:
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


def update_profile(conn: sqlite3.Connection, meister_id: int, *, name: str | None = None,
                   years_experience=None, availability: str | None = None,
                   organisation_ids: Iterable[int] | None = None, categories: Iterable[str] | None = None,
                   tags: Iterable[str] | None = None, areas: Iterable[str] | None = None,
                   registered_on: str | None = None) -> None:
    """Change the parts given (None leaves a part as it is); all checked before anything is written."""
    get_meister(conn, meister_id)
    fields: dict = {}
    if name is not None:
        fields["name"] = _text(name, "the name", required=True)
        other = conn.execute("SELECT id FROM meisters WHERE name = ? AND id != ?",
                             (fields["name"], meister_id)).fetchone()
        if other:
            raise InputError(f"a meister named {fields['name']!r} is registered already", code="meister_taken",
                             name=fields["name"])
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
            conn.execute(f"UPDATE meisters SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                         (*fields.values(), meister_id))
        if organisation_ids is not None:
            conn.execute("DELETE FROM meister_organisations WHERE meister_id = ?", (meister_id,))
            conn.executemany("INSERT INTO meister_organisations(meister_id, organisation_id) VALUES (?,?)",
                             [(meister_id, o) for o in organisation_ids])
        for kind, values in (("category", categories), ("tag", tags)):
            if values is not None:
                conn.execute("DELETE FROM meister_specialities WHERE meister_id = ? AND kind = ?", (meister_id, kind))
                conn.executemany("INSERT INTO meister_specialities(meister_id, kind, value) VALUES (?,?,?)",
                                 [(meister_id, kind, v) for v in values])
        if areas is not None:
            conn.execute("DELETE FROM meister_areas WHERE meister_id = ?", (meister_id,))
            conn.executemany("INSERT INTO meister_areas(meister_id, area) VALUES (?,?)",
                             [(meister_id, a) for a in areas])


def add_certification(conn: sqlite3.Connection, meister_id: int, name: str, trade: str = "",
                      obtained_on: str | None = None) -> int:
    get_meister(conn, meister_id)
    name = _text(name, "the certification", required=True)
    trade = _text(trade, "the trade")
    obtained_on = programme.check_day(obtained_on, "the date obtained")
    with conn:
        cur = conn.execute("INSERT INTO meister_certifications(meister_id, name, trade, obtained_on) VALUES (?,?,?,?)",
                           (meister_id, name, trade, obtained_on))
    return int(cur.lastrowid)


def remove_certification(conn: sqlite3.Connection, certification_id: int) -> None:
    with conn:
        if not conn.execute("DELETE FROM meister_certifications WHERE id = ?", (certification_id,)).rowcount:
            raise NotFound(f"no certification with id {certification_id}")


def organisations_of(conn: sqlite3.Connection, meister_id: int) -> list[dict]:
    rows = conn.execute("""SELECT o.id, o.name FROM meister_organisations mo JOIN organisations o
                           ON o.id = mo.organisation_id WHERE mo.meister_id = ? ORDER BY o.id""", (meister_id,))
    return [dict(r) for r in rows]


def profile(conn: sqlite3.Connection, meister_id: int, viewer: Viewer = access.SYSTEM) -> dict:
    """The whole profile; ``recordings`` lists only those ``viewer`` may see (kb.access decides)."""
    out = get_meister(conn, meister_id)
    out["organisations"] = organisations_of(conn, meister_id)
    specs = conn.execute("SELECT kind, value FROM meister_specialities WHERE meister_id = ? ORDER BY rowid",
                         (meister_id,)).fetchall()
    out["categories"] = [r["value"] for r in specs if r["kind"] == "category"]
    out["tags"] = [r["value"] for r in specs if r["kind"] == "tag"]
    out["areas"] = [r[0] for r in conn.execute("SELECT area FROM meister_areas WHERE meister_id = ? ORDER BY rowid",
                                               (meister_id,))]
    out["certifications"] = [dict(r) for r in conn.execute(
        "SELECT id, name, trade, obtained_on FROM meister_certifications WHERE meister_id = ? ORDER BY id",
        (meister_id,))]
    where, params = access.visible_where(viewer, "r")
    out["recordings"] = [dict(r) for r in conn.execute(
        f"""SELECT r.id, r.title, r.kind, r.technique, r.status, r.done_at FROM recordings r
            WHERE r.meister_id = ? AND ({where}) ORDER BY r.id""", (meister_id, *params))]
    out["accounts"] = [dict(r) for r in conn.execute(
        "SELECT id, login, display_name FROM users WHERE meister_id = ? ORDER BY id", (meister_id,))]
    return out


def list_meisters(conn: sqlite3.Connection, organisation_id: int | None = None) -> list[dict]:
    """Every meister (or those working with one organisation), by name, with their organisations."""
    if organisation_id is None:
        rows = conn.execute("SELECT * FROM meisters ORDER BY name").fetchall()
    else:
        rows = conn.execute("""SELECT m.* FROM meisters m JOIN meister_organisations mo ON mo.meister_id = m.id
                               WHERE mo.organisation_id = ? ORDER BY m.name""", (organisation_id,)).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["organisations"] = organisations_of(conn, r["id"])
        out.append(d)
    return out


def who_can_teach(conn: sqlite3.Connection, technique: str, *, area: str | None = None,
                  organisation_id: int | None = None) -> list[dict]:
    """Meisters with ``technique`` as a category or tag, or with a finished recording of it; optionally
    only those who can visit ``area`` or work with an organisation.  Most recordings of it first."""
    technique = _text(technique, "the technique", required=True)
    sql = """SELECT m.id, m.name,
                    (SELECT COUNT(*) FROM recordings r WHERE r.meister_id = m.id AND r.status = 'done'
                     AND r.technique = :t) AS recordings,
                    EXISTS (SELECT 1 FROM meister_specialities s WHERE s.meister_id = m.id AND s.value = :t)
                        AS speciality
             FROM meisters m WHERE (speciality OR recordings > 0)"""
    params: dict = {"t": technique}
    if area:
        sql += " AND EXISTS (SELECT 1 FROM meister_areas a WHERE a.meister_id = m.id AND a.area = :area)"
        params["area"] = area.strip()
    if organisation_id is not None:
        sql += (" AND EXISTS (SELECT 1 FROM meister_organisations o WHERE o.meister_id = m.id"
                " AND o.organisation_id = :org)")
        params["org"] = organisation_id
    sql += " ORDER BY recordings DESC, m.name"
    return [dict(r) | {"speciality": bool(r["speciality"])} for r in conn.execute(sql, params)]
