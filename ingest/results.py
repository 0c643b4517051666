"""Applying a finished result from a transcription worker on another machine: verify, then write once.

A remote worker (ingest/remote_worker.py) hands back a recording's transcript,
its passages and their vectors.  The server is the only writer of SQLite and the
vector index, and it trusts none of it blindly.  :func:`check_result` refuses a
result whose shapes are wrong or whose embedder is not the one this knowledge
base searches with (its vectors would be meaningless here); :func:`apply_result`
then writes it -- under the index lock, in ONE SQLite transaction that first
re-checks, holding the write lock, that

* the job still exists, is unfinished and is still held by *this attempt*
  (a worker that was presumed dead and replaced, or a job that was cancelled,
  gets :class:`Rejected` ``stale``: a late result is discarded, never applied twice),
* the recording still exists (``deleted``) and still has the title the vectors
  were computed with (``changed``: search embeds "title + passage"),

and then replaces the segments and the chunks, ends the job and makes the
recording 'done' -- with one generation bump, so the index gains the whole
recording at once.  A rejected result changes nothing at all.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from dataclasses import dataclass, field

import numpy as np

from ingest import queue
from ingest.stages import MSG_DONE, guess_language
from kb import recordings
from kb.settings import Config
from search.store import index_write_lock


class Rejected(Exception):
    """A result the server will not apply.  ``code``: stale | deleted | changed | fingerprint | invalid."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class RemoteResult:
    """What a worker sends back for one attempt of one job (see :func:`parse_result` for the JSON)."""

    attempt: str
    title: str
    segments: list[dict]
    chunks: list[dict]
    embed_fingerprint: str
    vectors: np.ndarray
    second_fingerprint: str | None = None
    vectors2: np.ndarray | None = None
    language: str | None = None
    duration: float | None = None
    asr: str = "asr"
    warnings: list[str] = field(default_factory=list)


def encode_vectors(vectors: np.ndarray | None) -> str | None:
    if vectors is None:
        return None
    return base64.b64encode(np.ascontiguousarray(vectors, dtype="<f4").tobytes()).decode("ascii")


def _decode_vectors(text, rows: int, what: str) -> np.ndarray:
    try:
        raw = base64.b64decode(text or "", validate=True)
    except (ValueError, TypeError):
        raise Rejected("invalid", f"{what}: not base64") from None
    if rows == 0 or len(raw) % (4 * rows):
        raise Rejected("invalid", f"{what}: {len(raw)} bytes do not make {rows} float32 vectors")
    return np.frombuffer(raw, dtype="<f4").reshape(rows, -1).astype(np.float32)


