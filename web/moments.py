"""Moving inside one recording: its moments as chapters, and the passages a search found in it.

Why: an apprentice who lands on a moment should see the recording's other moments
(its passages, the same pieces search answers with), where the words they searched
for are, and step from one matching passage to the next, the way video sites offer
chapters and in-video search.

* chapters: the recording's passages (chunks) with their times and a short line each;
  they are listed beside the player and drawn as marks on its timeline;
* matches: when the page is opened from a search (the link carries ``q``), the same
  hybrid search restricted to this recording; the passages that clear the relevance
  bar (search/strength.py) are marked on the timeline and in the transcript, with the
  question's words highlighted.  When none clears it, the best passage is marked as the
  nearest one, and the page says so.
"""

from __future__ import annotations

import re
import sqlite3

from kb import passages
from kb.access import Viewer

LABEL_CHARS = 40
MAX_MATCHES = 50
_SENTENCE_END = re.compile(r"(?<=[。!?!?.])\s*")


def short_line(text: str, limit: int = LABEL_CHARS) -> str:
    """The first sentence of a passage, cut to ``limit`` characters: what a chapter is called."""
    flat = " ".join((text or "").split())
    first = _SENTENCE_END.split(flat, maxsplit=1)[0] or flat
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def chapters(conn: sqlite3.Connection, recording_id: int) -> list[dict]:
    """The recording's timed passages, in order: {start, end, label, chunk_id}."""
    rows = passages.timed(conn, recording_id)
    return [{"chunk_id": r["id"], "start": r["start"], "end": r["end"], "label": short_line(r["text"])} for r in rows]


def matches(payload: dict, query: str, viewer: Viewer) -> dict | None:
    """The passages of this recording that the search ``query`` finds, and the transcript lines they
    cover marked (``segments[i]["match"]``, ``["marked"]``).  None when nothing was searched.

    ``payload`` is web.data.recording_payload's, already checked visible to ``viewer``."""
    from search import lexical
    from search.engine import mark
    from services.search import SearchRequest
    from web.db import search_service

    if not query or payload.get("kind") == "document":
        return None
    result = search_service().search(SearchRequest(query=query, limit=1), recording_ids={payload["id"]})
    found: list[dict] = []
    if result.hits:
        hit = result.hits[0]
        found = [{"start": hit.start, "end": hit.end, "strength": hit.strength}]
        found += [{"start": m.start, "end": m.end, "strength": m.strength} for m in hit.more]
        found = [m for m in found if m["start"] is not None]
    strong = [m for m in found if m["strength"] == "strong"]
    shown = sorted(strong or found[:1], key=lambda m: m["start"])[:MAX_MATCHES]
    terms = lexical.highlight_terms(query)
    for seg in payload.get("segments", []):
        if seg["start"] is None:
            continue
        end = seg["end"] if seg["end"] is not None else seg["start"]
        if any(
            m["start"] - 1e-6 <= seg["start"] < (m["end"] if m["end"] is not None else m["start"] + 1e-6)
            or m["start"] < end
            and seg["start"] <= m["start"]
            for m in shown
        ):
            seg["match"] = True
            seg["marked"] = mark(seg["text"], terms)
    return {"query": query, "moments": shown, "strong": bool(strong)}
