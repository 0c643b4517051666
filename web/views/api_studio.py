"""JSON API v1 for uploads: the studio's upload, job state and retry, for tools that send recordings.

Why a module of its own (registered under /api/v1 beside web.views.api): the
upload is the studio's own code path (web.views.studio), so the checks, the
metadata rules and the permissions are the same as in the browser; a caller
authenticates with a per-user token (``Authorization: Bearer tkb_...``, made on
the account page), which also exempts it from the CSRF check.  Without a token
the answer is 401, with an apprentice's 403, and an accepted file 202 (it is
processed in the background: poll the job address until ``active`` is false).

    curl -H "Authorization: Bearer $TOKEN" -F file=@旋盤.mp4 -F technique=旋盤 \\
         -F tags=段取り,安全 http://kb.local:5000/api/v1/recordings
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from kb.errors import InputError
from web import auth, http, studio_ops, uploads
from web.db import get_db
from web.problems import refusal
from web.views import studio

bp = Blueprint("api_studio", __name__)


@bp.post("/recordings")
@auth.role_required("meister")
def upload():
    """One file (form field ``file``) with the studio's fields: title, technique, tags, language,
    visibility, glossary, and meister (coordinators).  202 with the recording id, its job state and addresses."""
    conn, viewer = get_db(), auth.current_viewer()
    items = studio_ops.received_files()
    if len(items) != 1:
        for item in items:
            uploads.discard(item)
        return http.json_error(400, _("Send exactly one file, in the form field “file”."), "no_file")
    try:
        outcome = studio_ops.handle_upload(conn, viewer, request.form, items)[0]
    except InputError as e:
        said = refusal(e)
        return http.json_error(400, said.message, said.code)
    if not outcome.ok:
        return http.json_error(400, outcome.message, outcome.code, name=outcome.name, detail=outcome.detail)
    if outcome.recording_id is None:  # the same file exists, in a recording this caller may not see
        return http.json_error(409, outcome.message, "exists", name=outcome.name)
    body = studio_ops.job_json(conn, outcome.recording_id)
    body.update(name=outcome.name, result=outcome.status, message=outcome.message)
    return jsonify(body), (202 if outcome.status == "queued" else 200)


@bp.get("/recordings/<int:recording_id>/job")
def job(recording_id: int):
    """The processing state: stage, percent, message, error (404 for a recording the caller cannot see)."""
    auth.viewable_recording(recording_id)
    return jsonify(studio_ops.job_json(get_db(), recording_id))


@bp.post("/recordings/<int:recording_id>/retry")
@auth.role_required("meister")
def retry(recording_id: int):
    """Queue a failed recording again (its meister, coordinators and admins)."""
    return studio.retry(recording_id)