def parse_result(body: dict) -> RemoteResult:
    """The JSON a worker posts -> :class:`RemoteResult`, every field's type and shape checked."""
    if not isinstance(body, dict):
        raise Rejected("invalid", "the result is not a JSON object")
    try:
        segments = [
            {
                "start": _num(s.get("start")),
                "end": _num(s.get("end")),
                "text": str(s["text"]),
                "words": s.get("words") if isinstance(s.get("words"), list) else None,
            }
            for s in body.get("segments") or []
        ]
        chunks = [
            {"text": str(c["text"]), "start": _num(c.get("start")), "end": _num(c.get("end")), "page": None}
            for c in body.get("chunks") or []
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise Rejected("invalid", "segments and chunks must be lists of objects with text, start and end") from None
    if not chunks or not all(c["text"].strip() for c in chunks):
        raise Rejected("invalid", "a result needs at least one passage, none of them empty")
    vectors = _decode_vectors(body.get("vectors"), len(chunks), "vectors")
    second = body.get("second_fingerprint") or None
    vectors2 = _decode_vectors(body.get("vectors2"), len(chunks), "vectors2") if second else None
    if not np.isfinite(vectors).all() or (vectors2 is not None and not np.isfinite(vectors2).all()):
        raise Rejected("invalid", "vectors contain NaN or infinity")
    warnings = body.get("warnings") or []
    return RemoteResult(
        attempt=str(body.get("attempt") or ""),
        title=str(body.get("title") or ""),
        segments=segments,
        chunks=chunks,
        embed_fingerprint=str(body.get("embed_fingerprint") or ""),
        vectors=vectors,
        second_fingerprint=second,
        vectors2=vectors2,
        language=(str(body["language"]) if body.get("language") else None),
        duration=_num(body.get("duration")),
        asr=str(body.get("asr") or "asr")[:100],
        warnings=[str(w)[:500] for w in warnings if w][:20] if isinstance(warnings, list) else [],
    )


def _num(value) -> float | None:
    if value is None:
        return None
    f = float(value)
    if not np.isfinite(f):
        raise ValueError("not a finite number")
    return f


def check_result(store, result: RemoteResult) -> None:
    """The embedders must be the ones this knowledge base searches with, vector sizes theirs."""
    emb, second = store.embedder, store.second
    if result.embed_fingerprint != emb.fingerprint:
        raise Rejected(
            "fingerprint",
            f"vectors come from embedder {result.embed_fingerprint!r}; this knowledge base uses {emb.fingerprint!r}",
        )
    if result.vectors.shape[1] != emb.dim:
        raise Rejected("fingerprint", f"vectors have {result.vectors.shape[1]} numbers; the embedder gives {emb.dim}")
    want2 = second.fingerprint if second is not None else None
    if result.second_fingerprint != want2:
        raise Rejected(
            "fingerprint", f"second vectors come from {result.second_fingerprint!r}; this knowledge base uses {want2!r}"
        )
    if second is not None and result.vectors2.shape[1] != second.dim:
        raise Rejected("fingerprint", "second vectors have the wrong size")


def current(conn: sqlite3.Connection, job_id: int, attempt: str) -> sqlite3.Row:
    """The job row if ``attempt`` still holds it (else :class:`Rejected` stale / deleted)."""
    job = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if job is None:
        raise Rejected("deleted", f"job {job_id} no longer exists (its recording was deleted)")
    if not attempt or job["claimed_by"] != attempt or job["stage"] in queue.FINISHED:
        raise Rejected(
            "stale",
            f"job {job_id}: this attempt was superseded (the job was given to another worker, cancelled or finished)",
        )
    return job


def apply_result(config: Config, stores, job_id: int, result: RemoteResult) -> int:
    """Verify and write a remote result (see the module docstring); returns the recording id.

    ``stores``: :class:`ingest.stages.WorkerStore` of the server.  Raises :class:`Rejected`."""
    from search.store import ChunkIn

    conn = stores.conn
    rec_id = current(conn, job_id, result.attempt)["recording_id"]
    chunks = [ChunkIn(c["text"], c["start"], c["end"], None) for c in result.chunks]

    def in_transaction(c: sqlite3.Connection) -> None:
        job = current(c, job_id, result.attempt)  # again, now holding the write lock
        rec = c.execute("SELECT * FROM recordings WHERE id = ?", (rec_id,)).fetchone()
        if rec is None:
            raise Rejected("deleted", f"recording {rec_id} was deleted")
        if rec["title"] != result.title:
            raise Rejected("changed", f"recording {rec_id} was renamed while it was processed")
        payload = queue._payload(job)
        text = " ".join(s["text"] for s in result.segments)
        fields = {"transcript_source": f"asr:{result.asr}", "status": "done", "error": None, "playback": "original"}
        language = payload.get("language") or guess_language(text) or result.language
        if language:
            fields["language"] = language
        if result.duration is not None and not rec["duration"]:
            fields["duration"] = result.duration
        recordings.replace_segments(c, rec_id, result.segments)
        recordings.update(c, rec_id, **fields)
        warnings = list(dict.fromkeys([*(payload.get("warnings") or []), *result.warnings]))
        c.execute(
            "UPDATE jobs SET stage = 'done', progress = 1, completed_stage = 'indexing', error = NULL, message = ?,"
            " payload = json_set(payload, '$.warnings', json(?)), claimed_by = NULL, claimed_pid = NULL,"
            f" claimed_host = NULL, heartbeat_at = NULL, finished_at = {queue.NOW_SQL}, updated_at = {queue.NOW_SQL}"
            " WHERE id = ?",
            ("; ".join(warnings) or MSG_DONE, json.dumps(warnings, ensure_ascii=False), job_id),
        )

    with index_write_lock(config):
        store = stores.for_write()
        check_result(store, result)
        store.write_chunks(
            rec_id, store.embedded(rec_id, chunks, result.vectors, result.vectors2), in_transaction=in_transaction
        )
        stores.written()
    return rec_id


def release(
    config: Config, stores, job_id: int, attempt: str, reason: str, *, retry: bool, problem: dict | None = None
) -> str:
    """An attempt that ended without a result (the worker's error, or a refused result): hand the job back
    for another try after ``job_retry_seconds`` (``retry``, up to ``job_max_attempts``), else fail it.

    ``problem``: the code the worker named (``{"code": "no_audio", "params": {}}``, ingest.worker.problem_of),
    kept so the studio says it in plain words.  Returns the outcome (retry | failed | lost)."""
    from ingest.worker import _after_error, _note_problem

    conn = stores.conn
    job = conn.execute("SELECT recording_id FROM jobs WHERE id = ? AND claimed_by = ?", (job_id, attempt)).fetchone()
    if job is None:
        return "lost"
    if problem is not None:
        _note_problem(conn, job_id, None, problem)
    return _after_error(config, conn, stores, job_id, attempt, job["recording_id"], reason, retry=retry).status


def heartbeat(
    conn: sqlite3.Connection,
    job_id: int,
    attempt: str,
    *,
    stage: str | None = None,
    progress: float | None = None,
    message: str | None = None,
) -> bool:
    """Renew the lease of a running attempt (and show its stage); False when the attempt is no longer current."""
    stage = stage if stage in queue.WORK_STAGES else None
    progress = None if progress is None else max(0.0, min(0.99, float(progress)))
    with conn:
        return (
            conn.execute(
                "UPDATE jobs SET heartbeat_at = ?, stage = COALESCE(?, stage), progress = COALESCE(?, progress),"
                f" message = COALESCE(?, message), updated_at = {queue.NOW_SQL}"
                " WHERE id = ? AND claimed_by = ? AND stage NOT IN ('done', 'failed')",
                (time.time(), stage, progress, message, job_id, attempt),
            ).rowcount
            == 1
        )
