"""Deleting a recording and processing one again: the one path the command line and the studio both take.

Why one: the two used to differ (the studio also took the index write lock and
removed the emptied originals folder; the command did neither), so a recording
deleted from the command line could leave a folder behind, and its index write
could race a worker's.  Everything of a recording goes: its job (a worker still
on it stops at its next step), original (unless another recording names the same
file), browser copy, thumbnails, scratch files, transcript and its history,
passages, and both indexes.

Processing again (`kb reprocess`, the studio's button on a transcript that looks
incomplete) queues a job that transcribes the stored original with another
language or speech model.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

from kb import recordings
from kb.errors import InputError
from kb.settings import Config


def delete(config: Config, conn: sqlite3.Connection, recording_id: int, *, store=None) -> dict:
    """Delete a recording under the cross-process index write lock; returns the recording as it was.

    ``store``: the search store to change (default: a new one; it brings its index up to the database's
    generation when it writes, under the lock, so it starts from what other processes saved)."""
    from search.store import SearchStore, index_write_lock

    store = store or SearchStore(config, conn)
    store.embedder  # the model loads before the lock, which is held for the write alone
    with index_write_lock(config):
        return delete_locked(store, recording_id)


def delete_locked(store, recording_id: int) -> dict:
    """The same, for a caller that holds the index write lock already (web.searching.SearchService.write,
    which passes the store this process searches with, so its next search no longer finds it)."""
    from ingest import queue

    config, conn = store.config, store.conn
    rec = recordings.get(conn, recording_id)
    with conn:
        queue.cancel_active(conn, recording_id, "deleted")
    store.delete_recording(recording_id)
    stored = rec.get("stored_path")
    shared = stored and conn.execute("SELECT 1 FROM recordings WHERE stored_path = ? LIMIT 1", (stored,)).fetchone()
    if stored and not shared:  # another recording of the same file keeps it
        (config.home / stored).unlink(missing_ok=True)
        try:
            (config.home / stored).parent.rmdir()  # originals/<sha[:2]>/, when it held only this file
        except OSError:
            pass
    shutil.rmtree(config.media_dir / str(recording_id), ignore_errors=True)
    shutil.rmtree(queue.work_dir(config, recording_id), ignore_errors=True)
    return rec


def reprocess(
    config,
    conn: sqlite3.Connection,
    recording_id: int,
    *,
    language: str | None = None,
    model: str | None = None,
    claim=None,
) -> int:
    """Queue a processed recording again from its stored original, with ``language`` (ja / en / auto)
    and ``model`` (one of kb.speech_checks.models).  Returns the new job's id (held by ``claim`` when given:
    `kb reprocess` runs it at once).

    The recording leaves search until it is done again (like a retry).  A recording already
    waiting or being processed is refused with one clear error."""
    from ingest import queue
    from kb.speech_checks import LANGUAGES, models

    rec = recordings.get(conn, recording_id)
    if rec["kind"] == "document":
        raise InputError(f"{rec['source_name']}: a document has no speech to recognise")
    language = (language or "auto").strip().lower()
    if language not in LANGUAGES:
        raise InputError(f"language must be one of {', '.join(LANGUAGES)}")
    model = (model or "").strip() or None
    if model is not None and model not in models(config):
        raise InputError(f"speech model must be one of {', '.join(models(config))}")
    if not rec.get("stored_path"):
        raise InputError(f"{rec['source_name']}: the original file was not kept; add it again")
    job = queue.latest_job(conn, recording_id)
    if job is not None and job["stage"] not in queue.FINISHED:
        raise InputError(f"{rec['source_name']}: it is already waiting or being processed")
    payload = {}
    if job is not None:
        try:
            payload = json.loads(job["payload"] or "{}")
        except ValueError:
            payload = {}
    for key in ("transcript_check", "warnings", "whisper_model", "language", "subtitle", "subtitle_name"):
        payload.pop(key, None)
    payload.setdefault("shown", rec["source_name"])
    if language != "auto":
        payload["language"] = language
    if model:
        payload["whisper_model"] = model
    with conn:
        job_id = queue.insert_job(conn, recording_id, payload, claim)
        conn.execute(
            f"UPDATE recordings SET status = 'pending', error = NULL, updated_at = {queue.NOW_SQL} WHERE id = ?",
            (recording_id,),
        )
        if language != "auto":
            conn.execute("UPDATE recordings SET language = ? WHERE id = ?", (language, recording_id))
    return job_id
