"""The meister's studio: upload recordings, watch them being processed, fix their details, replace or delete them.

Why it works this way:

- a request never processes anything: an upload is streamed to disk
  (web.uploads), checked and queued (ingest.queue.submit_file), and the worker
  does the rest; the list shows each recording's stage and percent and updates
  itself (htmx polls the list fragment every 2 s while anything is queued or
  running, and stops when all are finished);
- every file of an upload is its own result: a refused file says why in one
  line, and the others go through;
- meisters manage their own recordings, coordinators and admins all of them
  (kb.access.can_edit decides, per recording); apprentices have no studio;
- every page has a JSON twin (Accept: application/json), and the same upload
  is offered to other tools at POST /api/v1/recordings (web.views.api_studio).
  The work itself is in web.studio_ops, shared by both.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kb import recordings
from kb.access import Viewer
from kb.errors import InputError, KBError
from kb.meisters import meister_choices
from kb.recordings import VISIBILITIES
from web import auth, http, studio_ops, uploads
from web.db import get_db, kb_config
from web.errors import Refused
from web.problems import refusal

bp = Blueprint("studio", __name__)

# The general error page has no words for these; the studio's own page says the message and leads back.
PROBLEM_PAGE = "studio/problem.html"


@bp.record_once
def _install_upload_stream(state) -> None:
    """Uploads anywhere in the app stream to KB_HOME/uploads (the CSRF check may read the form first); a file
    over the limit is answered by web.errors (uploads.UploadTooLarge: its name and the limit)."""
    uploads.install(state.app)


def _page_arg() -> int:
    try:
        return max(1, int(request.args.get("page") or 1))
    except ValueError:
        return 1


def form_context(conn, viewer: Viewer) -> dict:
    """What the upload and edit forms offer: known techniques and meisters, the size limit."""
    techniques = recordings.visible_techniques(conn, viewer)  # never a hidden recording's technique
    chooses_meister = viewer.at_least("coordinator")
    meisters = [m["name"] for m in meister_choices(conn)] if chooses_meister else []
    limit = kb_config().get("max_upload_bytes")
    return {
        "techniques": techniques,
        "meisters": meisters,
        "visibilities": VISIBILITIES,
        "visibility_labels": {k: str(v) for k, v in studio_ops.VISIBILITY_LABELS.items()},
        "languages": studio_ops.LANGUAGES,
        "max_upload_bytes": limit,
        "max_upload": uploads.human_size(limit),
        "chooses_meister": chooses_meister,
        "size_units": ",".join(uploads.size_units()),
    }


# ---------------------------------------------------------------- the list and uploading


@bp.get("/studio")
@auth.role_required("meister")
def studio():
    conn, viewer = get_db(), auth.current_viewer()
    payload = studio_ops.list_payload(conn, viewer, _page_arg())
    return http.html_or_json(payload, "studio/studio.html", form=form_context(conn, viewer), results=None, values={})


@bp.get("/studio/states")
@auth.role_required("meister")
def states():
    """The list with live states: an HTML fragment for htmx polling, JSON for scripts."""
    payload = studio_ops.list_payload(get_db(), auth.current_viewer(), _page_arg())
    if http.wants_json():
        return jsonify(payload)
    return render_template("studio/_list.html", data=payload)


@bp.post("/studio/upload")
@auth.role_required("meister")
def upload():
    """One or many files (field ``file``) with their details: each file gets its own result."""
    conn, viewer = get_db(), auth.current_viewer()
    items = studio_ops.received_files()
    error, code, outcomes = None, None, []
    if not items:
        error, code = _("Choose at least one file to upload."), "no_file"
    else:
        try:
            outcomes = studio_ops.handle_upload(conn, viewer, request.form, items)
        except InputError as e:
            said = refusal(e)
            error, code = said.message, said.code
    accepted = sum(1 for o in outcomes if o.ok)
    if http.wants_json():
        response = jsonify(
            {
                "results": [o.to_json() for o in outcomes],
                "accepted": accepted,
                "refused": len(outcomes) - accepted,
                "error": error,
                "code": code,
            }
        )
        response.status_code = 202 if accepted else 400
        return response
    values = {} if accepted else request.form.to_dict()
    return render_template(
        "studio/studio.html",
        data=studio_ops.list_payload(conn, viewer),
        form=form_context(conn, viewer),
        results=outcomes,
        error=error,
        values=values,
    ), (200 if accepted else 400)


# ---------------------------------------------------------------- one recording


@bp.post("/studio/r/<int:recording_id>/retry")
@auth.role_required("meister")
def retry(recording_id: int):
    """Queue a failed recording again (htmx: the list comes back; a plain form: back to the studio)."""
    from ingest import queue

    conn = get_db()
    rec = auth.editable_recording(recording_id)
    if rec["status"] != "failed":
        raise Refused(
            409, _("Only a recording whose processing failed can be tried again."), "not_failed", page=PROBLEM_PAGE
        )
    try:
        queue.retry(conn, recording_id)
    except KBError as e:
        said = refusal(e, rec["source_name"])
        raise Refused(409, said.message, said.code, detail=said.detail, page=PROBLEM_PAGE) from e
    return _queued_again(conn, recording_id)


@bp.post("/studio/r/<int:recording_id>/reprocess")
@auth.role_required("meister")
def reprocess(recording_id: int):
    """Process a done recording again from its original with another language and/or speech model
    (offered where its transcript looks incomplete; kb.speech_checks)."""
    from kb import speech_checks
    from services import recordings as recording_ops

    conn = get_db()
    rec = auth.editable_recording(recording_id)
    language = request.form.get("language") or "auto"
    model = request.form.get("model") or None
    if language not in speech_checks.LANGUAGES or (model and model not in speech_checks.models(kb_config())):
        raise Refused(400, _("Choose a language and a speech model from the list."), "invalid_choice")
    if rec["status"] != "done" or rec["kind"] == "document":
        raise Refused(
            409, _("Only a processed video or sound recording can be processed again."), "not_done", page=PROBLEM_PAGE
        )
    try:
        recording_ops.reprocess(kb_config(), conn, recording_id, language=language, model=model)
    except KBError as e:
        said = refusal(e, rec["source_name"])
        raise Refused(409, said.message, said.code, detail=said.detail, page=PROBLEM_PAGE) from e
    return _queued_again(conn, recording_id)


def _queued_again(conn, recording_id: int):
    """The answer to a retry or a re-processing: the job (JSON), the live list (htmx), or the studio."""
    if http.answers_json():
        return jsonify(studio_ops.job_json(conn, recording_id)), 202
    if http.is_partial():
        return states()
    return redirect(url_for("studio.studio", done="retry"), code=303)


def _edit_page(
    conn,
    viewer,
    rec: dict,
    *,
    values: dict,
    error: str | None = None,
    replace_error: str | None = None,
    replace_detail: str = "",
    saved: bool = False,
    status: int = 200,
):
    data = studio_ops.row(rec, studio_ops.job_states(conn, [rec["id"]]).get(rec["id"]))
    return render_template(
        "studio/edit.html",
        data=data,
        rec=rec,
        values=values,
        error=error,
        saved=saved,
        replace_error=replace_error,
        replace_detail=replace_detail,
        form=form_context(conn, viewer),
    ), status


@bp.route("/studio/r/<int:recording_id>/edit", methods=["GET", "POST"])
@auth.role_required("meister")
def edit(recording_id: int):
    """Title, technique, tags, language, visibility (and meister, for coordinators)."""
    conn, viewer = get_db(), auth.current_viewer()
    rec = auth.editable_recording(recording_id)
    if request.method == "POST":
        try:
            changed = studio_ops.save_meta(conn, viewer, rec, request.form)
        except InputError as e:
            if http.wants_json():
                raise Refused(400, str(e), e.code or "invalid_input") from e
            return _edit_page(conn, viewer, rec, values=request.form.to_dict(), error=str(e), status=400)
        if http.wants_json():
            return jsonify(studio_ops.job_json(conn, recording_id) | {"changed": changed})
        return redirect(url_for("studio.edit", recording_id=recording_id, saved=1), code=303)
    if http.wants_json():
        details = {k: rec.get(k) for k in ("technique", "tags", "language", "visibility", "meister", "source_name")}
        return jsonify(studio_ops.job_json(conn, recording_id) | details)
    return _edit_page(conn, viewer, rec, values=studio_ops.values_of(rec), saved=bool(request.args.get("saved")))


@bp.post("/studio/r/<int:recording_id>/replace")
@auth.role_required("meister")
def replace(recording_id: int):
    """A new file for the recording: same id and details, processed again from the start."""
    from ingest import queue

    conn, viewer = get_db(), auth.current_viewer()
    rec = auth.editable_recording(recording_id)
    items = studio_ops.received_files()
    error, code, detail = None, None, ""
    if len(items) != 1:
        for item in items:
            uploads.discard(item)
        error, code = _("Choose one file to replace the recording with."), "no_file"
    else:
        try:
            queue.replace_file(
                kb_config(), conn, recording_id, items[0].path, items[0].source_name, move=True, viewer=viewer
            )
        except KBError as e:
            said = refusal(e, items[0].source_name)
            error, code, detail = said.message, said.code, said.detail
        finally:
            uploads.discard(items[0])
    if error is not None:
        if http.answers_json():
            raise Refused(400, error, code, detail=detail)
        return _edit_page(
            conn,
            viewer,
            recordings.get(conn, recording_id),
            values=studio_ops.values_of(rec),
            replace_error=error,
            replace_detail=detail,
            status=400,
        )
    if http.answers_json():
        return jsonify(studio_ops.job_json(conn, recording_id)), 202
    return redirect(url_for("studio.studio", done="replace"), code=303)


@bp.route("/studio/r/<int:recording_id>/delete", methods=["GET", "POST"])
@auth.role_required("meister")
def delete(recording_id: int):
    """GET: what will go, and a confirmation form; POST with confirm=yes: everything of the recording goes."""
    conn = get_db()
    rec = auth.editable_recording(recording_id)
    curricula = studio_ops.curricula_using(conn, recording_id)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        studio_ops.delete_recording(recording_id)
        if http.answers_json():
            return jsonify({"deleted": recording_id, "title": rec["title"], "curricula": curricula})
        return redirect(url_for("studio.studio", done="delete"), code=303)
    payload = {"id": recording_id, "title": rec["title"], "kind": rec["kind"], "curricula": curricula, "confirm": "yes"}
    return http.html_or_json(payload, "studio/delete.html", rec=rec, status=400 if request.method == "POST" else 200)
