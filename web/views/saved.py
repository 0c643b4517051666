"""後で見る: keep a moment for later (from a search result or a recording page), and remove it again.

Why forms that answer with a redirect: the buttons work without script, on the results page and
the recording page alike, and return the person where they were (``next``).  A recording the
person may not see answers 404 like a missing one (kb.saved / kb.access); the list itself is on
the home page and on "my learning" (web.views.search, web.views.learning).
"""

from __future__ import annotations

import math

from flask import Blueprint, abort, jsonify, redirect, request, url_for
from flask_babel import gettext as _

from kb import saved
from kb.errors import InputError, NotFound
from web import http
from web.auth import current_viewer, login_required
from web.db import get_db

bp = Blueprint("saved", __name__)


def _number(name: str, kind=float):
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        abort(400, description=_("The moment to keep is not clear. Open it again and press the button."))
    if kind is float and math.isnan(value):
        abort(400, description=_("The moment to keep is not clear. Open it again and press the button."))
    return value


def _back(default: str, saved_flag: str):
    target = request.form.get("next")
    url = http.safe_next(target) if target else default
    anchor = ""
    if "#" in url:
        url, anchor = url.split("#", 1)
        anchor = "#" + anchor
    import re

    url = re.sub(r"([?&])saved=[^&]*(&|$)", lambda m: m.group(1) if m.group(2) else "", url).rstrip("?&")
    joiner = "&" if "?" in url else "?"
    return redirect(f"{url}{joiner}saved={saved_flag}{anchor}", code=303)


@bp.post("/r/<int:recording_id>/later", endpoint="add")
@login_required
def add(recording_id: int):
    """Form fields: t (seconds) or c (a passage id), neither for the whole recording; next: where to go back."""
    start, chunk = _number("t"), _number("c", int)
    try:
        saved_id = saved.save(get_db(), current_viewer(), recording_id, start=start, chunk_id=chunk)
    except NotFound:
        abort(404, description=_("There is no such recording."))
    except InputError as e:
        if e.code == "too_many":
            abort(400, description=_("You keep %(n)s moments already. Remove some first.", n=saved.MAX_PER_USER))
        abort(400, description=_("The moment to keep is not clear. Open it again and press the button."))
    if http.wants_json():
        return jsonify({"id": saved_id}), 201
    return _back(url_for("learning.mine") + "#saved", "1")


@bp.post("/saved/<int:saved_id>/delete", endpoint="remove")
@login_required
def remove(saved_id: int):
    """Remove one of the person's own saved moments (someone else's is 404, like a missing one)."""
    if not saved.remove(get_db(), current_viewer(), saved_id):
        abort(404, description=_("This moment is not in your list."))
    if http.wants_json():
        return jsonify({"removed": saved_id})
    return _back(url_for("learning.mine") + "#saved", "removed")


@bp.app_template_global()
def saved_places() -> dict:
    """ "<recording id>/<place>" -> saved id of the current person (once per request), for the buttons."""
    from flask import g

    if "saved_places" not in g:
        viewer = current_viewer()
        g.saved_places = saved.places(get_db(), viewer) if viewer.user_id is not None else {}
    return g.saved_places


@bp.app_template_global()
def saved_key(recording_id: int, start=None, chunk_id=None) -> str:
    return saved.place_key(recording_id, start, chunk_id)


def listing(limit: int | None = None) -> list[dict]:
    """The current person's saved moments, with their addresses."""
    from kb import urls

    out = saved.listing(get_db(), current_viewer(), limit)
    for item in out:
        item["url"] = urls.moment(item["recording_id"], item["start"], item["page"], item["chunk_id"])
    return out
