"""Coordinators build curricula from recorded moments, assign them, and follow progress in a skills matrix.

Why every route here is for coordinators and admins (role_required): they run
the programme.  Meisters sign off and technicians follow their own progress in
web.views.learning.  A coordinator sees every recording (kb.access), so any
moment may go into a curriculum; whether each assignee may open it is checked
per assignee and shown as a flag (kb.curricula_progress.flag), never hidden.

Pages work without JavaScript (forms and redirects); curriculum.js adds drag
and drop, which posts the whole order to /curricula/<id>/layout.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext

from kb import curricula, curricula_progress as progress, recordings, urls, users
from kb.access import visible_recording_ids
from kb.errors import InputError, KBError
from web import auth, http
from web.curricula_messages import error_message
from web.db import get_db
from web.errors import Refused

bp = Blueprint("curricula", __name__)

LEVEL_LABELS = {
    "": lazy_gettext("Any level"),
    "basic": lazy_gettext("Basic"),
    "intermediate": lazy_gettext("Intermediate"),
    "advanced": lazy_gettext("Advanced"),
}
STATE_LABELS = {
    "not_started": lazy_gettext("Not started"),
    "watched": lazy_gettext("Watched"),
    "done": lazy_gettext("Done"),
    "signed_off": lazy_gettext("Signed off"),
    "removed": lazy_gettext("recording removed"),
    "hidden": lazy_gettext("not visible to them"),
    "unavailable": lazy_gettext("not ready"),
    "yes": lazy_gettext("Yes"),
    "no": lazy_gettext("No"),
}
coordinator = auth.role_required("coordinator")


@bp.app_context_processor
def _labels():
    return {
        "level_label": lambda v: str(LEVEL_LABELS.get(v or "", v)),
        "state_label": lambda v: str(STATE_LABELS.get(v, v)),
        "item_url": item_url,
    }


def item_url(item: dict, learning: bool = False) -> str | None:
    """Where an item opens: its moment (or passage) on the recording page; with ``learning``, the page
    also reports progress for this item (progress.js).  None when the recording is gone."""
    if item.get("recording_id") is None:
        return None
    url = urls.moment(
        item["recording_id"], item.get("start"), item.get("page"), _item_chunk(item), end=item.get("end")
    )  # the player stops at the item's end (web/static/js/moments.js)
    return urls.with_params(url, item=item["id"]) if learning else url


def _item_chunk(item: dict) -> int | None:
    """An item's passage id, in its address only when it has neither a time nor a page."""
    return item.get("chunk_id") if item.get("start") is None and item.get("page") is None else None


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _curriculum(curriculum_id: int) -> dict:
    return curricula.get(get_db(), curriculum_id)  # NotFound -> 404


def _back(curriculum_id: int, anchor: str = "", **args):
    return redirect(url_for("curricula.edit", curriculum_id=curriculum_id, **args) + anchor, code=303)


# ---------------------------------------------------------------- list, create, edit


@bp.get("/curricula")
@coordinator
def index():
    archived = request.args.get("archived") == "1"
    rows = curricula.list_curricula(get_db(), archived=archived)
    return http.html_or_json({"curricula": rows, "archived": archived}, "curricula/list.html")


@bp.route("/curricula/new", methods=["GET", "POST"])
@coordinator
def new():
    values = {k: request.form.get(k, "") for k in ("title", "goal", "level", "description")}
    if request.method == "POST":
        try:
            cid = curricula.create(get_db(), created_by=auth.current_viewer().user_id, **values)
        except InputError as e:
            return render_template("curricula/new.html", values=values, error=error_message(e)), 400
        if http.wants_json():
            return jsonify(curricula.get(get_db(), cid)), 201
        return redirect(url_for("curricula.edit", curriculum_id=cid), code=303)
    return render_template("curricula/new.html", values=values, error=None)


def edit_payload(conn, curriculum_id: int) -> dict:
    """The curriculum, its groups of items (each flagged with how many assignees cannot open it), assignments."""
    c = curricula.get(conn, curriculum_id)
    groups = curricula.outline(conn, curriculum_id)
    people = curricula.assignees(conn, curriculum_id)
    all_items = [it for g in groups for it in g["items"]]
    recs = recordings.get_many(conn, [it["recording_id"] for it in all_items if it["recording_id"] is not None])
    viewers = [users.get_account(conn, p["id"]).viewer for p in people]
    for it in all_items:
        rec = recs.get(it["recording_id"])
        it["removed"] = rec is None
        it["hidden_from"] = 0 if rec is None else sum(1 for v in viewers if progress.flag(it, rec, v) is not None)
        it["url"] = item_url(it)
    return {
        "curriculum": c,
        "groups": groups,
        "assignments": curricula.assignments(conn, curriculum_id),
        "assignees": people,
    }


