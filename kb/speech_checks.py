"""Transcripts that look incomplete: finding them, and processing one again with another language or model.

Why here: the check itself is measured while transcribing (media.speechcheck; the result is kept
on the job, ``payload.transcript_check``).  The studio, the recording's API and `kb show` all need
to ask "which of these recordings look incomplete?" and to offer the fix -- processing the
recording again, from its stored original, with another language and/or speech model -- so both
live in one place.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from kb import recordings
from kb.errors import InputError

LANGUAGES = ("ja", "en", "auto")


def checks(conn: sqlite3.Connection, recording_ids: Iterable[int]) -> dict[int, dict]:
    """Recording id -> the speech check of its latest job (only recordings that have one)."""
    ids = list(dict.fromkeys(int(i) for i in recording_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    out = {}
    for rid, raw in conn.execute(
            f"SELECT recording_id, json_extract(payload, '$.transcript_check') FROM jobs WHERE id IN "
            f"(SELECT MAX(id) FROM jobs WHERE recording_id IN ({marks}) GROUP BY recording_id)", ids):
        try:
            value = json.loads(raw) if raw else None
        except ValueError:
            value = None
        if isinstance(value, dict):
            out[int(rid)] = value
    return out


def incomplete(conn: sqlite3.Connection, recording_ids: Iterable[int]) -> dict[int, dict]:
    """Only the done recordings whose transcript looks incomplete."""
    found = {rid: c for rid, c in checks(conn, recording_ids).items() if c.get("incomplete")}
    if not found:
        return {}
    marks = ",".join("?" * len(found))
    done = {r[0] for r in conn.execute(f"SELECT id FROM recordings WHERE status = 'done' AND id IN ({marks})",
                                       list(found))}
    return {rid: c for rid, c in found.items() if rid in done}


def models(config) -> list[str]:
    """The speech models a re-processing may choose: the bundled two and the configured one."""
    return list(dict.fromkeys(["base", "tiny.en", (config.get("whisper_model") or "base").strip()]))


def reprocess(config, conn: sqlite3.Connection, recording_id: int, *, language: str | None = None,
              model: str | None = None, claim=None) -> int:
    """Queue a processed recording again from its stored original, with ``language`` (ja / en / auto)
    and ``model`` (one of :func:`models`).  Returns the new job's id (held by ``claim`` when given:
    `kb reprocess` runs it at once).

    The recording leaves search until it is done again (like a retry).  A recording already
    waiting or being processed is refused with one clear error."""
    from ingest import queue

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
        conn.execute(f"UPDATE recordings SET status = 'pending', error = NULL, updated_at = {queue.NOW_SQL} "
                     "WHERE id = ?", (recording_id,))
        if language != "auto":
            conn.execute("UPDATE recordings SET language = ? WHERE id = ?", (language, recording_id))
    return job_id
