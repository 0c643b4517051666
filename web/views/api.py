"""JSON API v1: the same data as the pages, for other tools (curriculum builders, shop-floor terminals).

Every route returns exactly what its page twin returns for `Accept: application/json`
(both are fed by web.data), so the two cannot drift apart.  Callers authenticate with
a per-user token (`Authorization: Bearer tkb_...`, made on the account page) or a
browser session, and see exactly what that user sees in the pages (web.auth).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from web import data
from web.auth import current_viewer
from web.db import get_db, kb_config, search_service

bp = Blueprint("api", __name__)


@bp.get("/")
def index():
    return jsonify(
        {
            "version": 1,
            "authentication": "Authorization: Bearer <token> (create one at /account)",
            "endpoints": {
                "search": "/api/v1/search?q=...&technique=&meister=&kind=video|audio|document&language=&tag=&limit=10",
                "recordings": "/api/v1/recordings?technique=&meister=&kind=&language=&tag=",
                "recording": "/api/v1/recordings/<id>",
                "meisters": "/api/v1/meisters?q=&category=&area=&org=",
                "meister": "/api/v1/meisters/<id>",
                "who_can_teach": "/api/v1/meisters/teach?q=...&area=&org=",
                "coaching_sessions": "/api/v1/coaching?fy=&meister=&org=&status=waiting|confirmed (POST to log one)",
                "coaching_session": "/api/v1/coaching/<id> (POST .../confirm: coordinators)",
                "programme_figures": "/api/v1/programme/figures?fy=&org= (coordinators and admins)",
            },
        }
    )


@bp.get("/search")
def search():
    req = data.parse_search(request.args)
    return jsonify(data.search_payload(search_service(), get_db(), req, current_viewer()))


@bp.get("/recordings")
def recordings():
    return jsonify(data.recordings_payload(get_db(), request.args, current_viewer()))


@bp.get("/recordings/<int:recording_id>")
def recording(recording_id: int):
    return jsonify(data.recording_payload(get_db(), kb_config(), recording_id, current_viewer()))