@bp.route("/curricula/<int:curriculum_id>", methods=["GET", "POST"])
@coordinator
def edit(curriculum_id: int):
    conn = get_db()
    _curriculum(curriculum_id)
    error = None
    if request.method == "POST":
        try:
            curricula.update(
                conn, curriculum_id, **{k: request.form.get(k, "") for k in ("title", "goal", "level", "description")}
            )
            return _back(curriculum_id, saved=1)
        except InputError as e:
            error = error_message(e)
    return _edit_page(curriculum_id, error=error)


def _edit_page(
    curriculum_id: int, error: str | None = None, assign_error: str | None = None, assign_values: dict | None = None
):
    """The curriculum's page; ``assign_error`` is shown at the assign form, which keeps what was chosen."""
    conn = get_db()
    payload = edit_payload(conn, curriculum_id)
    failed = error or assign_error
    return http.html_or_json(
        payload,
        "curricula/edit.html",
        status=400 if failed else 200,
        error=error,
        assign_error=assign_error,
        assign_values=assign_values or {},
        people=curricula.assignable_people(conn),
        cohorts=curricula.list_cohorts(conn),
        saved=request.args.get("saved"),
        assigned=request.args.get("assigned"),
    )


# ---------------------------------------------------------------- sections and items


@bp.post("/curricula/<int:curriculum_id>/sections")
@coordinator
def add_section(curriculum_id: int):
    _curriculum(curriculum_id)
    try:
        curricula.add_section(get_db(), curriculum_id, request.form.get("title", ""))
    except InputError as e:
        raise Refused(400, error_message(e), e.code) from e
    return _back(curriculum_id, "#items")


@bp.post("/curricula/<int:curriculum_id>/sections/<int:section_id>")
@coordinator
def section(curriculum_id: int, section_id: int):
    """action = rename (title) / up / down / delete (its items move out of sections, they are not removed)."""
    conn = get_db()
    if curricula.get_section(conn, section_id)["curriculum_id"] != curriculum_id:
        abort(404)
    action = request.form.get("action")
    try:
        if action == "rename":
            curricula.rename_section(conn, section_id, request.form.get("title", ""))
        elif action in ("up", "down"):
            curricula.move_section(conn, section_id, -1 if action == "up" else 1)
        elif action == "delete":
            curricula.remove_section(conn, section_id)
        else:
            raise Refused(400, _("Unknown action."))
    except InputError as e:
        raise Refused(400, error_message(e), e.code) from e
    return _back(curriculum_id, f"#section-{section_id}" if action != "delete" else "#items")


@bp.post("/curricula/<int:curriculum_id>/items/<int:item_id>")
@coordinator
def item(curriculum_id: int, item_id: int):
    """action = up / down (keyboard reordering) / save (note, required) / remove."""
    conn = get_db()
    if curricula.get_item(conn, item_id)["curriculum_id"] != curriculum_id:
        abort(404)
    action = request.form.get("action")
    try:
        if action in ("up", "down"):
            curricula.move_item(conn, item_id, -1 if action == "up" else 1)
        elif action == "save":
            curricula.update_item(
                conn, item_id, note=request.form.get("note", ""), required=request.form.get("required") == "1"
            )
        elif action == "remove":
            curricula.remove_item(conn, item_id)
            return _back(curriculum_id, "#items")
        else:
            raise Refused(400, _("Unknown action."))
    except InputError as e:
        raise Refused(400, error_message(e), e.code) from e
    if http.wants_json():
        return jsonify({"layout": curricula.layout(conn, curriculum_id)})
    return _back(curriculum_id, f"#item-{item_id}")


