"""Curricula: ordered lists of recorded moments that coordinators build and assign.

Why items keep a snapshot (title, kind, times, technique, sha256, text): a
recording can be deleted or hidden after it was put in a curriculum.  The item
must then still be shown, flagged, so the coordinator sees what is missing and
a technician's sign-offs keep their meaning; ``recording_id`` becomes NULL on
delete (ON DELETE SET NULL) and the snapshot says what it was.

Order: a curriculum has items outside any section first, then its sections in
order; inside each group items have a position.  The whole order is one
"layout" ``[(section_id or None, [item ids])]``: the keyboard buttons move an
item one place (across a section border too) and drag and drop sends the whole
layout, both through :func:`set_layout`, which checks it names exactly the
curriculum's items and sections.

Progress, sign-offs and the skills matrix are in kb.curricula_progress;
suggestions in kb.curricula_suggest; export and import in kb.curricula_export.
Every function that changes something commits its own transaction.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Iterable, Sequence

from kb import recordings
from kb.db import NOW_SQL
from kb.errors import InputError, NotFound

LEVELS = ("", "basic", "intermediate", "advanced")
ITEM_KINDS = ("recording", "moment", "passage")
MAX_TITLE = 200
MAX_TEXT = 4000
MAX_EXCERPT = 300
DEFAULT_MOMENT_SECONDS = 60.0  # a moment added without an end: one minute, cut at the recording's end
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Layout = list[tuple[int | None, list[int]]]


# ---------------------------------------------------------------- checking input


def _text(value: str | None, what: str, limit: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InputError(f"{what} is required", code="required", what=what)
    if len(value) > limit:
        raise InputError(f"{what} is too long (at most {limit} characters)", code="too_long", what=what, n=limit)
    return value


def _level(value: str | None) -> str:
    value = (value or "").strip()
    if value not in LEVELS:
        raise InputError(f"unknown skill level {value!r} (one of: basic, intermediate, advanced)", code="level")
    return value


def check_day(value: str | None, what: str = "the date", code: str = "date") -> str | None:
    """A day as YYYY-MM-DD, or None for an empty value; InputError naming ``what`` otherwise."""
    value = (value or "").strip()
    if not value:
        return None
    from datetime import date

    try:
        if not DATE.fullmatch(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{what} {value!r} is not a date (write it as 2025-04-30)", code=code, what=what, value=value
        ) from None
    return value


def check_date(value: str | None) -> str | None:
    """A due date as YYYY-MM-DD, or None for none."""
    return check_day(value, "due date", code="due_date")


# ---------------------------------------------------------------- curricula


def create(
    conn: sqlite3.Connection,
    *,
    title: str,
    goal: str = "",
    level: str = "",
    description: str = "",
    created_by: int | None = None,
    copied_from: int | None = None,
) -> int:
    title = _text(title, "title", MAX_TITLE, required=True)
    values = (
        title,
        _text(goal, "goal", MAX_TEXT),
        _level(level),
        _text(description, "description", MAX_TEXT),
        created_by,
        copied_from,
    )
    with conn:
        cur = conn.execute(
            "INSERT INTO curricula(title, goal, level, description, created_by, copied_from) VALUES (?,?,?,?,?,?)",
            values,
        )
    return int(cur.lastrowid)


def update(
    conn: sqlite3.Connection, curriculum_id: int, *, title: str, goal: str = "", level: str = "", description: str = ""
) -> None:
    get(conn, curriculum_id)
    values = (
        _text(title, "title", MAX_TITLE, required=True),
        _text(goal, "goal", MAX_TEXT),
        _level(level),
        _text(description, "description", MAX_TEXT),
        curriculum_id,
    )
    with conn:
        conn.execute(
            "UPDATE curricula SET title = ?, goal = ?, level = ?, description = ?, "
            f"updated_at = {NOW_SQL} WHERE id = ?",
            values,
        )


def get(conn: sqlite3.Connection, curriculum_id: int) -> dict:
    row = conn.execute("SELECT * FROM curricula WHERE id = ?", (curriculum_id,)).fetchone()
    if row is None:
        raise NotFound(f"no curriculum with id {curriculum_id}")
    return dict(row)


def list_curricula(conn: sqlite3.Connection, archived: bool | None = False) -> list[dict]:
    """Curricula with their item and assignment counts (archived: False = current, True = archived, None = all)."""
    where = "" if archived is None else f"WHERE c.archived = {int(bool(archived))}"
    rows = conn.execute(f"""
        SELECT c.*, (SELECT COUNT(*) FROM curriculum_items i WHERE i.curriculum_id = c.id) AS item_count,
               (SELECT COUNT(*) FROM curriculum_assignments a WHERE a.curriculum_id = c.id) AS assignment_count
        FROM curricula c {where} ORDER BY c.title COLLATE NOCASE, c.id""").fetchall()
    return [dict(r) for r in rows]


def set_archived(conn: sqlite3.Connection, curriculum_id: int, archived: bool = True) -> None:
    """Archived curricula leave the lists and "my learning"; their progress is kept (unarchive brings it back)."""
    get(conn, curriculum_id)
    with conn:
        conn.execute(
            f"UPDATE curricula SET archived = ?, updated_at = {NOW_SQL} WHERE id = ?",
            (int(bool(archived)), curriculum_id),
        )


def copy(
    conn: sqlite3.Connection, curriculum_id: int, *, title: str | None = None, created_by: int | None = None
) -> int:
    """A new curriculum with the same fields, sections and items (not its assignments or progress)."""
    src = get(conn, curriculum_id)
    new_title = title or f"{src['title']} (copy)"
    new_id = create(
        conn,
        title=new_title[:MAX_TITLE],
        goal=src["goal"],
        level=src["level"],
        description=src["description"],
        created_by=created_by,
        copied_from=curriculum_id,
    )
    with conn:
        section_map: dict[int, int] = {}
        for s in sections(conn, curriculum_id):
            cur = conn.execute(
                "INSERT INTO curriculum_sections(curriculum_id, title, position) VALUES (?,?,?)",
                (new_id, s["title"], s["position"]),
            )
            section_map[s["id"]] = int(cur.lastrowid)
        for it in items(conn, curriculum_id):
            conn.execute(
                """INSERT INTO curriculum_items(curriculum_id, section_id, position, kind, recording_id,
                                start, end, page, chunk_id, title, recording_kind, technique, excerpt, sha256,
                                note, required)
                            SELECT ?, ?, position, kind, recording_id, start, end, page, chunk_id, title,
                                recording_kind, technique, excerpt, sha256, note, required
                            FROM curriculum_items WHERE id = ?""",
                (new_id, section_map.get(it["section_id"]), it["id"]),
            )
    return new_id


def curricula_using(conn: sqlite3.Connection, recording_id: int) -> list[dict]:
    """The curricula with an item of this recording: [{"id", "title", "archived"}] (for the delete page)."""
    rows = conn.execute(
        """SELECT DISTINCT c.id, c.title, c.archived FROM curricula c
                           JOIN curriculum_items i ON i.curriculum_id = c.id
                           WHERE i.recording_id = ? ORDER BY c.title""",
        (recording_id,),
    ).fetchall()
    return [dict(r) for r in rows]


# ---------------------------------------------------------------- sections


def sections(conn: sqlite3.Connection, curriculum_id: int) -> list[dict]:
    return [
        dict(r)
        for r in conn.execute(
            "SELECT * FROM curriculum_sections WHERE curriculum_id = ? ORDER BY position, id", (curriculum_id,)
        )
    ]


def get_section(conn: sqlite3.Connection, section_id: int) -> dict:
    row = conn.execute("SELECT * FROM curriculum_sections WHERE id = ?", (section_id,)).fetchone()
    if row is None:
        raise NotFound(f"no section with id {section_id}")
    return dict(row)


def add_section(conn: sqlite3.Connection, curriculum_id: int, title: str) -> int:
    get(conn, curriculum_id)
    title = _text(title, "section title", MAX_TITLE, required=True)
    with conn:
        position = conn.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM curriculum_sections WHERE curriculum_id = ?", (curriculum_id,)
        ).fetchone()[0]
        cur = conn.execute(
            "INSERT INTO curriculum_sections(curriculum_id, title, position) VALUES (?,?,?)",
            (curriculum_id, title, position),
        )
    return int(cur.lastrowid)


def rename_section(conn: sqlite3.Connection, section_id: int, title: str) -> None:
    get_section(conn, section_id)
    title = _text(title, "section title", MAX_TITLE, required=True)
    with conn:
        conn.execute("UPDATE curriculum_sections SET title = ? WHERE id = ?", (title, section_id))


def remove_section(conn: sqlite3.Connection, section_id: int) -> None:
    """The section goes; its items stay, moved to the end of the items outside sections."""
    section = get_section(conn, section_id)
    layout_now = layout(conn, section["curriculum_id"])
    moved = next(ids for sid, ids in layout_now if sid == section_id)
    new_layout = [(sid, ids + moved if sid is None else ids) for sid, ids in layout_now if sid != section_id]
    with conn:
        _write_layout(conn, new_layout)
        conn.execute("DELETE FROM curriculum_sections WHERE id = ?", (section_id,))


# ---------------------------------------------------------------- items


def items(conn: sqlite3.Connection, curriculum_id: int) -> list[dict]:
    """The items in curriculum order (outside sections first, then section by section), with section titles."""
    rows = conn.execute(
        """
        SELECT i.*, s.title AS section_title, s.position AS section_position
        FROM curriculum_items i LEFT JOIN curriculum_sections s ON s.id = i.section_id
        WHERE i.curriculum_id = ?
        ORDER BY (s.id IS NOT NULL), s.position, s.id, i.position, i.id""",
        (curriculum_id,),
    ).fetchall()
    return [dict(r) for r in rows]


def curricula_of_items(conn: sqlite3.Connection, item_ids: Iterable[int]) -> set[int]:
    """The ids of the curricula the given items belong to."""
    ids = sorted(set(item_ids))
    if not ids:
        return set()
    return {
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT curriculum_id FROM curriculum_items WHERE id IN ({','.join('?' * len(ids))})", ids
        )
    }


def get_item(conn: sqlite3.Connection, item_id: int) -> dict:
    row = conn.execute("SELECT * FROM curriculum_items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise NotFound(f"no curriculum item with id {item_id}")
    return dict(row)


def outline(conn: sqlite3.Connection, curriculum_id: int) -> list[dict]:
    """[{"section": None or section dict, "items": [...]}]: the groups as shown, empty sections included."""
    groups: dict[int | None, dict] = {None: {"section": None, "items": []}}
    for s in sections(conn, curriculum_id):
        groups[s["id"]] = {"section": s, "items": []}
    for it in items(conn, curriculum_id):
        groups[it["section_id"]]["items"].append(it)
    return list(groups.values())


def _excerpt(
    conn: sqlite3.Connection,
    recording_id: int,
    start: float | None,
    end: float | None,
    page: int | None,
    chunk_id: int | None,
) -> str:
    """The words of the moment or passage, for the item's snapshot (shown when the recording is gone)."""
    if chunk_id is not None:
        row = conn.execute(
            "SELECT text FROM chunks WHERE id = ? AND recording_id = ?", (chunk_id, recording_id)
        ).fetchone()
        if row is not None:
            return row[0][:MAX_EXCERPT]
    segs = recordings.segments(conn, recording_id)
    if start is not None:
        stop = end if end is not None else start + DEFAULT_MOMENT_SECONDS
        segs = [
            s
            for s in segs
            if s["start"] is not None
            and s["start"] < stop
            and (s["end"] if s["end"] is not None else s["start"]) >= start
        ]
    elif page is not None:
        segs = [s for s in segs if s["page"] == page]
    return " ".join(s["text"] for s in segs)[:MAX_EXCERPT]


