"""The worker API: what a transcription worker on another machine asks of the server, over HTTP(S).

Only worker tokens (kb/worker_tokens.py, `kb worker-token create NAME`) open these
routes, and they open nothing else (web/auth.py).  Every call names the job and
the *attempt* the dispatcher gave the worker (ingest/dispatch.py); an attempt
that no longer holds its job gets 409, and the worker drops the job.

    POST /api/v1/worker/jobs/<id>/start      {attempt, worker}  -> what to do (the job's spec)
    GET  /api/v1/worker/jobs/<id>/original?attempt=...          -> the original file
    POST /api/v1/worker/jobs/<id>/heartbeat  {attempt, stage, progress}  (renews the lease)
    POST /api/v1/worker/jobs/<id>/result     {attempt, segments, chunks, vectors, ...}
    POST /api/v1/worker/jobs/<id>/failed     {attempt, reason, permanent, problem}

Why the worker pulls the original over HTTP: it needs no shared disk, and the
token and the attempt together let it read only the file of a job it holds.
"""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, g, jsonify, request, send_file

from ingest import dispatch, queue, results
from ingest.stages import MSG_ASR, MSG_AUDIO, MSG_EMBED, MSG_READING, default_vocabulary
from kb import recordings, users
from kb.errors import NotFound
from web import http
from web.db import get_db, kb_config

bp = Blueprint("api_worker", __name__)

MAX_RESULT_BYTES = 64 * 1024 * 1024  # a 3-hour recording's result is ~5 MB (vectors of ~400 passages)
_APPLY_LOCK = threading.Lock()


def worker_only(view):
    """Mark a view as reachable with a worker token only (web/auth.py checks it before the view runs)."""
    view.kb_worker = True
    return view


def _problem(raw) -> dict | None:
    """The problem code a worker named (web.problems says it in plain words): a short word and plain values."""
    if not isinstance(raw, dict) or not isinstance(raw.get("code"), str):
        return None
    code = raw["code"][:40]
    if not code.replace("_", "").isalnum():
        return None
    params = raw.get("params") if isinstance(raw.get("params"), dict) else {}
    return {
        "code": code,
        "params": {
            str(k)[:40]: (v[:300] if isinstance(v, str) else v)
            for k, v in list(params.items())[:10]
            if isinstance(v, (str, int, float))
        },
    }


def _body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _stores():
    """The server's store for applying results (one per process, its own connection; used under a lock)."""
    stores = current_app.extensions.get("kb_result_stores")
    if stores is None:
        from ingest.stages import WorkerStore
        from kb import db

        conn = db.connect(kb_config().db_path)
        stores = current_app.extensions["kb_result_stores"] = WorkerStore(kb_config(), conn)
    return stores


def _held(job_id: int, attempt: str):
    try:
        return results.current(get_db(), job_id, attempt), None
    except results.Rejected as e:
        return None, http.json_error(409 if e.code == "stale" else 410, str(e), e.code)


@bp.post("/jobs/<int:job_id>/start")
@worker_only
def start(job_id: int):
    body = _body()
    attempt = str(body.get("attempt") or "")
    name = " ".join(str(body.get("worker") or g.worker["name"]).split())[:80] or g.worker["name"]
    conn = get_db()
    job, refused = _held(job_id, attempt)
    if refused is not None:
        return refused
    try:
        rec = recordings.get(conn, job["recording_id"])
    except NotFound:
        rec = None
    if rec is None or not rec["stored_path"]:
        return http.json_error(410, f"recording {job['recording_id']} was deleted", "deleted")
    if not dispatch.start_remote(conn, job_id, attempt, name, MSG_READING):
        return http.json_error(409, "this attempt was superseded", "stale")
    config = kb_config()
    payload = queue._payload(job)
    store = _search_store(config, conn)
    hotwords = _hotwords(conn, payload, rec)
    second = store.second
    return jsonify(
        {
            "job_id": job_id,
            "attempt": attempt,
            "recording_id": rec["id"],
            "kind": rec["kind"],
            "format": rec["format"],
            "title": rec["title"],
            "sha256": rec["sha256"],
            "size_bytes": rec["size_bytes"],
            "language": payload.get("language"),
            "hotwords": hotwords,
            "vocabulary": default_vocabulary(config, rec),
            "shown": payload.get("shown") or rec["source_name"],
            "fallback_language": users.organisation_language(
                conn, rec["organisation_id"], config.get("fallback_language")
            ),
            "embed_model": config.get("embed_model"),
            "embed_fingerprint": store.embedder.fingerprint,
            "second_embed_model": config.get("second_embed_model") if second is not None else "none",
            "second_fingerprint": second.fingerprint if second is not None else None,
            "chunk_min_seconds": config.get("chunk_min_seconds"),
            "chunk_max_seconds": config.get("chunk_max_seconds"),
            "heartbeat_seconds": max(0.5, min(10.0, config.get("job_lease_seconds") / 4)),
            "original": f"/api/v1/worker/jobs/{job_id}/original",
        }
    )


