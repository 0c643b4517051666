"""The meister registry (issue 6): directory, profiles and records, editing, and "who can teach this?".

Who may do what (docs/meisters.md):

- everyone logged in reads the directory, every profile and "who can teach this?": the
  registry is public within the programme.  Recordings appear (listed, counted, as
  evidence) only where kb.access lets the reader see them;
- a meister's record shows confirmed coaching sessions to everyone as dates, hours and
  counts; the names of the technicians coached and the session notes only to the meister
  themselves, coordinators and admins (kb.meisters.may_edit), who also get the link to
  each session's page;
- the meister themselves, coordinators and admins change a profile and its
  certifications; only coordinators and admins set organisations and the registration
  date, and register new meisters.

Every page has a JSON twin (Accept: application/json) and the same data is under
/api/v1/meisters.  Refusals from kb.meisters carry a code and are shown in the user's
language; the form keeps what was typed.  Pages work without JavaScript.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext

from kb import meisters, urls, users
from kb.errors import InputError, NotFound
from services.search import teacher_json
from web import auth, http
from web.db import get_db, search_service
from web.errors import BadRequest

bp = Blueprint("meisters", __name__)

MAX_QUESTION = 300
MAX_TEACHERS = 50

FIELDS = {
    "the name": lazy_gettext("The name"),
    "the availability note": lazy_gettext("The availability note"),
    "a technique category": lazy_gettext("A technique category"),
    "a tag": lazy_gettext("A tag"),
    "an area": lazy_gettext("An area"),
    "the certification": lazy_gettext("The certification"),
    "the trade": lazy_gettext("The trade"),
    "the registration date": lazy_gettext("The registration date"),
    "registration date": lazy_gettext("The registration date"),
    "the date obtained": lazy_gettext("The date obtained"),
}

MESSAGES = {
    "required": lazy_gettext("%(what)s is required."),
    "too_long": lazy_gettext("%(what)s is too long (at most %(n)s characters)."),
    "years": lazy_gettext("Years of experience must be a whole number from 0 to 80."),
    "meister_taken": lazy_gettext("A meister named %(name)s is registered already."),
    "date": lazy_gettext("%(what)s %(value)s is not a date (write it as 2025-04-30)."),
    "link_role": lazy_gettext("Only a meister account can be linked to a meister."),
    "link_taken": lazy_gettext("That account is linked to a meister already."),
    "no_organisation": lazy_gettext("There is no such organisation."),
}


def error_message(error: Exception) -> str:
    """A refusal in the user's language (the English message for an error without a known code)."""
    code = getattr(error, "code", None) or ""
    if isinstance(error, NotFound) and "organisation" in str(error):
        code = "no_organisation"
    template = MESSAGES.get(code)
    if template is None:
        return str(error)
    params = dict(getattr(error, "params", {}) or {})
    if "what" in params:
        params["what"] = str(FIELDS.get(params["what"], params["what"]))
    params.setdefault("what", "")
    return str(template) % params


# ---------------------------------------------------------------- helpers


def _meister(meister_id: int) -> dict:
    return meisters.get_meister(get_db(), meister_id)  # NotFound -> 404


def _editable(meister_id: int) -> dict:
    """The meister, if the viewer may change the profile (404 for a missing one, 403 otherwise)."""
    row = _meister(meister_id)
    if not meisters.may_edit(auth.current_viewer(), meister_id):
        abort(403, description=_("Only the meister themselves and coordinators may change this profile."))
    return row


