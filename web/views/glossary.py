"""The glossary page: an organisation's technical terms, their readings and other names.

Everyone logged in reads their own organisation's glossary (it also explains
words an apprentice does not know yet); meisters, coordinators and admins add,
change and remove terms.  Coordinators and admins run the whole programme, so
they may pick any organisation (?org=).  The terms help speech recognition
(hotwords) and widen searches (a search for a synonym finds the term).
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext

from kb import glossary, users
from kb.errors import InputError, NotFound
from web import http
from web.auth import current_viewer, login_required
from web.db import get_db

bp = Blueprint("glossary", __name__)

ERROR_MESSAGES = {
    "term_empty": lazy_gettext("Please fill in the term."),
    "term_long": lazy_gettext("A term may have at most %(n)s characters."),
    "reading_long": lazy_gettext("A reading may have at most %(n)s characters."),
    "synonym_long": lazy_gettext("Another name may have at most %(n)s characters."),
    "too_many_synonyms": lazy_gettext("A term may have at most %(n)s other names."),
    "no_organisation": lazy_gettext("There is no such organisation."),
    "term_exists": lazy_gettext("The glossary already has the term %(term)s."),
}


def error_message(error) -> str:
    template = ERROR_MESSAGES.get(getattr(error, "code", None))
    return str(template) % getattr(error, "params", {}) if template is not None else str(error)


def _organisations() -> list[dict]:
    return users.organisation_choices(get_db())


def _organisation(raw) -> int:
    """The organisation shown: the viewer's own, or any asked for by a coordinator or admin."""
    viewer = current_viewer()
    own = viewer.organisation_id or glossary.DEFAULT_ORGANISATION
    if raw in (None, "") or not viewer.sees_everything:
        return own
    try:
        org = int(raw)
    except (TypeError, ValueError):
        return own
    if org not in {o["id"] for o in _organisations()}:
        raise NotFound(f"no organisation with id {org}")
    return org


def _may_edit() -> bool:
    return current_viewer().at_least("meister")


def _term(term_id: int) -> dict:
    """A term the viewer may change: 404 for another organisation's (unless coordinator/admin), 403 below meister."""
    term = glossary.get(get_db(), term_id)
    viewer = current_viewer()
    if not viewer.sees_everything and term["organisation_id"] != (viewer.organisation_id or 1):
        raise NotFound(f"no glossary term with id {term_id}")
    if not _may_edit():
        abort(403, description=_("Only meisters and coordinators can change the glossary."))
    return term


def _payload(org: int) -> dict:
    orgs = _organisations()
    return {
        "organisation": next((o for o in orgs if o["id"] == org), {"id": org, "name": ""}),
        "terms": glossary.list_terms(get_db(), org),
        "can_edit": _may_edit(),
    }


def _page(
    org: int,
    *,
    error: str | None = None,
    form: dict | None = None,
    status: int = 200,
    done: dict | None = None,
    code: str | None = None,
):
    payload = _payload(org)
    if error and (http.wants_json() or request.is_json):
        return http.json_error(status, error, code)
    return http.html_or_json(
        payload,
        "glossary/glossary.html",
        status=status,
        error=error,
        form=form or {},
        done=done or {},
        organisations=_organisations() if current_viewer().sees_everything else [],
    )


def _values() -> dict:
    body = request.get_json(silent=True) if request.is_json else request.form
    if not hasattr(body, "get"):
        body = {}
    synonyms = body.get("synonyms")
    if isinstance(synonyms, list):
        synonyms = ",".join(str(s) for s in synonyms)
    return {
        "term": str(body.get("term") or ""),
        "reading": str(body.get("reading") or ""),
        "synonyms": str(synonyms or ""),
        "org": body.get("org"),
    }


@bp.get("/glossary")
@login_required
def index():
    done = {k: request.args[k] for k in ("saved", "removed") if request.args.get(k)}
    return _page(_organisation(request.args.get("org")), done=done)


def _done(org: int, what: str, term: str, status: int = 200):
    """JSON: the organisation's terms now; a browser: back to the page, which says what was done (303)."""
    if http.wants_json() or request.is_json:
        return {"ok": True, "organisation_id": org, "terms": glossary.list_terms(get_db(), org)}, status
    args = {what: term}
    if current_viewer().sees_everything:
        args["org"] = org
    return redirect(url_for("glossary.index", **args), code=303)


@bp.post("/glossary")
@login_required
def add():
    if not _may_edit():
        abort(403, description=_("Only meisters and coordinators can change the glossary."))
    values = _values()
    org = _organisation(values["org"])
    try:
        glossary.add(
            get_db(),
            values["term"],
            values["reading"],
            values["synonyms"],
            organisation_id=org,
            user_id=current_viewer().user_id,
        )
    except InputError as e:
        return _page(org, error=error_message(e), form=values, status=400, code=e.code)
    return _done(org, "saved", values["term"].strip(), 201)


@bp.post("/glossary/<int:term_id>")
@login_required
def update(term_id: int):
    term = _term(term_id)
    values = _values()
    try:
        glossary.update(
            get_db(), term_id, values["term"], values["reading"], values["synonyms"], user_id=current_viewer().user_id
        )
    except InputError as e:
        return _page(
            term["organisation_id"], error=error_message(e), form=dict(values, id=term_id), status=400, code=e.code
        )
    return _done(term["organisation_id"], "saved", values["term"].strip())


@bp.post("/glossary/<int:term_id>/delete")
@login_required
def delete(term_id: int):
    term = _term(term_id)
    glossary.remove_id(get_db(), term_id)
    return _done(term["organisation_id"], "removed", term["term"])
