"""The programme's words in the interface language: figure names, units, what each figure counts,
and refusals (kb.programme raises InputError with an English message and a ``code``).

Why one module: the dashboard, the trace pages, the CSV files and the targets page must call a
figure by the same name, so a coordinator's printout, spreadsheet and screen agree.
"""

from __future__ import annotations

from flask_babel import format_date, lazy_gettext

FIGURE_LABELS = {
    "technique_records": lazy_gettext("Technique records created"),
    "meisters_registered": lazy_gettext("Meisters registered"),
    "meisters_active": lazy_gettext("Active meisters"),
    "coaching_sessions": lazy_gettext("Coaching sessions held"),
    "coaching_hours": lazy_gettext("Coaching hours"),
    "technicians_reached": lazy_gettext("Technicians reached"),
    "curricula_run": lazy_gettext("Curricula run"),
    "completion_rate": lazy_gettext("Succession completion rate"),
    "retention_rate": lazy_gettext("Apprentice retention"),
}

# The unit after a figure's number (per figure: Japanese counts people, sessions and records differently).
FIGURE_UNITS = {
    "technique_records": lazy_gettext("records"),
    "meisters_registered": lazy_gettext("meisters"),
    "meisters_active": lazy_gettext("meisters"),
    "coaching_sessions": lazy_gettext("sessions"),
    "coaching_hours": lazy_gettext("hours"),
    "technicians_reached": lazy_gettext("technicians"),
    "curricula_run": lazy_gettext("curricula"),
    "completion_rate": "%",
    "retention_rate": "%",
}

# What each figure counts, in plain words (from kb.programme's docstring; docs/programme.md says more).
FIGURE_HELP = {
    "technique_records": lazy_gettext("Recordings that finished processing in the year."),
    "meisters_registered": lazy_gettext("Meisters registered by the last day of the year (a running total)."),
    "meisters_active": lazy_gettext(
        "Meisters who held a confirmed coaching session or finished a recording in the year."
    ),
    "coaching_sessions": lazy_gettext("Confirmed coaching sessions held in the year."),
    "coaching_hours": lazy_gettext("Hours of the confirmed coaching sessions held in the year."),
    "technicians_reached": lazy_gettext("Different technicians coached in confirmed sessions in the year."),
    "curricula_run": lazy_gettext("Curricula assigned to someone in the year."),
    "completion_rate": lazy_gettext(
        "Of the technicians assigned a curriculum in the year, those with every required item signed off."
    ),
    "retention_rate": lazy_gettext(
        "Of the apprentices in the programme during the year, those who had not left by its end."
    ),
}

# What one monthly bar counts, in one line under each chart (issue 14, item 9): a bar counts what the
# figure's name says for that month, so the "different ..." figures do not add up to the year.
MONTH_HELP = {
    "technique_records": lazy_gettext("Each bar: recordings finished in that month. The bars add up to the year."),
    "meisters_active": lazy_gettext(
        "Each bar: different meisters active in that month (coached or recorded). A meister active in several "
        "months is in each of them, so the bars add up to more than the year, which counts each meister once."
    ),
    "coaching_sessions": lazy_gettext("Each bar: confirmed sessions held in that month. The bars add up to the year."),
    "coaching_hours": lazy_gettext(
        "Each bar: hours of the confirmed sessions held in that month. The bars add up to the year."
    ),
    "technicians_reached": lazy_gettext(
        "Each bar: different technicians coached in that month. A technician coached in several months is in "
        "each of them, so the bars add up to more than the year, which counts each technician once."
    ),
    "curricula_run": lazy_gettext(
        "Each bar: different curricula assigned in that month. A curriculum assigned in several months is in "
        "each of them, so the bars add up to more than the year, which counts each curriculum once."
    ),
}

# For rates: what "counted / out of" counts.
RATE_PARTS = {
    "completion_rate": lazy_gettext("%(counted)s of %(total)s technicians completed"),
    "retention_rate": lazy_gettext("%(counted)s of %(total)s apprentices stayed"),
}

KIND_LABELS = {
    "recording": lazy_gettext("Recording"),
    "meister": lazy_gettext("Meister"),
    "coaching_session": lazy_gettext("Coaching session"),
    "user": lazy_gettext("Technician"),
    "curriculum": lazy_gettext("Curriculum"),
}

REASON_LABELS = {
    "assigned": lazy_gettext("assigned"),
    "coached": lazy_gettext("coached"),
    "recorded": lazy_gettext("recorded"),
    "coached+recorded": lazy_gettext("coached and recorded"),
}

MESSAGES = {
    "target_value": lazy_gettext(
        "The target for “%(what)s” must be a number of at least 0 (a rate at most 100), not “%(value)s”."
    ),
    "target_name": lazy_gettext("There is no such target."),
    "target_year": lazy_gettext("Choose a fiscal year for its own targets."),
    "month": lazy_gettext("Choose a month of the fiscal year."),
    "date": lazy_gettext("The date %(value)s is not a date (write it as 2025-04-30)."),
    "too_long": lazy_gettext("The note is too long (at most %(n)s characters)."),
}


def figure_label(name: str) -> str:
    return str(FIGURE_LABELS.get(name, name))


def figure_unit(name: str) -> str:
    return str(FIGURE_UNITS.get(name, ""))


def year_label(fiscal_year: int) -> str:
    """2025年度 / FY2025."""
    return str(lazy_gettext("FY%(year)s", year=fiscal_year))


def month_label(month: str) -> str:
    """A month (YYYY-MM) as the bars show it: 4月 / Apr."""
    from datetime import date

    year, number = (int(part) for part in month.split("-"))
    return format_date(date(year, number, 1), "MMM")


def long_month_label(month: str) -> str:
    """A month (YYYY-MM) in a heading: 2025年4月 / April 2025."""
    from datetime import date

    from babel.dates import format_skeleton
    from flask_babel import get_locale

    year, number = (int(part) for part in month.split("-"))
    return format_skeleton("yMMMM", date(year, number, 1), locale=get_locale() or "ja")


def error_message(error: Exception) -> str:
    """A refusal in the user's language (its English message when its code is not known here)."""
    template = MESSAGES.get(getattr(error, "code", None) or "")
    if template is None:
        return str(error)
    params = dict(getattr(error, "params", {}) or {})
    if "name" in params:
        params["what"] = figure_label(params["name"])
    params.setdefault("what", "")
    params.setdefault("value", "")
    params.setdefault("n", "")
    return str(template) % params