def _int(value, what: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(_("%(what)s must be a whole number.", what=what), "invalid_number") from None


_WORD_SEPARATORS = re.compile(r"[,、，;；\n]")


def words(raw: str | None) -> list[str]:
    """A comma-separated field (、 and ， too, or one per line) as a list of words."""
    return [w.strip() for w in _WORD_SEPARATORS.split(raw or "") if w.strip()]


def _typed() -> dict:
    """The profile form as typed (strings), to show again after a refusal."""
    f = request.form
    return {
        "name": f.get("name", ""),
        "years_experience": f.get("years_experience", ""),
        "availability": f.get("availability", ""),
        "categories": f.get("categories", ""),
        "tags": f.get("tags", ""),
        "areas": f.get("areas", ""),
        "registered_on": f.get("registered_on", ""),
        "organisation_ids": [int(o) for o in f.getlist("organisation_ids") if o.isdigit()],
        "account_id": f.get("account_id", ""),
    }


def _as_typed(profile: dict) -> dict:
    """A stored profile in the form's shape."""
    years = profile.get("years_experience")
    return {
        "name": profile["name"],
        "years_experience": "" if years is None else str(years),
        "availability": profile.get("availability") or "",
        "categories": "、".join(profile["categories"]),
        "tags": "、".join(profile["tags"]),
        "areas": "、".join(profile["areas"]),
        "registered_on": profile.get("registered_on") or "",
        "organisation_ids": [o["id"] for o in profile["organisations"]],
        "account_id": "",
    }


def _changes(typed: dict, coordinator: bool) -> dict:
    """kb.meisters.update_profile's arguments from the typed form (organisations and the registration date
    only from coordinators and admins)."""
    out = {
        "name": typed["name"],
        "years_experience": typed["years_experience"].strip(),
        "availability": typed["availability"],
        "categories": words(typed["categories"]),
        "tags": words(typed["tags"]),
        "areas": words(typed["areas"]),
    }
    if coordinator:
        out["organisation_ids"] = typed["organisation_ids"]
        out["registered_on"] = typed["registered_on"].strip() or None  # empty: as it is (new: today)
    return out


def _organisations() -> list[dict]:
    return users.organisation_choices(get_db())


# ---------------------------------------------------------------- payloads (pages and API alike)


def directory_payload(args) -> dict:
    conn, viewer = get_db(), auth.current_viewer()
    filters = {
        "q": (args.get("q") or "").strip()[:MAX_QUESTION],
        "category": (args.get("category") or "").strip(),
        "area": (args.get("area") or "").strip(),
        "organisation_id": _int(args.get("org"), "org"),
    }
    rows = meisters.directory(
        conn,
        viewer,
        q=filters["q"],
        category=filters["category"],
        area=filters["area"],
        organisation_id=filters["organisation_id"],
    )
    for r in rows:
        r["url"] = urls.meister(r["id"])
    return {"filters": filters, "count": len(rows), "meisters": rows, "choices": meisters.directory_choices(conn)}


def profile_payload(meister_id: int) -> dict:
    conn, viewer = get_db(), auth.current_viewer()
    p = meisters.profile(conn, meister_id, viewer)
    can_edit = meisters.may_edit(viewer, meister_id)
    p["recordings"] = [
        dict(r, url=urls.recording(r["id"])) for r in meisters.visible_recordings(conn, meister_id, viewer)
    ]
    if not can_edit:
        del p["accounts"]
    record = meisters.record(conn, meister_id, viewer)
    if record["detailed"]:
        for s in record["sessions"]:
            s["url"] = f"/coaching/{s['id']}"
    return {"meister": p, "record": record, "can_edit": can_edit}


def teach_payload(args) -> dict:
    """Meisters who can teach ``q`` (search.teachers.rank over what the viewer may see), with evidence."""
    from search import teachers

    conn, viewer = get_db(), auth.current_viewer()
    query = " ".join((args.get("q") or "").split())[:MAX_QUESTION]
    area = (args.get("area") or "").strip()
    org = _int(args.get("org"), "org")
    limit = max(1, min(MAX_TEACHERS, _int(args.get("limit"), "limit") or 10))
    payload = {"query": query, "filters": {"area": area, "organisation_id": org}, "meisters": []}
    if not query:
        return payload
    found = search_service().with_searcher(
        lambda searcher: teachers.rank(
            searcher, conn, query, viewer, area=area or None, organisation_id=org, limit=limit
        )
    )
    payload["meisters"] = [teacher_json(t) for t in found]
    return payload


# ---------------------------------------------------------------- pages


@bp.get("/meisters", endpoint="directory")
@auth.login_required
def directory():
    return http.html_or_json(directory_payload(request.args), "meisters/directory.html")


@bp.get("/meisters/teach")
@auth.login_required
def teach():
    payload = teach_payload(request.args)
    return http.html_or_json(payload, "meisters/teach.html", choices=meisters.directory_choices(get_db()))


@bp.get("/meisters/<int:meister_id>")
@auth.login_required
def profile(meister_id: int):
    _meister(meister_id)
    return http.html_or_json(profile_payload(meister_id), "meisters/profile.html", saved=request.args.get("saved"))


def _edit_page(
    meister_id: int, *, typed: dict | None = None, error: str | None = None, cert: dict | None = None, status: int = 200
):
    payload = profile_payload(meister_id)
    return render_template(
        "meisters/edit.html",
        data=payload,
        typed=typed or _as_typed(payload["meister"]),
        cert=cert or {},
        error=error,
        organisations=_organisations(),
        coordinator=auth.current_viewer().at_least("coordinator"),
        saved=request.args.get("saved"),
    ), status


@bp.route("/meisters/<int:meister_id>/edit", methods=["GET", "POST"])
@auth.login_required
def edit(meister_id: int):
    _editable(meister_id)
    if request.method == "GET":
        return _edit_page(meister_id)
    typed = _typed()
    try:
        meisters.update_profile(get_db(), meister_id, **_changes(typed, auth.current_viewer().at_least("coordinator")))
    except (InputError, NotFound) as e:
        return _edit_page(meister_id, typed=typed, error=error_message(e), status=400)
    return redirect(url_for("meisters.profile", meister_id=meister_id, saved=1), code=303)


@bp.post("/meisters/<int:meister_id>/certifications")
@auth.login_required
def add_certification(meister_id: int):
    _editable(meister_id)
    cert = {k: request.form.get(k, "") for k in ("name", "trade", "obtained_on")}
    try:
        meisters.add_certification(get_db(), meister_id, cert["name"], cert["trade"], cert["obtained_on"])
    except InputError as e:
        return _edit_page(meister_id, cert=cert, error=error_message(e), status=400)
    return redirect(url_for("meisters.edit", meister_id=meister_id, saved=1) + "#certifications", code=303)


@bp.post("/meisters/<int:meister_id>/certifications/<int:certification_id>/delete")
@auth.login_required
def delete_certification(meister_id: int, certification_id: int):
    _editable(meister_id)
    conn = get_db()
    if meisters.certification_owner(conn, certification_id) != meister_id:
        raise NotFound(f"no certification with id {certification_id}")
    meisters.remove_certification(conn, certification_id)
    return redirect(url_for("meisters.edit", meister_id=meister_id, saved=1) + "#certifications", code=303)


@bp.route("/meisters/new", methods=["GET", "POST"])
@auth.role_required("coordinator")
def new():
    conn = get_db()
    typed = (
        _typed()
        if request.method == "POST"
        else {
            "name": "",
            "years_experience": "",
            "availability": "",
            "categories": "",
            "tags": "",
            "areas": "",
            "registered_on": "",
            "organisation_ids": [],
            "account_id": "",
        }
    )
    error = None
    if request.method == "POST":
        try:
            account_id = _int(typed["account_id"], "account_id")
            if account_id is not None:
                meisters.check_link(conn, account_id)
            changes = _changes(typed, coordinator=True)
            name = changes.pop("name")
            registered_on = changes.pop("registered_on")
            mid = meisters.create_meister(conn, name, registered_on=registered_on, **changes)
            if account_id is not None:
                meisters.link_account(conn, mid, account_id)
        except (InputError, NotFound, BadRequest) as e:
            error = error_message(e)
        else:
            return redirect(url_for("meisters.profile", meister_id=mid, saved=1), code=303)
    return render_template(
        "meisters/new.html",
        typed=typed,
        error=error,
        organisations=_organisations(),
        accounts=meisters.unlinked_accounts(conn),
    ), 400 if error else 200


# ---------------------------------------------------------------- JSON API (/api/v1/meisters)


@bp.get("/api/v1/meisters")
@auth.login_required
def api_directory():
    return jsonify(directory_payload(request.args))


@bp.get("/api/v1/meisters/teach")
@auth.login_required
def api_teach():
    if not (request.args.get("q") or "").strip():
        return http.json_error(
            400,
            _(
                "q is required: the question or technique to find a teacher for "
                "(for example /api/v1/meisters/teach?q=旋盤のびびり)."
            ),
            "q_required",
        )
    return jsonify(teach_payload(request.args))


@bp.get("/api/v1/meisters/<int:meister_id>")
@auth.login_required
def api_profile(meister_id: int):
    _meister(meister_id)
    return jsonify(profile_payload(meister_id))
