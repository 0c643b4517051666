""" "My learning": a technician's curricula and progress; progress events from the player; sign-offs.

Why the rules are these:

- everyone logged in has a "my learning" page, and it shows only their own
  curricula and progress (a curriculum not assigned to them is 404, exactly
  like a missing one);
- progress arrives as events with an id made by the browser (progress.js
  keeps unsent ones in localStorage and sends them again), and the server
  stores each id once, so a lost connection loses nothing and counts nothing
  twice.  The endpoint takes a batch and answers per event;
- meisters sign off the technicians of their own organisation, coordinators
  and admins anyone (kb.curricula_progress.may_sign_off).
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, jsonify, redirect, request, url_for
from flask_babel import gettext as _

from kb import curricula, curricula_progress as progress, users
from kb.errors import InputError, KBError, NotFound
from web import auth, http
from web.curricula_messages import error_message
from web.db import get_db

bp = Blueprint("learning", __name__)
MAX_BATCH = 200


@bp.app_template_global()
def learning_item(recording_id: int) -> dict | None:
    """On the recording page opened from "my learning" (?item=<id>): the item, so progress.js can report
    it was watched; None when the item is not this recording's or not assigned to the viewer."""
    viewer = auth.current_viewer()
    raw = request.args.get("item")
    if not viewer.is_authenticated or viewer.user_id is None or not raw or not raw.isdigit():
        return None
    conn = get_db()
    try:
        item = curricula.get_item(conn, int(raw))
    except NotFound:
        return None
    if item["recording_id"] != recording_id or not curricula.is_assigned(conn, item["curriculum_id"], viewer.user_id):
        return None
    return {
        "id": item["id"],
        "kind": item["kind"],
        "start": item["start"],
        "end": item["end"],
        "user": viewer.user_id,
        "threshold": progress.WATCHED_FRACTION,
        "curriculum_id": item["curriculum_id"],
        "title": curricula.get(conn, item["curriculum_id"])["title"],
    }


@bp.get("/learning")
@auth.login_required
def mine():
    conn = get_db()
    user_id = auth.current_viewer().user_id
    rows = []
    for c in curricula.curricula_for_user(conn, user_id) if user_id is not None else []:
        p = progress.user_progress(conn, c["id"], user_id)
        rows.append(
            {
                "curriculum": c,
                "total": p["total"],
                "done": p["done"],
                "percent": p["percent"],
                "signed_off": p["signed_off"],
                "completed": p["completed"],
                "flagged": p["flagged"],
                "next_item": p["next_item"],
            }
        )
    from web.views import saved as saved_views  # 後で見る: the moments this person kept for later

    return http.html_or_json({"curricula": rows, "saved": saved_views.listing()}, "learning/mine.html")


def _my_curriculum(curriculum_id: int) -> dict:
    viewer = auth.current_viewer()
    c = curricula.get(get_db(), curriculum_id)
    if viewer.user_id is None or not curricula.is_assigned(get_db(), curriculum_id, viewer.user_id):
        raise NotFound(f"no curriculum with id {curriculum_id}")
    return c


@bp.get("/learning/c/<int:curriculum_id>")
@auth.login_required
def curriculum(curriculum_id: int):
    c = _my_curriculum(curriculum_id)
    p = progress.user_progress(get_db(), curriculum_id, auth.current_viewer().user_id)
    return http.html_or_json({"curriculum": c, **p}, "learning/curriculum.html", new_event_id=_new_event_id)


def _new_event_id() -> str:
    """A fresh id for a form: the form sent twice (double click, back and resend) counts once."""
    return str(uuid.uuid4())


@bp.post("/learning/items/<int:item_id>/done")
@auth.login_required
def mark_done(item_id: int):
    """The technician marks an item done (done=1) or not done after all (done=0)."""
    conn = get_db()
    user_id = auth.current_viewer().user_id
    kind = "done" if request.form.get("done", "1") == "1" else "undone"
    try:
        outcome = progress.record_event(
            conn, user_id or 0, event_id=request.form.get("event_id", ""), item_id=item_id, kind=kind
        )
    except InputError as e:
        abort(400, description=error_message(e))
    item = curricula.get_item(conn, item_id)
    if http.wants_json():
        return jsonify({"status": outcome, "item_id": item_id})
    return redirect(url_for("learning.curriculum", curriculum_id=item["curriculum_id"]) + f"#item-{item_id}", code=303)


@bp.post("/learning/events")
@auth.login_required
def events():
    """JSON {"events": [{"event_id", "item_id", "kind", "fraction"}]} (or one event): each answered with
    recorded / duplicate (already counted: the browser may forget it) / refused (with why: drop it)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return http.json_error(400, _('Send JSON: {"events": [...]}.'), "json_required")
    batch = body.get("events") if "events" in body else [body]
    if not isinstance(batch, list) or len(batch) > MAX_BATCH:
        return http.json_error(400, _("events must be a list of at most %(n)d.", n=MAX_BATCH), "too_many_events")
    user_id = auth.current_viewer().user_id
    conn = get_db()
    results = []
    for ev in batch:
        ev = ev if isinstance(ev, dict) else {}
        answer = {"event_id": ev.get("event_id")}
        try:
            answer["status"] = progress.record_event(
                conn,
                user_id or 0,
                event_id=str(ev.get("event_id") or ""),
                item_id=ev.get("item_id"),
                kind=str(ev.get("kind") or ""),
                fraction=ev.get("fraction"),
            )
        except KBError as e:
            answer.update(status="refused", error=error_message(e))
        results.append(answer)
    return jsonify({"results": results})


# ---------------------------------------------------------------- sign-off


@bp.route("/learning/signoff", methods=["GET", "POST"])
@auth.role_required("meister")
def signoff():
    """GET: what is waiting for a practical check.  POST item_id, user_id, comment: sign it off
    (withdraw=1 takes a sign-off back)."""
    conn = get_db()
    viewer = auth.current_viewer()
    if request.method == "POST":
        try:
            item_id, user_id = int(request.form.get("item_id", "")), int(request.form.get("user_id", ""))
        except ValueError:
            abort(400, description=_("Which item and which technician?"))
        try:
            technician = users.get_account(conn, user_id)
        except NotFound:
            abort(404)
        if not progress.may_sign_off(viewer, technician.organisation_id):
            abort(403, description=_("Meisters sign off the technicians of their own organisation."))
        try:
            if request.form.get("withdraw") == "1":
                progress.withdraw_sign_off(conn, item_id, user_id)
            else:
                progress.sign_off(
                    conn, item_id, user_id, users.get_account(conn, viewer.user_id), request.form.get("comment", "")
                )
        except InputError as e:
            abort(400, description=error_message(e))
        if http.wants_json():
            return jsonify(progress.signoffs(conn, user_id, [item_id]).get(item_id) or {"withdrawn": True})
        return redirect(
            http.safe_next(request.form.get("next"))
            if request.form.get("next")
            else url_for("learning.signoff", signed=1),
            code=303,
        )
    pending = progress.pending_signoffs(conn, viewer)
    return http.html_or_json({"pending": pending}, "learning/signoff.html", signed=request.args.get("signed"))
