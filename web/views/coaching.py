"""Coaching sessions (指導実績): meisters log their own, coordinators log and confirm, pages and JSON API.

Who may do what (the rules are kb.coaching's; the pages only turn them into answers):

- meisters, coordinators and admins use these pages; apprentices get 403;
- a meister sees and logs only their own sessions; another meister's session answers 404,
  exactly like a missing id; a meister changes or deletes their own only while it waits for
  confirmation (403 afterwards: the session is theirs, so no secret is kept by hiding it);
- coordinators and admins see, log, change and confirm every session; what they log is
  confirmed at once.  Only confirmed sessions count in the programme figures (kb.programme).

Pages work without JavaScript (forms, 303 redirects); every refusal is one message in the
user's language (web.coaching_form).  The JSON API (/api/v1/coaching...) takes the same
fields and applies the same rules; API tokens work there.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from kb import coaching, meisters, programme, users
from kb.access import visible_recording_ids
from kb.errors import InputError, NotFound
from web import auth, coaching_form as form, http
from web.db import get_db
from web.errors import BadRequest, Refused

bp = Blueprint("coaching", __name__)
meister_up = auth.role_required("meister")

STATUS_LABELS = {
    "": lazy_gettext("All"),
    "waiting": lazy_gettext("Waiting for confirmation"),
    "confirmed": lazy_gettext("Confirmed"),
}


@bp.app_context_processor
def _helpers():
    return {"coaching_hours": form.hours_with_unit, "coaching_when": _when, "coaching_status_labels": STATUS_LABELS}


def _when(stamp: str | None) -> str:
    """A stored UTC time as Japan time, 2025-06-10 14:05 (the programme works in Japan time)."""
    if not stamp:
        return ""
    from datetime import datetime, timezone

    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(programme.JAPAN).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------- who sees which session


def _actor():
    return auth.current_account()


def _session(session_id: int) -> dict:
    """The session if the asker may see it: coordinators and admins every one, a meister their own;
    anything else is NotFound with the same message as a missing id."""
    missing = NotFound(f"no coaching session with id {session_id}")
    try:
        session = coaching.get_session(get_db(), session_id)
    except NotFound:
        raise missing from None
    viewer = auth.current_viewer()
    if not viewer.sees_everything and session["meister_id"] != viewer.meister_id:
        raise missing
    return session


def _public(session: dict) -> dict:
    """A session as the API and the page show it: technicians without logins, only recordings the
    asker may see."""
    viewer = auth.current_viewer()
    visible = visible_recording_ids(get_db(), viewer)
    out = {
        k: session[k]
        for k in (
            "id",
            "held_on",
            "meister_id",
            "meister",
            "organisation_id",
            "organisation",
            "technique",
            "hours",
            "notes",
            "logged_by_name",
            "logged_at",
            "confirmed",
            "confirmed_by_name",
            "confirmed_at",
            "updated_at",
        )
    }
    out["fiscal_year"] = programme.fiscal_year_of(_day(session["held_on"]))
    out["technicians"] = [{"id": t["id"], "display_name": t["display_name"]} for t in session["technicians"]]
    out["recording_ids"] = [r for r in session["recording_ids"] if visible is None or r in visible]
    out["item_ids"] = list(session["item_ids"])
    out["url"] = url_for("coaching.detail", session_id=session["id"])
    return out


def _day(text: str):
    from datetime import date

    return date.fromisoformat(text)


# ---------------------------------------------------------------- the list and its filters


def _int_arg(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(
            gettext("%(name)s must be a number, not “%(raw)s”.", name=name, raw=raw), "invalid_number"
        ) from None


def _filters() -> dict:
    """meister / org (ids), fy (a year, 'all'; default: the current fiscal year), status (waiting / confirmed)."""
    viewer = auth.current_viewer()
    fy_raw = (request.args.get("fy") or "").strip()
    if fy_raw in ("", "all"):
        fy = programme.current_fiscal_year() if fy_raw == "" else None
    else:
        try:
            fy = int(fy_raw)
        except ValueError:
            raise BadRequest(
                gettext("fy must be a year (for example 2025) or “all”, not “%(raw)s”.", raw=fy_raw), "invalid_year"
            ) from None
        if not 2000 <= fy <= 2100:
            raise BadRequest(gettext("fy must be a year between 2000 and 2100, not %(fy)d.", fy=fy), "invalid_year")
    status = (request.args.get("status") or "").strip()
    if status not in STATUS_LABELS:
        raise BadRequest(gettext("status must be “waiting”, “confirmed” or empty."), "invalid_status")
    meister = _int_arg("meister") if viewer.sees_everything else viewer.meister_id
    return {"meister": meister, "org": _int_arg("org"), "fy": fy, "status": status}


def _own_only() -> bool:
    return not auth.current_viewer().sees_everything


def list_payload() -> dict:
    conn, f = get_db(), _filters()
    if _own_only() and f["meister"] is None:
        sessions, waiting = [], 0  # a meister account not linked to the registry has no sessions
    else:
        start, end = programme.fiscal_year_bounds(f["fy"]) if f["fy"] is not None else (None, None)
        confirmed = {"": None, "waiting": False, "confirmed": True}[f["status"]]
        sessions = coaching.list_sessions(
            conn, meister_id=f["meister"], organisation_id=f["org"], confirmed=confirmed, start=start, end=end
        )
        waiting = len(coaching.list_sessions(conn, meister_id=f["meister"] if _own_only() else None, confirmed=False))
    rows = [_public(s) for s in sessions]
    return {
        "filters": {"meister": f["meister"], "org": f["org"], "fy": f["fy"], "status": f["status"]},
        "sessions": rows,
        "count": len(rows),
        "hours": round(sum(s["hours"] for s in rows), 2),
        "waiting": waiting,
    }


def _fiscal_years(conn) -> list[int]:
    current = programme.current_fiscal_year()
    years = {current}
    for held_on in coaching.held_on_days(conn):
        try:
            years.add(programme.fiscal_year_of(_day(held_on)))
        except ValueError:
            continue
    return sorted(years, reverse=True)


@bp.get("/coaching", endpoint="index")
@meister_up
def index():
    conn, actor = get_db(), _actor()
    payload = list_payload()
    choices = {
        "fiscal_years": _fiscal_years(conn),
        "organisations": users.organisation_choices(conn),
        "meisters": meisters.meister_choices(conn) if not _own_only() else [],
    }
    return http.html_or_json(
        payload,
        "coaching/list.html",
        choices=choices,
        actor=actor,
        fy_bounds=programme.fiscal_year_bounds(payload["filters"]["fy"])
        if payload["filters"]["fy"] is not None
        else None,
        done=request.args.get("done", ""),
        just_confirmed=_just_confirmed(),
    )


def _just_confirmed() -> dict | None:
    """?confirmed=<id> after a Confirm button on a list: that session, when it exists and is confirmed, so the
    page can say so (the pages keep no server-side flash; the notice travels in the address like done=)."""
    raw = request.args.get("confirmed", "")
    if not raw.isdigit() or not auth.current_viewer().at_least("coordinator"):  # only they confirm
        return None
    try:
        session = coaching.get_session(get_db(), int(raw))
    except NotFound:
        return None
    return session if session["confirmed"] else None


def with_arg(url: str, name: str, value) -> str:
    """``url`` with the query argument ``name`` set to ``value`` (replacing an earlier one), fragment kept."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name] + [(name, str(value))]
    return urlunsplit(parts._replace(query=urlencode(query)))


