"""A search as every face of the product answers it: one request, one function, one hit shape.

Why one function: the search page, its JSON twin, ``/api/v1/search`` and
``kb search --json`` used to build their hits in three places (and "who can teach
this?" in a fourth), so the fields drifted apart: the CLI's hits had no ``url``,
no ``time`` and no further moments, and a written passage had two different
addresses.  Now each calls :func:`run` and gets the same dict.

A hit, as JSON (``hit_json``)::

    recording_id, title, kind, meister, technique, language, tags   the recording
    start, end, page, chunk_id, time                                 where in it ("02:15–02:48"; page of a document)
    text, marked                                                     the passage; marked: HTML-escaped, <mark> around matches
    score, strength                                                  fused score; "strong" when it clears the relevance bar
    url                                                              the moment's address (kb.urls.moment)
    link                                                             the same address: `kb search --json` published it first
    thumbnail                                                        a video's still at that second, else null
    more                                                             the recording's further moments: chunk_id, start, end,
                                                                     page, score, strength, url, time

"Who can teach this?" (search.teachers) answers with meisters; each has its
profile's ``url`` and ``evidence``: their best moments, each a hit's fields
(recording_id, title, kind, start, end, page, chunk_id, score, marked, link)
with the same ``url`` and ``time`` (``teacher_json``, for the page, the API and
``kb teach --json``).

No Flask here (the application layer): the caller says which recordings the
asker may see (kb.access.visible_recording_ids) and brings its searcher.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from kb import recordings, urls
from kb.timecodes import time_range
from search import MODES

__all__ = ["MODES", "SearchRequest", "filters_for", "hit_json", "moment_json", "run", "teacher_json"]


@dataclass
class SearchRequest:
    """What is asked: the question, how many recordings, the mode and the filters."""

    query: str
    limit: int = 10
    mode: str = "hybrid"
    technique: str | None = None
    meister: str | None = None
    kind: str | None = None
    language: str | None = None
    tags: list[str] = field(default_factory=list)

    def filters_json(self) -> dict:
        return {
            "technique": self.technique,
            "meister": self.meister,
            "kind": self.kind,
            "language": self.language,
            "tags": list(self.tags),
        }

    @property
    def has_filters(self) -> bool:
        return any((self.technique, self.meister, self.kind, self.language, self.tags))


def filters_for(req: SearchRequest, recording_ids: set[int] | None = None):
    """The engine's filters for ``req``, restricted to ``recording_ids`` (None: everything)."""
    from search.engine import Filters

    return Filters(
        technique=req.technique,
        meister=req.meister,
        kind=req.kind,
        language=req.language,
        tags=list(req.tags),
        recording_ids=recording_ids,
    )


def moment_json(recording_id: int, moment: dict) -> dict:
    """A moment's dict (start, end, page, chunk_id) with its address and its time as people read it."""
    moment["url"] = urls.moment(recording_id, moment["start"], moment["page"], moment["chunk_id"])
    moment["time"] = time_range(moment["start"], moment["end"])
    return moment


def hit_json(hit, rec: dict | None = None) -> dict:
    """One search.engine.Hit in the shape every face shows (module docstring); ``rec`` is its recording's row
    (kb.recordings.get_many: the language, tags and thumbnail come from it)."""
    rec = rec or {"id": hit.recording_id, "kind": hit.kind}
    d = moment_json(hit.recording_id, hit.to_json())
    d["link"] = d["url"]
    d["thumbnail"] = urls.thumbnail(rec, hit.start)
    d["language"] = rec.get("language")
    d["tags"] = rec.get("tags") or []
    d["more"] = [moment_json(hit.recording_id, m) for m in d["more"]]
    return d


def run(searcher, conn: sqlite3.Connection, req: SearchRequest, recording_ids: set[int] | None = None) -> dict:
    """Search ``req`` among ``recording_ids`` (None: all) with ``searcher`` (a search.engine.Searcher):
    ``{query, mode, filters, no_good_match, hits, warnings}``, each hit in the one shape.  An empty query
    searches nothing (no hits, not "no good match")."""
    payload = {
        "query": req.query,
        "mode": req.mode,
        "filters": req.filters_json(),
        "no_good_match": False,
        "hits": [],
        "warnings": [],
    }
    if not req.query:
        return payload
    result = searcher.search(req.query, limit=req.limit, mode=req.mode, filters=filters_for(req, recording_ids))
    recs = recordings.get_many(conn, {h.recording_id for h in result.hits})
    payload["hits"] = [hit_json(h, recs.get(h.recording_id)) for h in result.hits]
    payload["warnings"] = list(result.warnings)
    payload["no_good_match"] = result.no_good_match  # nothing clears the relevance bar (search/strength.py)
    return payload


def teacher_json(teacher) -> dict:
    """One search.teachers.Teacher as the pages, the API and `kb teach --json` show it: its profile's address,
    and its evidence moments with their addresses and times as a search hit's."""
    d = teacher.to_json()
    d["url"] = urls.meister(teacher.id)
    d["evidence"] = [moment_json(e["recording_id"], e) for e in d["evidence"]]
    return d
