"""Programme figures per fiscal year and organisation, each traceable to the records it counts.

Fiscal year: Japan's, 1 April to 31 March; FY2025 is 2025-04-01 .. 2026-03-31.  Days are
Japan days: the stored timestamps are UTC (``...Z``), and a recording that finished at
2025-03-31T16:00Z (01:00 on 1 April in Japan) belongs to FY2025.  Dates typed by people
(coaching held_on, left_on, registered_on) are Japan dates already.

Why every figure is built from its trace: a funder asks "which 100 records?"; the figure
is ``len(records)`` (the sum of their hours for coaching hours, counted / all for rates),
so the number and the list can never disagree.  Each trace entry has an id, a kind, a
label and the date that placed it in the year.

What each figure counts (organisation = the figure for one organisation):
- technique_records: recordings whose status is 'done', by ``recordings.done_at`` (when the
  recording first reached 'done', set by a trigger, migration 009; updated_at moves on every
  edit and jobs.finished_at on every re-processing).  Deleted recordings are gone from it.
  Organisation: the recording's organisation.
- meisters_registered: meisters registered on or before the year's last day.  Organisation:
  meisters working with it (a meister with two organisations counts in both, once overall).
- meisters_active: meisters who in the year held a confirmed coaching session or finished a
  recording.  Organisation: in that organisation (session held there, recording of it).
- coaching_sessions / coaching_hours / technicians_reached: confirmed sessions held in the
  year (organisation: the one visited); hours summed; distinct technicians coached.
- curricula_run: curricula with at least one assignment made in the year (organisation: to
  someone of that organisation, directly or through a cohort).
- completion_rate: of the technicians assigned a curriculum in the year, those who completed
  every curriculum assigned to them that year (kb.curricula_progress.is_completed: all
  required items signed off), in percent.  Their state now, not at the year's end.
- retention_rate: of the apprentices in the programme during the year (account created by
  its last day, not left before its first), those who had not left by its last day.

Months (issue 14, item 9): a monthly bar counts what its figure's name says *for that month*.
The three "distinct" figures (meisters_active, technicians_reached, curricula_run) carry every
day of activity in the year in their entries (``activity``: [[day, reason], ...]), so a
meister who recorded in May and in December is in both bars; their bars therefore do not add
up to the year, which counts each one once.  The other monthly figures date each record once
(a recording, a session), and their bars add up to the year.
"""

from __future__ import annotations

import codecs
import io
import math
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Mapping

from kb import csvsafe, curricula, curricula_progress
from kb.curricula import check_day  # one rule for every typed date (coaching, registry, leaving)
from kb.errors import InputError, NotFound

JAPAN = timezone(timedelta(hours=9))
DEFAULT_TARGETS = {
    "technique_records": 100.0,
    "meisters_registered": 200.0,
    "completion_rate": 80.0,
    "retention_rate": 85.0,
}
UNITS = {
    "technique_records": "count",
    "meisters_registered": "count",
    "meisters_active": "count",
    "coaching_sessions": "count",
    "coaching_hours": "hours",
    "technicians_reached": "count",
    "curricula_run": "count",
    "completion_rate": "percent",
    "retention_rate": "percent",
}
FIGURES = tuple(UNITS)


# ---------------------------------------------------------------- dates and fiscal years


