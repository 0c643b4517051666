"""Transcripts that look incomplete: finding them, and the choices for processing one again.

Why here: the check itself is measured while transcribing (media.speechcheck; the result is kept
on the job, ``payload.transcript_check``).  The studio, the recording's API and `kb show` all need
to ask "which of these recordings look incomplete?" and to offer the fix -- processing the
recording again, from its stored original, with another language and/or speech model -- so both
live in one place (the re-processing itself queues a job: services.recordings.reprocess).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

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
        f"(SELECT MAX(id) FROM jobs WHERE recording_id IN ({marks}) GROUP BY recording_id)",
        ids,
    ):
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
    done = {
        r[0] for r in conn.execute(f"SELECT id FROM recordings WHERE status = 'done' AND id IN ({marks})", list(found))
    }
    return {rid: c for rid, c in found.items() if rid in done}


def models(config) -> list[str]:
    """The speech models a re-processing may choose: the bundled two and the configured one."""
    return list(dict.fromkeys(["base", "tiny.en", (config.get("whisper_model") or "base").strip()]))