# ---------------------------------------------------------------- log, change, delete, confirm


def _form_page(
    values: dict, offered: dict, *, session: dict | None = None, error: str | None = None, status: int = 200
):
    actor = _actor()
    return render_template(
        "coaching/form.html",
        values=values,
        offered=offered,
        session=session,
        error=error,
        actor=actor,
        chooses_meister=actor.viewer.at_least("coordinator"),
        chooses_items=form.chooses_items(actor),
        own_meister=actor.meister if actor.role == "meister" else None,
    ), status


def _with_own_meister(values: dict) -> dict:
    actor = _actor()
    if actor.role == "meister" and not values.get("meister_id") and actor.meister_id is not None:
        values["meister_id"] = str(actor.meister_id)
    return values


def _save(values: dict, session: dict | None = None) -> int:
    """Log (session None) or change a session; InputError / coaching.NotAllowed / NotFound pass through."""
    conn, actor = get_db(), _actor()
    keep = form.values_of(session) if session is not None else None
    offered = form.candidates(conn, actor, values, keep)
    fields = form.to_fields(conn, actor, values, offered, session)
    if session is None:
        return coaching.log_session(conn, actor, **fields)
    coaching.update_session(conn, session["id"], actor, **fields)
    return session["id"]


def _input_error(e: InputError, values: dict, session: dict | None):
    """400 with the message (JSON), or the form again with everything typed and the message."""
    message = form.error_message(e)
    if http.answers_json():
        return http.json_error(400, message, e.code)
    keep = form.values_of(session) if session is not None else None
    offered = form.candidates(get_db(), _actor(), values, keep)
    return _form_page(values, offered, session=session, error=message, status=400)