def add_item(
    conn: sqlite3.Connection,
    curriculum_id: int,
    recording_id: int,
    *,
    start: float | None = None,
    end: float | None = None,
    page: int | None = None,
    chunk_id: int | None = None,
    note: str = "",
    required: bool = True,
    section_id: int | None = None,
) -> int:
    """Add a whole recording, a moment (``start``..``end`` seconds) or a passage (``page`` / ``chunk_id``),
    at the end of its group.  The caller checks the adding user may see the recording."""
    get(conn, curriculum_id)
    rec = recordings.get(conn, recording_id)
    note = _text(note, "note", MAX_TEXT)
    if section_id is not None and get_section(conn, section_id)["curriculum_id"] != curriculum_id:
        raise InputError("that section belongs to another curriculum", code="section_elsewhere")
    if start is not None:
        kind = "moment"
        start = max(0.0, float(start))
        duration = rec.get("duration")
        if end is None:
            end = start + DEFAULT_MOMENT_SECONDS
            if duration:
                end = min(end, float(duration))
        end = float(end)
        if end <= start:
            raise InputError("a moment's end must come after its start", code="moment_order")
        page = chunk_id = None
    elif page is not None or chunk_id is not None:
        kind = "passage"
        end = None
    else:
        kind = "recording"
        end = None
    excerpt = _excerpt(conn, recording_id, start, end, page, chunk_id)
    with conn:
        position = conn.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM curriculum_items WHERE curriculum_id = ? AND section_id IS ?",
            (curriculum_id, section_id),
        ).fetchone()[0]
        cur = conn.execute(
            """INSERT INTO curriculum_items(curriculum_id, section_id, position, kind, recording_id,
                                  start, end, page, chunk_id, title, recording_kind, technique, excerpt, sha256,
                                  note, required)
                              VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (
                curriculum_id,
                section_id,
                position,
                kind,
                recording_id,
                start,
                end,
                page,
                chunk_id,
                rec["title"],
                rec["kind"],
                rec.get("technique"),
                excerpt,
                rec["sha256"],
                note,
                int(bool(required)),
            ),
        )
        _touch(conn, curriculum_id)
    return int(cur.lastrowid)


def update_item(conn: sqlite3.Connection, item_id: int, *, note: str, required: bool) -> None:
    item = get_item(conn, item_id)
    with conn:
        conn.execute(
            "UPDATE curriculum_items SET note = ?, required = ? WHERE id = ?",
            (_text(note, "note", MAX_TEXT), int(bool(required)), item_id),
        )
        _touch(conn, item["curriculum_id"])


def remove_item(conn: sqlite3.Connection, item_id: int) -> None:
    """The item goes, with its progress and sign-offs (ON DELETE CASCADE)."""
    item = get_item(conn, item_id)
    with conn:
        conn.execute("DELETE FROM curriculum_items WHERE id = ?", (item_id,))
        _touch(conn, item["curriculum_id"])


def _touch(conn: sqlite3.Connection, curriculum_id: int) -> None:
    conn.execute(f"UPDATE curricula SET updated_at = {NOW_SQL} WHERE id = ?", (curriculum_id,))


# ---------------------------------------------------------------- order


def layout(conn: sqlite3.Connection, curriculum_id: int) -> Layout:
    """[(None, [item ids outside sections]), (section id, [item ids]), ...] in the order shown."""
    return [
        (g["section"]["id"] if g["section"] else None, [it["id"] for it in g["items"]])
        for g in outline(conn, curriculum_id)
    ]


def set_layout(conn: sqlite3.Connection, curriculum_id: int, new_layout: Sequence) -> None:
    """Reorder sections and items at once (drag and drop sends this).  It must name every item and every
    section of the curriculum exactly once, the outside-sections group (None) first, or nothing changes."""
    current = layout(conn, curriculum_id)
    try:
        parsed = [(None if sid is None else int(sid), [int(i) for i in ids]) for sid, ids in new_layout]
    except (TypeError, ValueError):
        raise InputError("the new order is not a list of (section, items)") from None
    sections_now = sorted(sid for sid, _ in current if sid is not None)
    items_now = sorted(i for _, ids in current for i in ids)
    sections_new = [sid for sid, _ in parsed if sid is not None]
    items_new = [i for _, ids in parsed for i in ids]
    if (
        not parsed
        or parsed[0][0] is not None
        or sorted(sections_new) != sections_now
        or sorted(items_new) != items_now
        or len(set(items_new)) != len(items_new)
    ):
        raise InputError("the curriculum changed meanwhile: reload the page and try again", code="changed")
    with conn:
        _write_layout(conn, parsed)
        _touch(conn, curriculum_id)


def _write_layout(conn: sqlite3.Connection, new_layout: Layout) -> None:
    section_position = 0
    for sid, ids in new_layout:
        if sid is not None:
            conn.execute("UPDATE curriculum_sections SET position = ? WHERE id = ?", (section_position, sid))
            section_position += 1
        for position, item_id in enumerate(ids):
            conn.execute(
                "UPDATE curriculum_items SET section_id = ?, position = ? WHERE id = ?", (sid, position, item_id)
            )


def move_item(conn: sqlite3.Connection, item_id: int, delta: int) -> None:
    """One place up (-1) or down (+1) in the order shown; past the top or bottom of its section it moves
    into the neighbouring group (the keyboard alternative to dragging).  At either end nothing changes."""
    item = get_item(conn, item_id)
    groups = layout(conn, item["curriculum_id"])
    g = next(n for n, (_, ids) in enumerate(groups) if item_id in ids)
    ids = groups[g][1]
    i = ids.index(item_id)
    j = i + (1 if delta > 0 else -1)
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
    elif j < 0 and g > 0:
        ids.pop(i)
        groups[g - 1][1].append(item_id)
    elif j >= len(ids) and g + 1 < len(groups):
        ids.pop(i)
        groups[g + 1][1].insert(0, item_id)
    else:
        return
    set_layout(conn, item["curriculum_id"], groups)


def move_section(conn: sqlite3.Connection, section_id: int, delta: int) -> None:
    section = get_section(conn, section_id)
    groups = layout(conn, section["curriculum_id"])
    g = next(n for n, (sid, _) in enumerate(groups) if sid == section_id)
    h = g + (1 if delta > 0 else -1)
    if h < 1 or h >= len(groups):  # group 0 (outside sections) stays first
        return
    groups[g], groups[h] = groups[h], groups[g]
    set_layout(conn, section["curriculum_id"], groups)


# ---------------------------------------------------------------- cohorts


def create_cohort(
    conn: sqlite3.Connection, name: str, organisation_id: int | None = None, members: Iterable[int] = ()
) -> int:
    name = _text(name, "cohort name", MAX_TITLE, required=True)
    members = list(members)
    check_assignable(conn, members)
    if conn.execute("SELECT 1 FROM cohorts WHERE name = ?", (name,)).fetchone():
        raise InputError(f"there is already a cohort called {name!r}", code="cohort_exists", name=name)
    with conn:
        cur = conn.execute("INSERT INTO cohorts(name, organisation_id) VALUES (?, ?)", (name, organisation_id))
        cohort_id = int(cur.lastrowid)
        conn.executemany(
            "INSERT OR IGNORE INTO cohort_members(cohort_id, user_id) VALUES (?, ?)",
            [(cohort_id, int(u)) for u in members],
        )
    return cohort_id


def get_cohort(conn: sqlite3.Connection, cohort_id: int) -> dict:
    row = conn.execute("SELECT * FROM cohorts WHERE id = ?", (cohort_id,)).fetchone()
    if row is None:
        raise NotFound(f"no cohort with id {cohort_id}")
    return dict(row)


def list_cohorts(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute("""SELECT c.*, o.name AS organisation,
                               (SELECT COUNT(*) FROM cohort_members m WHERE m.cohort_id = c.id) AS member_count
                           FROM cohorts c LEFT JOIN organisations o ON o.id = c.organisation_id
                           ORDER BY c.name""").fetchall()
    return [dict(r) for r in rows]


def set_members(conn: sqlite3.Connection, cohort_id: int, user_ids: Iterable[int]) -> None:
    get_cohort(conn, cohort_id)
    user_ids = list(user_ids)
    check_assignable(conn, user_ids)
    with conn:
        conn.execute("DELETE FROM cohort_members WHERE cohort_id = ?", (cohort_id,))
        conn.executemany(
            "INSERT OR IGNORE INTO cohort_members(cohort_id, user_id) VALUES (?, ?)",
            [(cohort_id, int(u)) for u in user_ids],
        )


def cohort_members(conn: sqlite3.Connection, cohort_id: int) -> list[int]:
    return [
        r[0]
        for r in conn.execute("SELECT user_id FROM cohort_members WHERE cohort_id = ? ORDER BY user_id", (cohort_id,))
    ]


# ---------------------------------------------------------------- assignments

# Who may be given a curriculum (directly or as a member of a cohort): the people who learn a technique —
# apprentices, and meisters taking up a neighbouring one.  Coordinators and administrators run the
# programme rather than follow it, and a disabled account cannot open "My learning" (issue 14, item 10).
ASSIGNABLE_ROLES = ("apprentice", "meister")


def assignable_people(conn: sqlite3.Connection) -> list[dict]:
    """The active accounts a curriculum may be assigned to, apprentices first, then by organisation and name:
    what the assign form and the cohort form offer."""
    marks = ",".join("?" * len(ASSIGNABLE_ROLES))
    rows = conn.execute(
        f"""SELECT u.id, u.login, u.display_name, u.role, u.organisation_id, o.name AS organisation
                            FROM users u JOIN organisations o ON o.id = u.organisation_id
                            WHERE u.disabled = 0 AND u.role IN ({marks})
                            ORDER BY u.role != 'apprentice', o.id, u.display_name, u.login""",
        ASSIGNABLE_ROLES,
    ).fetchall()
    return [dict(r) for r in rows]


def check_assignable(conn: sqlite3.Connection, user_ids: Iterable[int]) -> None:
    """NotFound for an unknown user; InputError (code assign_role, naming them) for one who may not be given a
    curriculum (see ASSIGNABLE_ROLES) or whose account is disabled."""
    for user_id in user_ids:
        row = conn.execute("SELECT display_name, role, disabled FROM users WHERE id = ?", (int(user_id),)).fetchone()
        if row is None:
            raise NotFound(f"no user with id {user_id}")
        if row["role"] not in ASSIGNABLE_ROLES or row["disabled"]:
            raise InputError(
                f"{row['display_name']} ({row['role']}) cannot be given a curriculum: only active "
                f"{' and '.join(ASSIGNABLE_ROLES)} accounts can",
                code="assign_role",
                name=row["display_name"],
                role=row["role"],
            )


def assign(
    conn: sqlite3.Connection,
    curriculum_id: int,
    *,
    user_id: int | None = None,
    cohort_id: int | None = None,
    due_date: str | None = None,
    assigned_by: int | None = None,
) -> int:
    """Assign to one user or to a cohort (its members now and later).  Assigning again changes the due date."""
    if (user_id is None) == (cohort_id is None):
        raise InputError("assign to either a user or a cohort", code="assign_whom")
    get(conn, curriculum_id)
    due_date = check_date(due_date)
    if user_id is not None:
        check_assignable(conn, [user_id])
        column, value = "user_id", user_id
    else:
        get_cohort(conn, cohort_id)
        column, value = "cohort_id", cohort_id
    with conn:
        row = conn.execute(
            f"SELECT id FROM curriculum_assignments WHERE curriculum_id = ? AND {column} = ?", (curriculum_id, value)
        ).fetchone()
        if row is not None:
            conn.execute("UPDATE curriculum_assignments SET due_date = ? WHERE id = ?", (due_date, row[0]))
            return int(row[0])
        cur = conn.execute(
            f"INSERT INTO curriculum_assignments(curriculum_id, {column}, due_date, assigned_by) VALUES (?,?,?,?)",
            (curriculum_id, value, due_date, assigned_by),
        )
    return int(cur.lastrowid)


def unassign(conn: sqlite3.Connection, assignment_id: int) -> None:
    """The assignment goes; progress already made is kept (assigning again brings it back)."""
    with conn:
        conn.execute("DELETE FROM curriculum_assignments WHERE id = ?", (assignment_id,))


def assignments(conn: sqlite3.Connection, curriculum_id: int) -> list[dict]:
    rows = conn.execute(
        """SELECT a.*, u.login, u.display_name, c.name AS cohort_name
                           FROM curriculum_assignments a LEFT JOIN users u ON u.id = a.user_id
                           LEFT JOIN cohorts c ON c.id = a.cohort_id
                           WHERE a.curriculum_id = ? ORDER BY a.cohort_id IS NULL, c.name, u.login""",
        (curriculum_id,),
    ).fetchall()
    return [dict(r) for r in rows]


_ASSIGNED = """
    SELECT a.curriculum_id, u.id AS user_id, a.due_date, a.cohort_id
    FROM curriculum_assignments a
    LEFT JOIN cohort_members m ON m.cohort_id = a.cohort_id
    JOIN users u ON u.id = COALESCE(a.user_id, m.user_id)"""


def assignees(
    conn: sqlite3.Connection, curriculum_id: int, organisation_id: int | None = None, cohort_id: int | None = None
) -> list[dict]:
    """Everyone the curriculum is assigned to (directly or through a cohort), once each, with the earliest
    due date; optionally only one organisation's or one cohort's members."""
    rows = conn.execute(
        f"""
        SELECT u.id, u.login, u.display_name, u.role, u.organisation_id, o.name AS organisation,
               MIN(x.due_date) AS due_date
        FROM ({_ASSIGNED}) x JOIN users u ON u.id = x.user_id JOIN organisations o ON o.id = u.organisation_id
        WHERE x.curriculum_id = ? AND u.disabled = 0
        GROUP BY u.id ORDER BY o.id, u.display_name, u.login""",
        (curriculum_id,),
    ).fetchall()
    out = [dict(r) for r in rows]
    if organisation_id is not None:
        out = [u for u in out if u["organisation_id"] == organisation_id]
    if cohort_id is not None:
        members = set(cohort_members(conn, cohort_id))
        out = [u for u in out if u["id"] in members]
    return out


def is_assigned(conn: sqlite3.Connection, curriculum_id: int, user_id: int) -> bool:
    return (
        conn.execute(
            f"SELECT 1 FROM ({_ASSIGNED}) x WHERE x.curriculum_id = ? AND x.user_id = ?", (curriculum_id, user_id)
        ).fetchone()
        is not None
    )


def curricula_for_user(conn: sqlite3.Connection, user_id: int) -> list[dict]:
    """The current (not archived) curricula assigned to this user, soonest due first."""
    rows = conn.execute(
        f"""
        SELECT c.*, MIN(x.due_date) AS due_date FROM ({_ASSIGNED}) x JOIN curricula c ON c.id = x.curriculum_id
        WHERE x.user_id = ? AND c.archived = 0
        GROUP BY c.id ORDER BY MIN(x.due_date) IS NULL, MIN(x.due_date), c.title""",
        (user_id,),
    ).fetchall()
    return [dict(r) for r in rows]