def fiscal_year_of(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_bounds(fiscal_year: int) -> tuple[str, str]:
    """First and last day (YYYY-MM-DD, inclusive) of a fiscal year."""
    return f"{fiscal_year:04d}-04-01", f"{fiscal_year + 1:04d}-03-31"


def utc_bounds(fiscal_year: int) -> tuple[str, str]:
    """[start, end) of the fiscal year as UTC timestamps in the stored format, for comparing stored times."""
    start = datetime(fiscal_year, 4, 1, tzinfo=JAPAN).astimezone(timezone.utc)
    end = datetime(fiscal_year + 1, 4, 1, tzinfo=JAPAN).astimezone(timezone.utc)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def japan_day(stamp: str | None) -> str | None:
    """The Japan day (YYYY-MM-DD) of a stored UTC timestamp."""
    if not stamp:
        return None
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(JAPAN).date().isoformat()


def current_fiscal_year(today: date | None = None) -> int:
    return fiscal_year_of(today or datetime.now(JAPAN).date())


# ---------------------------------------------------------------- targets


def _target_name(name: str) -> str:
    if name not in DEFAULT_TARGETS:
        raise InputError(f"unknown target {name!r} (one of: {', '.join(DEFAULT_TARGETS)})", code="target_name")
    return name


def get_target(conn: sqlite3.Connection, name: str, fiscal_year: int | None = None) -> float:
    """The year's own target, else the default row, else the built-in default."""
    _target_name(name)
    row = conn.execute(
        """SELECT value FROM programme_targets
                          WHERE name = ? AND (fiscal_year = ? OR fiscal_year IS NULL)
                          ORDER BY fiscal_year IS NULL LIMIT 1""",
        (name, fiscal_year),
    ).fetchone()
    return float(row[0]) if row else DEFAULT_TARGETS[name]


def targets(conn: sqlite3.Connection, fiscal_year: int | None = None) -> dict[str, float]:
    return {name: get_target(conn, name, fiscal_year) for name in DEFAULT_TARGETS}


def check_target(name: str, value) -> float:
    """A target as a number: at least 0, finite, a rate at most 100 (InputError naming the target otherwise)."""
    _target_name(name)
    try:
        number = float(str(value).strip()) if value is not None else None
    except ValueError:
        number = None
    if number is None:
        raise InputError(
            f"a target must be a number, not {value!r}",
            code="target_value",
            name=name,
            value=str(value if value is not None else ""),
        ) from None
    if not math.isfinite(number) or number < 0 or (name.endswith("_rate") and number > 100):
        raise InputError(
            "a target must be at least 0 (a rate at most 100)", code="target_value", name=name, value=str(value)
        )
    return number


def set_target(conn: sqlite3.Connection, name: str, value, fiscal_year: int | None = None) -> None:
    """Set the default target (fiscal_year None) or one year's."""
    value = check_target(name, value)
    with conn:
        conn.execute("DELETE FROM programme_targets WHERE name = ? AND fiscal_year IS ?", (name, fiscal_year))
        conn.execute(
            "INSERT INTO programme_targets(name, fiscal_year, value) VALUES (?,?,?)", (name, fiscal_year, value)
        )


def clear_target(conn: sqlite3.Connection, name: str, fiscal_year: int) -> None:
    """Drop one year's own target: the default applies again."""
    _target_name(name)
    with conn:
        conn.execute("DELETE FROM programme_targets WHERE name = ? AND fiscal_year = ?", (name, fiscal_year))


# ---------------------------------------------------------------- leaving


MAX_LEAVING_NOTE = 1000


def record_leaving(conn: sqlite3.Connection, user_id: int, left_on: str | None, note: str = "") -> None:
    """Record the day a technician left the programme (None: they have not left after all)."""
    left_on = check_day(left_on, "the leaving date")
    if len((note or "").strip()) > MAX_LEAVING_NOTE:
        raise InputError(
            f"the note is too long (at most {MAX_LEAVING_NOTE} characters)",
            code="too_long",
            what="note",
            n=MAX_LEAVING_NOTE,
        )
    if conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
        raise NotFound(f"no user with id {user_id}")
    with conn:
        conn.execute(
            "UPDATE users SET left_on = ?, left_note = ? WHERE id = ?",
            (left_on, (note or "").strip() if left_on else "", user_id),
        )


def leavings(conn: sqlite3.Connection) -> dict[int, dict]:
    """user id -> {left_on, left_note} for everyone recorded as having left (the users page shows them)."""
    rows = conn.execute("SELECT id, left_on, left_note FROM users WHERE left_on IS NOT NULL")
    return {r["id"]: {"left_on": r["left_on"], "left_note": r["left_note"]} for r in rows}


# ---------------------------------------------------------------- traces


def _entry(kind: str, id_: int, label: str, day: str | None, counted: bool = True, **extra) -> dict:
    return {"kind": kind, "id": id_, "label": label, "date": day, "counted": counted, **extra}


def _org(column: str, organisation_id: int | None) -> tuple[str, list]:
    return ("", []) if organisation_id is None else (f" AND {column} = ?", [organisation_id])


def trace_technique_records(conn, fiscal_year, organisation_id=None) -> list[dict]:
    start, end = utc_bounds(fiscal_year)
    extra, params = _org("r.organisation_id", organisation_id)
    rows = conn.execute(
        f"""SELECT r.id, r.title, r.done_at FROM recordings r WHERE r.status = 'done'
                            AND r.done_at >= ? AND r.done_at < ?{extra} ORDER BY r.done_at, r.id""",
        [start, end, *params],
    )
    return [_entry("recording", r["id"], r["title"], japan_day(r["done_at"])) for r in rows]


def trace_meisters_registered(conn, fiscal_year, organisation_id=None) -> list[dict]:
    _, last = fiscal_year_bounds(fiscal_year)
    if organisation_id is None:
        rows = conn.execute(
            "SELECT id, name, registered_on FROM meisters WHERE registered_on <= ? ORDER BY name, id", (last,)
        )
    else:
        rows = conn.execute(
            """SELECT m.id, m.name, m.registered_on FROM meisters m
                               JOIN meister_organisations mo ON mo.meister_id = m.id
                               WHERE m.registered_on <= ? AND mo.organisation_id = ? ORDER BY m.name, m.id""",
            (last, organisation_id),
        )
    return [_entry("meister", r["id"], r["name"], r["registered_on"]) for r in rows]


def _confirmed_sessions(conn, fiscal_year, organisation_id) -> list[sqlite3.Row]:
    first, last = fiscal_year_bounds(fiscal_year)
    extra, params = _org("s.organisation_id", organisation_id)
    return conn.execute(
        f"""SELECT s.*, m.name AS meister
                            FROM coaching_sessions s JOIN meisters m ON m.id = s.meister_id
                            WHERE s.confirmed_at IS NOT NULL AND s.held_on BETWEEN ? AND ?{extra}
                            ORDER BY s.held_on, s.id""",
        [first, last, *params],
    ).fetchall()


def _activity_entry(kind: str, id_: int, label: str, activity: list[tuple[str, str]]) -> dict:
    """An entry of a "distinct" figure: dated by its first day of activity in the year, carrying every
    (day, reason) of it so a month can be cut out of it (see in_month)."""
    activity = sorted(set(activity))
    reasons = {reason for _, reason in activity}
    return _entry(kind, id_, label, activity[0][0], reason=_reason(reasons), activity=[list(pair) for pair in activity])


def _reason(reasons: set[str]) -> str:
    """The reasons of one entry as the trace's "Why" column names them ("coached+recorded")."""
    return "+".join(sorted(reasons))


def trace_meisters_active(conn, fiscal_year, organisation_id=None) -> list[dict]:
    names: dict[int, str] = {}
    activity: dict[int, list[tuple[str, str]]] = {}
    for s in _confirmed_sessions(conn, fiscal_year, organisation_id):
        names[s["meister_id"]] = s["meister"]
        activity.setdefault(s["meister_id"], []).append((s["held_on"], "coached"))
    start, end = utc_bounds(fiscal_year)
    extra, params = _org("r.organisation_id", organisation_id)
    for r in conn.execute(
        f"""SELECT r.meister_id, m.name, r.done_at FROM recordings r
                              JOIN meisters m ON m.id = r.meister_id WHERE r.status = 'done'
                              AND r.done_at >= ? AND r.done_at < ?{extra}""",
        [start, end, *params],
    ):
        names[r["meister_id"]] = r["name"]
        activity.setdefault(r["meister_id"], []).append((japan_day(r["done_at"]), "recorded"))
    out = [_activity_entry("meister", mid, names[mid], days) for mid, days in activity.items()]
    return sorted(out, key=lambda e: (e["label"], e["id"]))


def trace_coaching_sessions(conn, fiscal_year, organisation_id=None) -> list[dict]:
    return [
        _entry("coaching_session", s["id"], f"{s['meister']} {s['technique']}".strip(), s["held_on"], hours=s["hours"])
        for s in _confirmed_sessions(conn, fiscal_year, organisation_id)
    ]


trace_coaching_hours = trace_coaching_sessions


def trace_technicians_reached(conn, fiscal_year, organisation_id=None) -> list[dict]:
    first, last = fiscal_year_bounds(fiscal_year)
    extra, params = _org("s.organisation_id", organisation_id)
    names: dict[int, str] = {}
    activity: dict[int, list[tuple[str, str]]] = {}
    for row in conn.execute(
        f"""SELECT u.id, u.display_name, s.held_on
                                FROM coaching_sessions s JOIN coaching_technicians t ON t.session_id = s.id
                                JOIN users u ON u.id = t.user_id
                                WHERE s.confirmed_at IS NOT NULL AND s.held_on BETWEEN ? AND ?{extra}""",
        [first, last, *params],
    ):
        names[row["id"]] = row["display_name"]
        activity.setdefault(row["id"], []).append((row["held_on"], "coached"))
    out = [_activity_entry("user", uid, names[uid], days) for uid, days in activity.items()]
    return sorted(out, key=lambda e: (e["label"], e["id"]))


def _assignments(conn, fiscal_year, organisation_id, every: bool = False) -> list[sqlite3.Row]:
    """(curriculum, technician) pairs assigned in the year, directly or through a cohort (the first
    assignment of each pair; ``every``: one row per assignment, for the months)."""
    start, end = utc_bounds(fiscal_year)
    extra, params = _org("u.organisation_id", organisation_id)
    group = "a.id, u.id" if every else "a.curriculum_id, u.id"
    return conn.execute(
        f"""
        SELECT a.curriculum_id, c.title, u.id AS user_id, u.display_name, MIN(a.created_at) AS assigned_at
        FROM curriculum_assignments a LEFT JOIN cohort_members cm ON cm.cohort_id = a.cohort_id
        JOIN users u ON u.id = COALESCE(a.user_id, cm.user_id) JOIN curricula c ON c.id = a.curriculum_id
        WHERE a.created_at >= ? AND a.created_at < ?{extra}
        GROUP BY {group} ORDER BY a.curriculum_id, u.id""",
        [start, end, *params],
    ).fetchall()


def trace_curricula_run(conn, fiscal_year, organisation_id=None) -> list[dict]:
    titles: dict[int, str] = {}
    activity: dict[int, list[tuple[str, str]]] = {}
    for a in _assignments(conn, fiscal_year, organisation_id, every=True):
        titles[a["curriculum_id"]] = a["title"]
        activity.setdefault(a["curriculum_id"], []).append((japan_day(a["assigned_at"]), "assigned"))
    out = [_activity_entry("curriculum", cid, titles[cid], days) for cid, days in activity.items()]
    return sorted(out, key=lambda e: (e["label"], e["id"]))


def trace_completion_rate(conn, fiscal_year, organisation_id=None) -> list[dict]:
    """Technicians assigned in the year; ``counted`` when every curriculum assigned to them then is completed."""
    people: dict[int, dict] = {}
    for a in _assignments(conn, fiscal_year, organisation_id):
        person = people.setdefault(a["user_id"], {"label": a["display_name"], "curricula": [], "date": None})
        person["curricula"].append(a["curriculum_id"])
        day = japan_day(a["assigned_at"])
        person["date"] = min(person["date"] or day, day)
    out = []
    for user_id, person in people.items():
        completed = True
        for curriculum_id in person["curricula"]:
            its = curricula.items(conn, curriculum_id)
            pairs = curricula_progress.states(conn, [user_id], [it["id"] for it in its])
            state_of = {it["id"]: pairs[(user_id, it["id"])] for it in its}
            completed = completed and curricula_progress.is_completed(its, state_of)
        out.append(
            _entry("user", user_id, person["label"], person["date"], counted=completed, curricula=person["curricula"])
        )
    return sorted(out, key=lambda e: (e["label"], e["id"]))


def trace_retention_rate(conn, fiscal_year, organisation_id=None) -> list[dict]:
    """Apprentices in the programme during the year; ``counted`` when they had not left by its last day."""
    first, last = fiscal_year_bounds(fiscal_year)
    _, end = utc_bounds(fiscal_year)
    extra, params = _org("organisation_id", organisation_id)
    rows = conn.execute(
        f"""SELECT id, display_name, created_at, left_on FROM users WHERE role = 'apprentice'
                            AND created_at < ? AND (left_on IS NULL OR left_on >= ?){extra}
                            ORDER BY display_name, id""",
        [end, first, *params],
    )
    return [
        _entry(
            "user",
            r["id"],
            r["display_name"],
            r["left_on"] or japan_day(r["created_at"]),
            counted=r["left_on"] is None or r["left_on"] > last,
            left_on=r["left_on"],
        )
        for r in rows
    ]


TRACES: dict[str, Callable] = {name: globals()[f"trace_{name}"] for name in FIGURES}


def trace(conn: sqlite3.Connection, name: str, fiscal_year: int, organisation_id: int | None = None) -> list[dict]:
    """The records figure ``name`` counts (for rates: everyone in the denominator, ``counted`` the numerator)."""
    if name not in TRACES:
        raise InputError(f"unknown figure {name!r} (one of: {', '.join(FIGURES)})", code="figure_name")
    return TRACES[name](conn, int(fiscal_year), organisation_id)


# ---------------------------------------------------------------- figures


@dataclass
class Figure:
    name: str
    fiscal_year: int
    organisation_id: int | None
    unit: str  # count | hours | percent
    value: float | None  # None: a rate with nobody to count
    numerator: int
    denominator: int
    target: float | None
    records: list[dict] = field(default_factory=list)

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.value >= self.target


def figure(conn: sqlite3.Connection, name: str, fiscal_year: int, organisation_id: int | None = None) -> Figure:
    records = trace(conn, name, fiscal_year, organisation_id)
    unit = UNITS[name]
    counted = sum(1 for r in records if r["counted"])
    if unit == "hours":
        value: float | None = round(sum(r["hours"] for r in records), 2)
    elif unit == "percent":
        value = round(100 * counted / len(records), 1) if records else None
    else:
        value = len(records)
    target = get_target(conn, name, fiscal_year) if name in DEFAULT_TARGETS else None
    return Figure(name, int(fiscal_year), organisation_id, unit, value, counted, len(records), target, records)


def figures(conn: sqlite3.Connection, fiscal_year: int, organisation_id: int | None = None) -> list[Figure]:
    return [figure(conn, name, fiscal_year, organisation_id) for name in FIGURES]


# ---------------------------------------------------------------- for the dashboard: months, years, targets

# Figures with bars by month.  meisters_registered is a running total (registered on or before the
# year's end): no months.  The DISTINCT ones count each meister / technician / curriculum once in the
# year but once in every month it was active, so their bars do not add up to the year (ADDS_UP do).
MONTHLY = (
    "technique_records",
    "meisters_active",
    "coaching_sessions",
    "coaching_hours",
    "technicians_reached",
    "curricula_run",
)
DISTINCT = ("meisters_active", "technicians_reached", "curricula_run")
ADDS_UP = tuple(name for name in MONTHLY if name not in DISTINCT)


def months(fiscal_year: int) -> list[str]:
    """The year's months as YYYY-MM, April to March."""
    return [f"{fiscal_year + (m < 4):04d}-{m:02d}" for m in (*range(4, 13), 1, 2, 3)]


def in_month(records: list[dict], month: str) -> list[dict]:
    """What one monthly bar counts: the records active in ``month`` (YYYY-MM).  A record with
    ``activity`` (a distinct figure's) is in every month it was active in, dated by its first day
    there, with the month's own activity and reason; any other record is in its date's month."""
    out = []
    for r in records:
        if "activity" not in r:
            if (r.get("date") or "")[:7] == month:
                out.append(r)
            continue
        those = [pair for pair in r["activity"] if pair[0][:7] == month]
        if those:
            out.append(
                {**r, "date": those[0][0], "reason": _reason({reason for _, reason in those}), "activity": those}
            )
    return out


def month_value(unit: str, records: list[dict]) -> float:
    """A bar's height, computed like the figure: the hours summed for hours, else the records counted."""
    if unit == "hours":
        return round(sum(r.get("hours") or 0 for r in records), 2)
    return len(records)


def by_month(fig: Figure) -> list[dict]:
    """[{month, value, count}] April to March, each bar built from the figure's own records cut by
    in_month (so a bar and its trace cannot disagree); [] for figures without months.  For ADDS_UP
    figures the values add up to the figure; for DISTINCT ones each bar is that month's distinct count."""
    if fig.name not in MONTHLY:
        return []
    out = []
    for month in months(fig.fiscal_year):
        its = in_month(fig.records, month)
        out.append({"month": month, "value": month_value(fig.unit, its), "count": len(its)})
    return out


def check_month(fiscal_year: int, month: str | None) -> str | None:
    """A month of the year as YYYY-MM (None for none); InputError otherwise."""
    month = (month or "").strip()
    if not month:
        return None
    if month not in months(fiscal_year):
        raise InputError(
            f"{month!r} is not a month of FY{fiscal_year} (write it as {months(fiscal_year)[0]})",
            code="month",
            value=month,
            fiscal_year=fiscal_year,
        )
    return month


def fiscal_years_with_data(conn: sqlite3.Connection, today: date | None = None, limit: int = 30) -> list[int]:
    """Every fiscal year from the first one with data to the current one (or the last with data), newest first
    (at most ``limit``): what the dashboard's year picker offers."""
    days = []
    for sql in (
        "SELECT MIN(held_on), MAX(held_on) FROM coaching_sessions",
        "SELECT MIN(registered_on), MAX(registered_on) FROM meisters",
        "SELECT MIN(left_on), MAX(left_on) FROM users",
    ):
        days += [d for d in conn.execute(sql).fetchone() if d]
    for sql in (
        "SELECT MIN(done_at), MAX(done_at) FROM recordings",
        "SELECT MIN(created_at), MAX(created_at) FROM curriculum_assignments",
    ):
        days += [japan_day(d) for d in conn.execute(sql).fetchone() if d]
    current = current_fiscal_year(today)
    years = {current}
    for day in days:
        try:
            years.add(fiscal_year_of(date.fromisoformat(day[:10])))
        except ValueError:
            continue
    last = max(years)
    return list(range(last, max(min(years), last - limit + 1) - 1, -1))


def target_table(conn: sqlite3.Connection, fiscal_year: int) -> list[dict]:
    """Per target: the default, this year's own value (None when the default applies) and the one in force."""
    out = []
    for name in DEFAULT_TARGETS:
        default = conn.execute(
            "SELECT value FROM programme_targets WHERE name = ? AND fiscal_year IS NULL", (name,)
        ).fetchone()
        own = conn.execute(
            "SELECT value FROM programme_targets WHERE name = ? AND fiscal_year = ?", (name, fiscal_year)
        ).fetchone()
        default_value = float(default[0]) if default else DEFAULT_TARGETS[name]
        out.append(
            {
                "name": name,
                "unit": UNITS[name],
                "default": default_value,
                "year": float(own[0]) if own else None,
                "value": float(own[0]) if own else default_value,
            }
        )
    return out


def save_targets(
    conn: sqlite3.Connection,
    defaults: Mapping[str, object],
    fiscal_year: int | None = None,
    year_values: Mapping[str, object] | None = None,
) -> None:
    """Change default targets and one year's own targets together: every value is checked before anything
    is written (one bad value changes nothing).  In ``year_values`` an empty value or None drops that
    year's own target, so the default applies again."""
    checked_defaults = {name: check_target(name, value) for name, value in defaults.items()}
    year_values = dict(year_values or {})
    if year_values and fiscal_year is None:
        raise InputError("a fiscal year is needed for its own targets", code="target_year")
    checked_years = {
        name: None if value is None or str(value).strip() == "" else check_target(name, value)
        for name, value in year_values.items()
    }
    with conn:
        for name, value in checked_defaults.items():
            conn.execute("DELETE FROM programme_targets WHERE name = ? AND fiscal_year IS NULL", (name,))
            conn.execute("INSERT INTO programme_targets(name, fiscal_year, value) VALUES (?, NULL, ?)", (name, value))
        for name, value in checked_years.items():
            conn.execute("DELETE FROM programme_targets WHERE name = ? AND fiscal_year = ?", (name, fiscal_year))
            if value is not None:
                conn.execute(
                    "INSERT INTO programme_targets(name, fiscal_year, value) VALUES (?,?,?)", (name, fiscal_year, value)
                )


# ---------------------------------------------------------------- CSV (for Excel)

FIGURE_HEADINGS = {
    "figure": "Figure",
    "fiscal_year": "Fiscal year",
    "organisation": "Organisation",
    "value": "Value",
    "unit": "Unit",
    "numerator": "Counted",
    "denominator": "Out of",
    "target": "Target",
    "met": "Target met",
    "all": "All organisations",
    "yes": "yes",
    "no": "no",
}
TRACE_HEADINGS = {
    "kind": "Kind",
    "id": "Id",
    "label": "Name",
    "date": "Date",
    "counted": "Counted",
    "hours": "Hours",
    "yes": "yes",
    "no": "no",
}


def _csv_bytes(rows: list[list]) -> bytes:
    """UTF-8 with a BOM (Excel in Japan then reads UTF-8, not Shift_JIS), CRLF line ends."""
    out = io.StringIO()
    csvsafe.writer(out, lineterminator="\r\n").writerows(rows)  # no formulas (issue 16, defect 15)
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def _number(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def organisation_name(conn: sqlite3.Connection, organisation_id: int | None, all_label: str) -> str:
    if organisation_id is None:
        return all_label
    row = conn.execute("SELECT name FROM organisations WHERE id = ?", (organisation_id,)).fetchone()
    if row is None:
        raise NotFound(f"no organisation with id {organisation_id}")
    return row[0]


def figures_csv(
    conn: sqlite3.Connection,
    figs: list[Figure],
    labels: Mapping[str, str] | None = None,
    headings: Mapping[str, str] | None = None,
    year_label: Callable[[int], str] | None = None,
) -> bytes:
    """One row per figure.  ``labels`` names the figures and units, ``headings`` the columns, ``year_label``
    the fiscal year (2025年度), in the interface language (English defaults: FY2025)."""
    year_label = year_label or (lambda fy: f"FY{fy}")
    labels, h = labels or {}, {**FIGURE_HEADINGS, **(headings or {})}
    rows = [
        [
            h["figure"],
            h["fiscal_year"],
            h["organisation"],
            h["value"],
            h["unit"],
            h["numerator"],
            h["denominator"],
            h["target"],
            h["met"],
        ]
    ]
    for f in figs:
        met = "" if f.met is None else (h["yes"] if f.met else h["no"])
        organisation = organisation_name(conn, f.organisation_id, h["all"])
        rows.append(
            [
                labels.get(f.name, f.name),
                year_label(f.fiscal_year),
                organisation,
                _number(f.value),
                labels.get(f.unit, f.unit),
                f.numerator,
                f.denominator,
                _number(f.target),
                met,
            ]
        )
    return _csv_bytes(rows)


def trace_csv(records: list[dict], headings: Mapping[str, str] | None = None) -> bytes:
    """The records behind one figure, one row each."""
    h = {**TRACE_HEADINGS, **(headings or {})}
    rows = [[h["kind"], h["id"], h["label"], h["date"], h["counted"], h["hours"]]]
    for r in records:
        rows.append(
            [
                r["kind"],
                r["id"],
                r["label"],
                r["date"] or "",
                h["yes"] if r["counted"] else h["no"],
                _number(r.get("hours")),
            ]
        )
    return _csv_bytes(rows)