@bp.post("/curricula/<int:curriculum_id>/layout")
@coordinator
def layout(curriculum_id: int):
    """Drag and drop: JSON {"layout": [[section id or null, [item ids]], ...]}, the whole order at once."""
    _curriculum(curriculum_id)
    body = request.get_json(silent=True) or {}
    try:
        curricula.set_layout(get_db(), curriculum_id, body.get("layout") or [])
    except InputError as e:
        return http.json_error(409, error_message(e), e.code)
    return jsonify({"layout": curricula.layout(get_db(), curriculum_id)})


@bp.route("/curricula/add", methods=["GET", "POST"])
@coordinator
def add():
    """ "Add to curriculum" from a search result or a recording page: which curriculum, a note, required."""
    conn = get_db()
    source = request.values  # POST: the form, and the address for recording_id too
    recording_id = _int(source.get("recording_id"))
    if recording_id is None:
        raise Refused(400, _("Which recording? (recording_id is missing)"))
    rec = auth.viewable_recording(recording_id)
    moment = {
        "start": _float(source.get("start")),
        "end": _float(source.get("end")),
        "page": _int(source.get("page")),
        "chunk_id": _int(source.get("chunk_id")),
    }
    choices = curricula.list_curricula(conn)
    error = None
    if request.method == "POST":
        cid = _int(request.form.get("curriculum_id"))
        try:
            if cid is None and request.form.get("new_title", "").strip():
                cid = curricula.create(conn, title=request.form["new_title"], created_by=auth.current_viewer().user_id)
            if cid is None:
                raise InputError(_("Choose a curriculum or give a new one a title."))
            curricula.get(conn, cid)
            item_id = curricula.add_item(
                conn,
                cid,
                recording_id,
                note=request.form.get("note", ""),
                required=request.form.get("required", "1") == "1",
                section_id=_int(request.form.get("section_id")),
                **moment,
            )
        except KBError as e:
            error = error_message(e)
        else:
            if http.wants_json():
                return jsonify(curricula.get_item(conn, item_id)), 201
            return redirect(url_for("curricula.edit", curriculum_id=cid, added=item_id) + f"#item-{item_id}", code=303)
    return render_template(
        "curricula/add.html",
        rec=rec,
        moment=moment,
        choices=choices,
        error=error,
        back=http.safe_next(source.get("next")),
    ), 400 if error else 200


# ---------------------------------------------------------------- assigning


@bp.post("/curricula/<int:curriculum_id>/assign")
@coordinator
def assign(curriculum_id: int):
    """target = "user:<id>" or "cohort:<id>", due_date YYYY-MM-DD (optional)."""
    _curriculum(curriculum_id)
    values = {"target": request.form.get("target") or "", "due_date": request.form.get("due_date") or ""}
    kind, _sep, raw = values["target"].partition(":")
    target = _int(raw)
    try:
        if kind not in ("user", "cohort") or target is None:  # the placeholder: nobody chosen yet
            raise InputError(_("Choose who gets this curriculum: a technician or a cohort."))
        curricula.assign(
            get_db(),
            curriculum_id,
            due_date=values["due_date"],
            assigned_by=auth.current_viewer().user_id,
            **({"user_id": target} if kind == "user" else {"cohort_id": target}),
        )
    except KBError as e:
        if http.wants_json():
            raise Refused(400, error_message(e), e.code) from e
        return _edit_page(curriculum_id, assign_error=error_message(e), assign_values=values)
    return _back(curriculum_id, "#assign", assigned=1)


@bp.post("/curricula/<int:curriculum_id>/assignments/<int:assignment_id>/delete")
@coordinator
def unassign(curriculum_id: int, assignment_id: int):
    if not any(a["id"] == assignment_id for a in curricula.assignments(get_db(), curriculum_id)):
        abort(404)
    curricula.unassign(get_db(), assignment_id)
    return _back(curriculum_id, "#assign")


@bp.route("/curricula/cohorts", methods=["GET", "POST"])
@coordinator
def cohorts():
    """Cohorts (groups of technicians, e.g. this year's new hires): make one, change who is in it."""
    conn = get_db()
    error = None
    if request.method == "POST":
        members = [m for m in (_int(v) for v in request.form.getlist("members")) if m is not None]
        cohort_id = _int(request.form.get("cohort_id"))
        try:
            if cohort_id is None:
                curricula.create_cohort(
                    conn, request.form.get("name", ""), _int(request.form.get("organisation_id")), members
                )
            else:
                curricula.set_members(conn, cohort_id, members)
            return redirect(url_for("curricula.cohorts"), code=303)
        except KBError as e:
            error = error_message(e)
    rows = curricula.list_cohorts(conn)
    for c in rows:
        c["members"] = curricula.cohort_members(conn, c["id"])
    return http.html_or_json(
        {"cohorts": rows},
        "curricula/cohorts.html",
        status=400 if error else 200,
        error=error,
        people=curricula.assignable_people(conn),
        organisations=users.list_organisations(conn),
    )


