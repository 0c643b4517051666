"""The apprentice's way in: the home page, the search results, and the language switch.

The results page works as a plain form (no script needed); with htmx, changing
a filter swaps only the results block (`HX-Request` asks for the fragment) and
the address bar follows, so every state has a link that can be shared.
"""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request

from kb import catalogue
from web import data, http, i18n
from web.auth import current_viewer, public
from web.db import get_db, search_service
from web.views import saved as saved_views

bp = Blueprint("search", __name__)

RECENT = 6
WAITING_SHOWN = 5  # entries per list on the home page; each list links to its full page
SAVED_ON_HOME = 5


@bp.get("/")
def home():
    conn = get_db()
    viewer = current_viewer()
    payload = {
        "techniques": catalogue.technique_counts(conn, viewer),
        "recent": data.recent(conn, viewer, RECENT),
        "waiting": waiting_for(viewer),
        "saved": saved_views.listing(SAVED_ON_HOME),
    }
    return http.html_or_json(payload, "search/home.html", facets=catalogue.facets(conn, viewer))


def waiting_for(viewer) -> dict:
    """What waits for this person (kb.waiting), today in Japan time."""
    from datetime import datetime

    from kb import programme, waiting
    from web.db import kb_config

    return waiting.for_viewer(
        get_db(),
        viewer,
        today=datetime.now(programme.JAPAN).date(),
        due_days=kb_config().get("due_soon_days"),
        limit=WAITING_SHOWN,
    )


@bp.get("/search")
def results():
    req = data.parse_search(request.args)
    conn = get_db()
    viewer = current_viewer()
    payload = data.search_payload(search_service(), conn, req, viewer)
    if http.is_partial() and not http.wants_json():
        return render_template("search/_results.html", data=payload, req=req)
    return http.html_or_json(payload, "search/results.html", req=req, facets=catalogue.facets(conn, viewer))


@bp.get("/lang/<code>")
@public
def switch_language(code: str):
    """Remember the chosen interface language (cookie, one year) and go back where the user was."""
    response = make_response(redirect(http.safe_next(request.args.get("next")), code=303))
    if code in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