def _search_store(config, conn):
    from search.store import SearchStore

    return SearchStore(config, conn)  # embedders are cached per process: no model is loaded twice


def _hotwords(conn, payload: dict, rec) -> list[str]:
    from kb import glossary

    per_org = getattr(glossary, "hotwords_for", None)
    terms = per_org(conn, rec["organisation_id"]) if per_org is not None else []
    return list(dict.fromkeys([*(payload.get("hotwords") or []), *terms]))


@bp.get("/jobs/<int:job_id>/original")
@worker_only
def original(job_id: int):
    job, refused = _held(job_id, request.args.get("attempt", ""))
    if refused is not None:
        return refused
    try:
        rec = recordings.get(get_db(), job["recording_id"])
    except Exception:  # noqa: BLE001 - NotFound
        return http.json_error(410, "the recording was deleted", "deleted")
    home = kb_config().home
    path = (home / (rec.get("stored_path") or "")).resolve()
    if not rec.get("stored_path") or not path.is_relative_to(home) or not path.is_file():
        return http.json_error(410, "the stored original is missing", "deleted")
    return send_file(path, mimetype="application/octet-stream", conditional=False, max_age=0)


@bp.post("/jobs/<int:job_id>/heartbeat")
@worker_only
def heartbeat(job_id: int):
    body = _body()
    try:
        progress = float(body["progress"]) if body.get("progress") is not None else None
    except (TypeError, ValueError):
        progress = None
    message = {"extracting": MSG_AUDIO, "transcribing": MSG_ASR, "embedding": MSG_EMBED}.get(body.get("stage"))
    if not results.heartbeat(
        get_db(), job_id, str(body.get("attempt") or ""), stage=body.get("stage"), progress=progress, message=message
    ):
        return http.json_error(409, "this attempt was superseded", "stale")
    return jsonify({"ok": True})


@bp.post("/jobs/<int:job_id>/result")
@worker_only
def result(job_id: int):
    if request.content_length is None or request.content_length > MAX_RESULT_BYTES:
        return http.json_error(
            413, f"a result must state its length and be at most {MAX_RESULT_BYTES} bytes", "invalid"
        )
    config = kb_config()
    try:
        parsed = results.parse_result(request.get_json(silent=True))
        with _APPLY_LOCK:
            rec_id = results.apply_result(config, _stores(), job_id, parsed)
    except results.Rejected as e:
        if e.code in ("fingerprint", "invalid", "changed"):  # another try (another worker, the new title) may do
            with _APPLY_LOCK:
                results.release(config, _stores(), job_id, str(_body().get("attempt") or ""), str(e), retry=True)
        status = {"stale": 409, "deleted": 410}.get(e.code, 422)
        return http.json_error(status, str(e), e.code)
    return jsonify({"ok": True, "recording_id": rec_id, "status": "done"})


@bp.post("/jobs/<int:job_id>/failed")
@worker_only
def failed(job_id: int):
    body = _body()
    reason = " ".join(str(body.get("reason") or "the worker could not process it").split())[:500]
    with _APPLY_LOCK:
        outcome = results.release(
            kb_config(),
            _stores(),
            job_id,
            str(body.get("attempt") or ""),
            reason,
            retry=not body.get("permanent"),
            problem=_problem(body.get("problem")),
        )
    if outcome == "lost":
        return http.json_error(409, "this attempt was superseded", "stale")
    return jsonify({"ok": True, "outcome": outcome})
