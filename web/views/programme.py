"""The programme dashboard (issue 6): the year's figures per organisation, each traceable to its records.

Why every number is a link: a funder asks "which 100 records?", and the answer is one click
away; the trace page lists exactly the records kb.programme built the figure from (the figure
is computed from that very list, so they cannot disagree), and every monthly bar is the same
list cut by month (a meister active in May and December is in both bars: each bar counts what the
figure's name says for that month, and the line under each chart says so).  Why server-drawn SVG bars: the CSP allows no inline style and no chart
library is needed; SVG attributes carry the heights, and SVG fills print in black and white.

Coordinators and admins see everything here (they run the programme); admins alone change
targets.  The JSON twin (/api/v1/programme/figures, or Accept: application/json on any page
here) gives other tools the same payload.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, redirect, request, url_for
from flask_babel import gettext as _

from kb import programme, urls, users
from kb.errors import InputError, NotFound
from web import auth, http
from web.coaching_form import hours_with_unit
from web.db import get_db
from web.errors import Refused
from web.programme_labels import (
    FIGURE_HELP,
    KIND_LABELS,
    MONTH_HELP,
    RATE_PARTS,
    REASON_LABELS,
    error_message,
    figure_label,
    figure_unit,
    long_month_label,
    month_label,
    year_label,
)

bp = Blueprint("programme", __name__)
coordinator = auth.role_required("coordinator")

FIRST_YEAR, LAST_YEAR = 1900, 2200  # a year outside is a typing mistake
CHART = {"width": 360, "height": 150, "slot": 30, "bar": 20, "base": 118, "top": 18}


# ---------------------------------------------------------------- what is asked for

# The generic 400 page does not say the message; the programme's own page does, and leads back to the figures.
REFUSED_PAGE = "programme/refused.html"


def selection(conn) -> tuple[int, int | None, str]:
    """(fiscal year, organisation id or None for all, organisation name) from ?fy=&org=; 400 when unreadable."""
    fy_text = (request.args.get("fy") or "").strip()
    try:
        fiscal_year = int(fy_text) if fy_text else programme.current_fiscal_year()
        if not FIRST_YEAR <= fiscal_year <= LAST_YEAR:
            raise ValueError
    except ValueError:
        raise Refused(400, _("Choose a fiscal year (for example 2025)."), "fiscal_year", page=REFUSED_PAGE) from None
    org_text = (request.args.get("org") or "").strip()
    try:
        organisation_id = int(org_text) if org_text else None
        name = programme.organisation_name(conn, organisation_id, _("All organisations"))
    except (ValueError, NotFound):
        raise Refused(400, _("Choose an organisation from the list."), "organisation", page=REFUSED_PAGE) from None
    return fiscal_year, organisation_id, name


def _args(fiscal_year: int, organisation_id: int | None, **more) -> dict:
    return {"fy": fiscal_year, "org": "" if organisation_id is None else organisation_id, **more}


def shown(unit: str, value) -> str:
    """The number as the card shows it: counts plain (3), hours without trailing zeros (4.5, 5),
    rates with one decimal (80.0); an em dash when there is nobody to count."""
    if value is None:
        return "—"
    if unit == "percent":
        return f"{float(value):.1f}"
    return str(int(value)) if float(value).is_integer() else f"{float(value):g}"


def progress_of(fig: programme.Figure) -> float | None:
    """How far the figure is toward its target, in percent (None without a target or a value)."""
    if fig.target is None or fig.value is None:
        return None
    if fig.target <= 0:
        return 100.0
    return round(100 * fig.value / fig.target, 1)


def figure_payload(fig: programme.Figure) -> dict:
    trace_url = url_for("programme.trace", name=fig.name, **_args(fig.fiscal_year, fig.organisation_id))
    months = []
    for m in programme.by_month(fig):
        months.append(
            {
                **m,
                "label": month_label(m["month"]),
                "shown": shown(fig.unit, m["value"]),
                "trace": url_for(
                    "programme.trace", name=fig.name, **_args(fig.fiscal_year, fig.organisation_id, month=m["month"])
                ),
            }
        )
    return {
        "name": fig.name,
        "label": figure_label(fig.name),
        "unit": fig.unit,
        "unit_label": figure_unit(fig.name),
        "value": fig.value,
        "shown": shown(fig.unit, fig.value),
        "counted": fig.numerator,
        "out_of": fig.denominator,
        "target": fig.target,
        "target_shown": None if fig.target is None else shown(fig.unit, fig.target),
        "met": fig.met,
        "progress": progress_of(fig),
        "months": months,
        "trace": trace_url,
        "months_help": str(MONTH_HELP[fig.name]) if months else None,
        "months_add_up": fig.name in programme.ADDS_UP if months else None,
        "progress_shown": None if progress_of(fig) is None else shown("percent", progress_of(fig)),
        "progress_bar": None if progress_of(fig) is None else min(100.0, progress_of(fig)),
        "parts": str(RATE_PARTS[fig.name]) % {"counted": fig.numerator, "total": fig.denominator}
        if fig.name in RATE_PARTS
        else None,
    }


def chart(months: list[dict]) -> dict | None:
    """Bar geometry for the monthly SVG (heights as attributes: the CSP forbids inline style)."""
    if not months:
        return None
    top = max(m["value"] for m in months) or 1
    room = CHART["base"] - CHART["top"]
    bars = []
    for i, m in enumerate(months):
        height = round(room * m["value"] / top, 1)
        x = i * CHART["slot"] + (CHART["slot"] - CHART["bar"]) / 2
        bars.append(
            {
                **m,
                "x": x,
                "y": round(CHART["base"] - height, 1),
                "height": height,
                "cx": i * CHART["slot"] + CHART["slot"] / 2,
            }
        )
    return {**CHART, "bars": bars}


def dashboard_payload(conn, fiscal_year: int, organisation_id: int | None, organisation: str) -> dict:
    return {
        "fiscal_year": fiscal_year,
        "fiscal_year_label": year_label(fiscal_year),
        "first_day": programme.fiscal_year_bounds(fiscal_year)[0],
        "last_day": programme.fiscal_year_bounds(fiscal_year)[1],
        "organisation_id": organisation_id,
        "organisation": organisation,
        "figures": [figure_payload(f) for f in programme.figures(conn, fiscal_year, organisation_id)],
    }


def pickers(conn, fiscal_year: int) -> dict:
    years = programme.fiscal_years_with_data(conn)
    if fiscal_year not in years:
        years = sorted({*years, fiscal_year}, reverse=True)
    return {"years": [(y, year_label(y)) for y in years], "organisations": users.list_organisations(conn)}


def csv_response(body: bytes, ascii_name: str, name: str) -> Response:
    """A CSV download: the ASCII name for old clients, the Japanese one (RFC 5987 filename*) for the rest."""
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
            "Cache-Control": "private, no-store",
        },
    )


# ---------------------------------------------------------------- the dashboard


@bp.get("/programme", endpoint="dashboard")
@coordinator
def dashboard():
    conn = get_db()
    fiscal_year, organisation_id, organisation = selection(conn)
    payload = dashboard_payload(conn, fiscal_year, organisation_id, organisation)
    charts = {f["name"]: chart(f["months"]) for f in payload["figures"]}
    return http.html_or_json(
        payload,
        "programme/dashboard.html",
        charts=charts,
        help=FIGURE_HELP,
        args=_args(fiscal_year, organisation_id),
        **pickers(conn, fiscal_year),
    )


@bp.get("/api/v1/programme/figures", endpoint="api_figures")
@coordinator
def api_figures():
    from flask import jsonify

    conn = get_db()
    return jsonify(dashboard_payload(conn, *selection(conn)))


@bp.get("/programme/figures.csv", endpoint="figures_csv")
@coordinator
def figures_csv():
    """Every figure of the year and organisation, for Excel (UTF-8 with BOM, names in the interface language)."""
    conn = get_db()
    fiscal_year, organisation_id, organisation = selection(conn)
    labels = {name: figure_label(name) for name in programme.FIGURES}
    labels.update({"count": _("count"), "hours": _("hours"), "percent": "%"})
    headings = {
        "figure": _("Figure"),
        "fiscal_year": _("Fiscal year"),
        "organisation": _("Organisation"),
        "value": _("Value"),
        "unit": _("Unit"),
        "numerator": _("Counted"),
        "denominator": _("Out of"),
        "target": _("Target"),
        "met": _("Target met"),
        "all": _("All organisations"),
        "yes": _("yes"),
        "no": _("no"),
    }
    body = programme.figures_csv(
        conn, programme.figures(conn, fiscal_year, organisation_id), labels, headings, year_label
    )
    org_part = "all" if organisation_id is None else f"org{organisation_id}"
    return csv_response(
        body,
        f"programme-FY{fiscal_year}-{org_part}.csv",
        f"{_('Programme figures')}-{year_label(fiscal_year)}-{organisation}.csv",
    )


# ---------------------------------------------------------------- tracing a figure


def _figure_and_records(name: str):
    if name not in programme.FIGURES:
        abort(404, description=_("There is no such figure."))
    conn = get_db()
    fiscal_year, organisation_id, organisation = selection(conn)
    try:
        month = programme.check_month(fiscal_year, request.args.get("month"))
    except InputError as e:
        raise Refused(400, error_message(e), e.code, page=REFUSED_PAGE) from e
    fig = programme.figure(conn, name, fiscal_year, organisation_id)
    records = programme.in_month(fig.records, month) if month else fig.records
    return fig, records, month, organisation


def record_url(record: dict) -> str | None:
    """Where a traced record opens (users: their row on the users page)."""
    kind, id_ = record["kind"], record["id"]
    if kind == "recording":
        return urls.recording(id_)
    if kind == "meister":
        return urls.meister(id_)
    if kind == "coaching_session":
        return f"/coaching/{id_}"
    if kind == "curriculum":
        return urls.curriculum(id_)
    if kind == "user":
        return url_for("admin.users") + f"#user-{id_}"
    return None


@bp.get("/programme/figures/<name>", endpoint="trace")
@coordinator
def trace(name: str):
    fig, records, month, organisation = _figure_and_records(name)
    rows = [
        {
            **r,
            "url": record_url(r),
            "kind_label": str(KIND_LABELS.get(r["kind"], r["kind"])),
            "reason_label": str(REASON_LABELS.get(r.get("reason") or "", "")),
            "hours_shown": hours_with_unit(r["hours"]) if r.get("hours") is not None else "",
        }
        for r in records
    ]
    figure = figure_payload(fig)
    payload = {
        "figure": figure,
        "fiscal_year": fig.fiscal_year,
        "organisation_id": fig.organisation_id,
        "organisation": organisation,
        "month": month,
        "value": figure["shown"] if not month else shown(fig.unit, programme.month_value(fig.unit, records)),
        "records": rows,
    }
    args = _args(fig.fiscal_year, fig.organisation_id)
    return http.html_or_json(
        payload,
        "programme/trace.html",
        help=FIGURE_HELP,
        args=args,
        month_label=long_month_label(month) if month else None,
        year_label=year_label(fig.fiscal_year),
        csv_url=url_for("programme.trace_csv", name=fig.name, **args, **({"month": month} if month else {})),
    )


@bp.get("/programme/figures/<name>.csv", endpoint="trace_csv")
@coordinator
def trace_csv(name: str):
    fig, records, month, organisation = _figure_and_records(name)
    headings = {
        "kind": _("Kind"),
        "id": _("Id"),
        "label": _("Name"),
        "date": _("Date"),
        "counted": _("Counted"),
        "hours": _("Hours"),
        "yes": _("yes"),
        "no": _("no"),
    }
    translated = [{**r, "kind": str(KIND_LABELS.get(r["kind"], r["kind"]))} for r in records]
    body = programme.trace_csv(translated, headings)
    org_part = "all" if fig.organisation_id is None else f"org{fig.organisation_id}"
    suffix = f"-{month}" if month else ""
    return csv_response(
        body,
        f"{name}-FY{fig.fiscal_year}-{org_part}{suffix}.csv",
        f"{figure_label(name)}-{year_label(fig.fiscal_year)}-{organisation}{suffix}.csv",
    )


# ---------------------------------------------------------------- targets


def _targets_page(
    fiscal_year: int, status: int = 200, error: str | None = None, typed: dict | None = None, done: str | None = None
):
    conn = get_db()
    rows = programme.target_table(conn, fiscal_year)
    for row in rows:
        row["label"], row["unit_label"] = figure_label(row["name"]), figure_unit(row["name"])
        row["default_shown"] = shown(row["unit"], row["default"])
        row["year_shown"] = "" if row["year"] is None else shown(row["unit"], row["year"])
        row["value_shown"] = shown(row["unit"], row["value"])
    payload = {"fiscal_year": fiscal_year, "targets": rows}
    return http.html_or_json(
        payload,
        "programme/targets.html",
        status=status,
        error=error,
        typed=typed or {},
        done=done,
        year_label=year_label(fiscal_year),
        years=[
            (y, year_label(y)) for y in sorted({*programme.fiscal_years_with_data(get_db()), fiscal_year}, reverse=True)
        ],
    )


def _target_year(value) -> int:
    try:
        fiscal_year = int(value) if str(value or "").strip() else programme.current_fiscal_year()
        if not FIRST_YEAR <= fiscal_year <= LAST_YEAR:
            raise ValueError
        return fiscal_year
    except ValueError:
        raise Refused(400, _("Choose a fiscal year (for example 2025)."), "fiscal_year", page=REFUSED_PAGE) from None


@bp.get("/programme/targets", endpoint="targets")
@coordinator
def targets():
    return _targets_page(_target_year(request.args.get("fy")), done=request.args.get("done"))


@bp.post("/programme/targets", endpoint="save_targets")
@auth.role_required("admin")
def save_targets():
    """action=save: every default and this year's own targets from the form (an empty year field: the
    default applies); action=clear with name: drop that one year's own target."""
    form = request.form
    fiscal_year = _target_year(form.get("fy"))
    conn = get_db()
    if form.get("action") == "clear":
        try:
            programme.clear_target(conn, form.get("name") or "", fiscal_year)
        except InputError as e:
            return _targets_page(fiscal_year, 400, error_message(e))
        return redirect(url_for("programme.targets", fy=fiscal_year, done="cleared"), code=303)
    defaults = {n: form.get(f"default-{n}", "") for n in programme.DEFAULT_TARGETS if f"default-{n}" in form}
    year_values = {n: form.get(f"year-{n}", "") for n in programme.DEFAULT_TARGETS if f"year-{n}" in form}
    if not defaults and not year_values:
        return _targets_page(fiscal_year, 400, _("Nothing to save: the form had no targets."))
    try:
        programme.save_targets(conn, defaults, fiscal_year, year_values)
    except InputError as e:
        typed = {**{f"default-{n}": v for n, v in defaults.items()}, **{f"year-{n}": v for n, v in year_values.items()}}
        return _targets_page(fiscal_year, 400, error_message(e), typed)
    return redirect(url_for("programme.targets", fy=fiscal_year, done="saved"), code=303)