# ---------------------------------------------------------------- following progress


def _matrix_args() -> dict:
    by = request.args.get("by") if request.args.get("by") in ("item", "technique") else "item"
    return {
        "by": by,
        "organisation_id": _int(request.args.get("organisation")),
        "cohort_id": _int(request.args.get("cohort")),
    }


@bp.get("/curricula/<int:curriculum_id>/matrix")
@coordinator
def matrix(curriculum_id: int):
    conn = get_db()
    c = _curriculum(curriculum_id)
    args = _matrix_args()
    data = progress.matrix(conn, curriculum_id, **args)
    payload = {
        "curriculum": c,
        "by": data["by"],
        "columns": [{"title": col["title"], "items": col["items"]} for col in data["columns"]],
        "rows": [{"user": r["user"], "cells": r["cells"], "completed": r["completed"]} for r in data["rows"]],
    }
    return http.html_or_json(
        payload,
        "curricula/matrix.html",
        args=args,
        organisations=users.list_organisations(conn),
        cohorts=curricula.list_cohorts(conn),
    )


@bp.get("/curricula/<int:curriculum_id>/matrix.csv")
@coordinator
def matrix_csv(curriculum_id: int):
    """The matrix for Excel: UTF-8 with BOM, so Japanese names and titles open intact."""
    c = _curriculum(curriculum_id)
    data = progress.matrix(get_db(), curriculum_id, **_matrix_args())
    labels = {k: str(v) for k, v in STATE_LABELS.items()}
    headings = {
        "login": _("Login"),
        "name": _("Name"),
        "organisation": _("Organisation"),
        "due": _("Due date"),
        "completed": _("Completed"),
    }
    body = progress.matrix_csv(data, labels, headings)
    from urllib.parse import quote

    name = quote(f"{c['title']}-matrix.csv")
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="curriculum-{curriculum_id}-matrix.csv"; '
            f"filename*=UTF-8''{name}",
            "Cache-Control": "private, no-store",
        },
    )


# ---------------------------------------------------------------- copy, archive


@bp.post("/curricula/<int:curriculum_id>/copy")
@coordinator
def copy(curriculum_id: int):
    src = _curriculum(curriculum_id)
    new_id = curricula.copy(
        get_db(),
        curriculum_id,
        title=_("%(title)s (copy)", title=src["title"]),
        created_by=auth.current_viewer().user_id,
    )
    return redirect(url_for("curricula.edit", curriculum_id=new_id), code=303)


@bp.post("/curricula/<int:curriculum_id>/archive")
@coordinator
def archive(curriculum_id: int):
    _curriculum(curriculum_id)
    curricula.set_archived(get_db(), curriculum_id, request.form.get("archived", "1") == "1")
    return _back(curriculum_id)


def suggest_search(query: str, limit: int, recording_ids):
    """The app's search (the same Searcher as the search page), for kb.curricula_suggest."""
    from services.search import SearchRequest
    from web.db import search_service

    return search_service().search(SearchRequest(query=query, limit=limit), recording_ids=recording_ids).hits


def suggest_margin(hit) -> float | None:
    """A hit's margin above the relevance bar (logits), which kb.curricula_suggest compares to the best's."""
    from search import strength

    return strength.margin(hit.signals, "hybrid")


def viewer_recording_ids():
    return visible_recording_ids(get_db(), auth.current_viewer())


