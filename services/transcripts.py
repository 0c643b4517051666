"""Saving a corrected transcript so that search finds the correction at once.

kb.transcripts checks the lines and keeps every earlier version; here the new
lines are cut into chunks by the pipeline's own chunker (ingest.chunking.chunks_for,
so an edited recording is cut exactly as a processed one) and synced with both
indexes, only the moments whose text or times changed being embedded again
(SearchStore.sync_chunks).  The web editor calls these through
SearchService.write, which holds the index write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kb import transcripts
from kb.transcripts import SaveResult


def save(
    store,
    recording_id: int,
    lines: Any,
    base_version: Any,
    *,
    user_id: int | None = None,
    author: str | None = None,
    note: str | None = None,
    _originals: Sequence[dict] | None = None,
) -> SaveResult:
    """Replace a recording's transcript with ``lines`` (based on ``base_version``), keeping the old one.

    ``store`` is the knowledge base's search.store.SearchStore (its connection is used).
    Raises InputError for invalid lines, StaleVersion when a newer version was saved meanwhile."""
    from ingest.chunking import chunks_for

    edit = transcripts.prepare_save(
        store.conn, recording_id, lines, base_version, user_id=user_id, author=author, note=note, _originals=_originals
    )
    if not edit.changed:
        return SaveResult(version=edit.base, changed=False, lines=len(edit.lines))
    report = store.sync_chunks(recording_id, chunks_for(store.config, edit.lines), in_transaction=edit.write)
    return SaveResult(
        version=edit.base + 1,
        changed=True,
        lines=len(edit.lines),
        reembedded=report.added,
        kept=report.kept,
        removed=report.removed,
    )


def restore(
    store, recording_id: int, version: int, base_version: Any, *, user_id: int | None = None, author: str | None = None
) -> SaveResult:
    """Make an earlier version the current one again (as a new version: the history stays whole)."""
    old = transcripts.version_segments(store.conn, recording_id, int(version))
    lines = [dict(s, idx=n) for n, s in enumerate(old)]
    return save(
        store,
        recording_id,
        lines,
        base_version,
        user_id=user_id,
        author=author,
        note=f"restored version {int(version)}",
        _originals=old,
    )
