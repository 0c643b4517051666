"""Deleting a recording: the one path `kb delete` and the studio both take.

Why one: the two used to differ (the studio also took the index write lock and
removed the emptied originals folder; the command did neither), so a recording
deleted from the command line could leave a folder behind, and its index write
could race a worker's.  Everything of a recording goes: its job (a worker still
on it stops at its next step), original (unless another recording names the same
file), browser copy, thumbnails, scratch files, transcript and its history,
passages, and both indexes.
"""
from __future__ import annotations

import shutil
import sqlite3

from kb import recordings
from kb.settings import Config


def delete(config: Config, conn: sqlite3.Connection, recording_id: int, *, store=None) -> dict:
    """Delete a recording under the cross-process index write lock; returns the recording as it was.

    ``store``: the search store to change (default: one opened under the lock, so it
    starts from the index other processes saved)."""
    from ingest.stages import index_write_lock
    from search.store import SearchStore

    with index_write_lock(config):
        return delete_locked(store or SearchStore(config, conn), recording_id)


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