@bp.route("/curricula/<int:curriculum_id>/suggest", methods=["GET", "POST"])
@coordinator
def suggest(curriculum_id: int):
    """GET ?goal=: moments proposed for the goal, basic to advanced (kb.curricula_suggest explains the order);
    POST the ticked ones (key=...): they are added in that order."""
    from kb import curricula_suggest

    conn = get_db()
    c = _curriculum(curriculum_id)
    if request.method == "POST":
        keys = request.form.getlist("key")
        try:
            moments = [curricula_suggest.parse_key(k) for k in keys]
        except ValueError:
            raise Refused(400, _("The list of moments is malformed. Make the suggestion again.")) from None
        section_id = _int(request.form.get("section_id"))
        try:
            for m in moments:
                auth.viewable_recording(m["recording_id"])
                curricula.add_item(conn, curriculum_id, section_id=section_id, **m)
        except KBError as e:
            raise Refused(400, error_message(e), e.code) from e
        return _back(curriculum_id, "#items")
    goal = (request.args.get("goal") if "goal" in request.args else c["goal"]) or ""
    found = (
        curricula_suggest.suggest(
            suggest_search,
            lambda ids: recordings.get_many(conn, ids),
            goal,
            viewer_recording_ids(),
            margin_of=suggest_margin,
        )
        if goal.strip()
        else []
    )
    payload = {"curriculum": c, "goal": goal, "suggestions": [dict(vars(s), key=s.key()) for s in found]}
    return http.html_or_json(payload, "curricula/suggest.html", sections=curricula.sections(conn, curriculum_id))


# ---------------------------------------------------------------- print, PDF, JSON


def absolute_link(item: dict) -> str | None:
    from flask import current_app

    path = item_url(item)
    if path is None:
        return None
    return (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/") + path


@bp.get("/curricula/<int:curriculum_id>/print")
@coordinator
def print_page(curriculum_id: int):
    """A page to print (or save as PDF from the browser): each item with a QR code to its moment."""
    conn = get_db()
    c = _curriculum(curriculum_id)
    groups = curricula.outline(conn, curriculum_id)
    for g in groups:
        for it in g["items"]:
            it["url"] = item_url(it)
            it["link"] = absolute_link(it)
            it["qr"] = (
                urls.qr(it["recording_id"], it.get("start"), it.get("page"), _item_chunk(it)) if it["url"] else None
            )
    return render_template("curricula/print.html", c=c, groups=groups)


@bp.get("/curricula/<int:curriculum_id>.pdf")
@coordinator
def pdf(curriculum_id: int):
    from kb import curricula_export

    c = _curriculum(curriculum_id)
    words = {
        "goal": _("Goal"),
        "required": _("Required"),
        "optional": _("Optional"),
        "removed": _("The recording was deleted"),
    }
    body = curricula_export.pdf_bytes(get_db(), curriculum_id, absolute_link, words)
    return Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="curriculum-{curriculum_id}.pdf"; '
            f"filename*=UTF-8''{_quote(c['title'])}.pdf",
            "Cache-Control": "private, no-store",
        },
    )


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@bp.get("/curricula/<int:curriculum_id>/export.json")
@coordinator
def export_json(curriculum_id: int):
    from kb import curricula_export

    c = _curriculum(curriculum_id)
    response = jsonify(curricula_export.to_json(get_db(), curriculum_id))
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"curriculum-{curriculum_id}.json\"; filename*=UTF-8''{_quote(c['title'])}.json"
    )
    return response


@bp.route("/curricula/import", methods=["GET", "POST"])
@coordinator
def import_json():
    """A curriculum file exported from another knowledge base: items are found here by their file's hash."""
    import json

    from kb import curricula_export

    if request.method == "GET":
        return render_template("curricula/import.html", error=None)
    upload = request.files.get("file")
    raw = upload.read(5_000_001) if upload else (request.get_data() if request.is_json else b"")
    error, code = None, None
    if not raw:
        error, code = _("Choose a curriculum file (.json) to import."), "file_required"
    elif len(raw) > 5_000_000:
        error, code = _("The file is too large for a curriculum (at most 5 MB)."), "too_large"
    else:
        try:
            new_id, linked, missing = curricula_export.from_json(
                get_db(), json.loads(raw.decode("utf-8-sig")), created_by=auth.current_viewer().user_id
            )
        except (UnicodeDecodeError, json.JSONDecodeError):
            error, code = _("The file is not JSON."), "not_json"
        except InputError as e:
            error, code = error_message(e), e.code
    if error is not None:
        if http.wants_json() or request.is_json:
            return http.json_error(400, error, code)
        return render_template("curricula/import.html", error=error), 400
    if http.wants_json() or request.is_json:
        return jsonify({"id": new_id, "linked": linked, "missing": missing}), 201
    return redirect(url_for("curricula.edit", curriculum_id=new_id, imported=1, missing=missing), code=303)
