"""What each page shows, as plain dicts: the HTML views render them, the JSON twins return them as they are.

Why one place: "every page that shows data has a JSON twin" is only true if the
page and its twin cannot drift apart, so both are fed by the same function.
Only published fields leave the server (no stored paths, no hashes).

Why every function takes the viewer: what a page shows depends on who asks
(kb.access).  Lists, counts, facets and suggestions count only the recordings
the viewer may see (kb.access.visible_where in the SQL), search passes the
visible ids to the engine, and one recording is looked up through
kb.access.visible_recording, so a hidden recording leaks through none of them.
"""

from __future__ import annotations

import sqlite3
from typing import Mapping

from flask_babel import gettext as _

from kb import catalogue, glossary, passages, recordings, urls
from kb.access import Viewer, visible_recording, visible_recording_ids
from kb.recordings import KINDS
from kb.settings import Config
from services import search as searching
from services.search import MODES, SearchRequest
from web import mediafiles
from web.errors import BadRequest  # raised here, answered by web.errors.handle_exception
from web.moments import chapters
from web.searching import SearchService

MAX_QUERY_CHARS = 300
MAX_LIMIT = 50
PUBLIC_FIELDS = (
    "id",
    "title",
    "kind",
    "format",
    "meister",
    "technique",
    "tags",
    "language",
    "duration",
    "pages",
    "status",
    "created_at",
)


def _one(args: Mapping, name: str) -> str | None:
    value = args.get(name)
    value = value.strip() if isinstance(value, str) else None
    return value or None


def parse_search(args) -> SearchRequest:
    """A SearchRequest from query-string arguments (q, technique, meister, kind, language, tag..., mode, limit)."""
    query = (args.get("q") or "").strip()[:MAX_QUERY_CHARS]
    kind = _one(args, "kind")
    if kind and kind not in KINDS:
        raise BadRequest(_("The kind must be one of: %(allowed)s.", allowed=", ".join(KINDS)), "invalid_kind")
    mode = _one(args, "mode") or "hybrid"
    if mode not in MODES:
        raise BadRequest(_("The search mode must be one of: %(allowed)s.", allowed=", ".join(MODES)), "invalid_mode")
    try:
        limit = int(args.get("limit") or 10)
    except ValueError:
        raise BadRequest(_("The limit must be a whole number."), "invalid_limit") from None
    tags = args.getlist("tag") if hasattr(args, "getlist") else list(args.get("tag") or [])
    return SearchRequest(
        query=query,
        limit=max(1, min(MAX_LIMIT, limit)),
        mode=mode,
        technique=_one(args, "technique"),
        meister=_one(args, "meister"),
        kind=kind,
        language=_one(args, "language"),
        tags=[t.strip() for t in tags if t and t.strip()],
    )


def public(rec: Mapping) -> dict:
    """The fields of a recording that pages and the API show, with its address."""
    out = {k: rec.get(k) for k in PUBLIC_FIELDS}
    out["url"] = urls.recording(rec["id"])
    out["thumbnail"] = urls.thumbnail(rec, 0) if rec.get("kind") == "video" else None
    return out


def search_payload(service: SearchService, conn: sqlite3.Connection, req: SearchRequest, viewer: Viewer) -> dict:
    """Results of a search among what ``viewer`` may see, in the one hit shape (services.search.run, as
    `kb search --json`), and what to try instead when nothing was found."""
    if req.query:
        visible = visible_recording_ids(conn, viewer)
        payload = service.with_searcher(lambda searcher: searching.run(searcher, conn, req, visible))
    else:
        payload = searching.run(None, conn, req)  # nothing asked: the search models are not even loaded
    payload["suggestions"] = None
    if req.query and not payload["hits"]:
        payload["suggestions"] = suggestions(conn, req, viewer)
    return payload


def suggestions(conn: sqlite3.Connection, req: SearchRequest, viewer: Viewer) -> dict:
    """What to try when nothing was found: without the filters, a technique name, a glossary term."""
    techniques = [t["name"] for t in catalogue.technique_counts(conn, viewer)][:8]
    everyone = viewer.sees_everything or viewer.organisation_id is None
    terms = glossary.first_terms(conn, None if everyone else viewer.organisation_id)  # one's own words only
    return {
        "without_filters": req.has_filters,
        "techniques": techniques,
        "terms": terms,
        "shorter": len(req.query) > 12,
    }


def recent(conn: sqlite3.Connection, viewer: Viewer, limit: int) -> list[dict]:
    """The newest finished recordings ``viewer`` may see."""
    ids = catalogue.newest_ids(conn, viewer, limit)
    rows = recordings.get_many(conn, ids)
    return [public(rows[i]) for i in ids if i in rows]


def recordings_payload(conn: sqlite3.Connection, args: Mapping, viewer: Viewer) -> dict:
    """Every searchable recording ``viewer`` may see, grouped by technique category (filters as for search)."""
    req = parse_search(args)
    wanted = {"technique": req.technique, "meister": req.meister, "kind": req.kind, "language": req.language}
    visible = visible_recording_ids(conn, viewer)
    listed = []
    for rec in recordings.list_all(conn, status="done"):
        if visible is not None and rec["id"] not in visible:
            continue
        if any(v and rec.get(k) != v for k, v in wanted.items()):
            continue
        if req.tags and not set(req.tags) <= set(rec.get("tags") or []):
            continue
        listed.append(public(rec))
    groups: dict[str, list[dict]] = {}
    for rec in sorted(listed, key=lambda r: (r["technique"] is None, r["technique"] or "", r["id"])):
        groups.setdefault(rec["technique"] or "", []).append(rec)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] == "", -len(kv[1]), kv[0]))  # biggest first, "other" last
    return {
        "filters": req.filters_json(),
        "count": len(listed),
        "techniques": [{"name": name, "count": len(items), "recordings": items} for name, items in ordered],
    }


def recording_payload(conn: sqlite3.Connection, config: Config, recording_id: int, viewer: Viewer) -> dict:
    """One recording: metadata, media and subtitle addresses, transcript lines or written passages.
    NotFound (404) when ``viewer`` may not see it, exactly as for a missing id."""
    rec = visible_recording(conn, viewer, recording_id)
    out = public(rec)
    out["meister_url"] = urls.meister(rec["meister_id"]) if rec.get("meister_id") is not None else None
    out["media"] = None
    out["media_type"] = None
    out["subtitles"] = None
    source = mediafiles.playable(config, rec) if rec["status"] == "done" else None
    if source is not None:
        out["media"] = urls.media(recording_id)
        out["media_type"] = source.mimetype
    segments = recordings.segments(conn, recording_id)
    out["segments"] = [
        {
            "idx": s["idx"],
            "start": s["start"],
            "end": s["end"],
            "page": s["page"],
            "text": s["text"],
            "speaker": s["speaker"],
        }
        for s in segments
    ]
    if rec["kind"] != "document" and any(s["start"] is not None for s in segments):
        out["subtitles"] = urls.subtitles(recording_id)
    # The recording's moments (its timed passages), as chapters beside the player (web/moments.py).
    out["moments"] = chapters(conn, recording_id) if rec["kind"] != "document" and rec["status"] == "done" else []
    out["passages"] = []
    if rec["kind"] == "document":
        out["passages"] = passages.in_order(conn, recording_id)
    return out