@bp.route("/coaching/new", methods=["GET", "POST"], endpoint="new")
@meister_up
def new():
    conn, actor = get_db(), _actor()
    if request.method == "GET":
        values = form.blank_values(actor, conn)
        error = None
        if actor.role == "meister" and actor.meister_id is None:
            error = str(form.MESSAGES["no_meister"])
        return _form_page(values, form.candidates(conn, actor, values), error=error)
    return _create()


def _create():
    values = _with_own_meister(form.read_values())
    try:
        session_id = _save(values)
    except coaching.NotAllowed:
        raise Refused(403, str(form.REFUSALS["log"])) from None
    except InputError as e:
        return _input_error(e, values, None)
    if http.answers_json():
        return jsonify(_public(coaching.get_session(get_db(), session_id))), 201
    return redirect(url_for("coaching.detail", session_id=session_id, saved=1), code=303)


def _changeable(session_id: int) -> dict:
    """The session if the asker may change it: 404 when they may not see it, 403 when only see."""
    session = _session(session_id)
    if not coaching.may_change(_actor(), session):
        abort(403, description=str(form.REFUSALS["change"]))
    return session


@bp.get("/coaching/<int:session_id>", endpoint="detail")
@meister_up
def detail(session_id: int):
    conn, actor = get_db(), _actor()
    session = _session(session_id)
    public = _public(session)
    recs = coaching.linked_recordings(conn, public["recording_ids"])
    items = []
    if actor.viewer.at_least("coordinator") and session["item_ids"]:
        items = coaching.linked_items(conn, session["item_ids"])
        for it in items:
            it["label"] = form.item_label(it)
    return http.html_or_json(
        public,
        "coaching/session.html",
        session=session,
        recordings=recs,
        items=items,
        hidden_recordings=len(session["recording_ids"]) - len(public["recording_ids"]),
        may_change=coaching.may_change(actor, session),
        may_confirm=actor.viewer.at_least("coordinator"),
        saved=request.args.get("saved"),
    )


@bp.route("/coaching/<int:session_id>/edit", methods=["GET", "POST"], endpoint="edit")
@meister_up
def edit(session_id: int):
    conn, actor = get_db(), _actor()
    session = _changeable(session_id)
    if request.method == "GET":
        values = form.values_of(session)
        return _form_page(values, form.candidates(conn, actor, values, values), session=session)
    values = _with_own_meister(form.read_values())
    try:
        _save(values, session)
    except coaching.NotAllowed:
        raise Refused(403, str(form.REFUSALS["log"])) from None
    except InputError as e:
        return _input_error(e, values, session)
    return redirect(url_for("coaching.detail", session_id=session_id, saved=1), code=303)


@bp.post("/coaching/<int:session_id>/delete", endpoint="delete")
@meister_up
def delete(session_id: int):
    _changeable(session_id)
    coaching.delete_session(get_db(), session_id, _actor())
    return redirect(url_for("coaching.index", done="deleted"), code=303)


def _confirm(session_id: int) -> dict:
    session = _session(session_id)
    actor = _actor()
    if not actor.viewer.at_least("coordinator"):
        abort(403, description=str(form.REFUSALS["confirm"]))
    if not session["confirmed"]:  # confirming twice keeps the first confirmation's who and when
        coaching.confirm(get_db(), session_id, actor)
    return coaching.get_session(get_db(), session_id)


@bp.post("/coaching/<int:session_id>/confirm", endpoint="confirm")
@meister_up
def confirm(session_id: int):
    _confirm(session_id)
    back = request.form.get("next")
    if back:  # back to the list it was confirmed from, which then says so (issue 14, item 10)
        return redirect(with_arg(http.safe_next(back), "confirmed", session_id), code=303)
    return redirect(url_for("coaching.detail", session_id=session_id, saved="confirmed"), code=303)


# ---------------------------------------------------------------- JSON API (tokens work here)


@bp.get("/api/v1/coaching", endpoint="api_list")
@meister_up
def api_list():
    return jsonify(list_payload())


@bp.post("/api/v1/coaching", endpoint="api_create")
@meister_up
def api_create():
    """The form's fields as JSON or form data; technicians, recording_ids, item_ids as lists of ids.
    201 with the session; 400 {error, code}; 403 for a meister logging for someone else."""
    return _create()


@bp.get("/api/v1/coaching/<int:session_id>", endpoint="api_detail")
@meister_up
def api_detail(session_id: int):
    return jsonify(_public(_session(session_id)))


@bp.post("/api/v1/coaching/<int:session_id>/confirm", endpoint="api_confirm")
@meister_up
def api_confirm(session_id: int):
    return jsonify(_public(_confirm(session_id)))
