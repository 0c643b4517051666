"""Every address of the product's pages: a recording, a moment in it, a written passage, a meister, a curriculum.

Why one module (datasette's ``Urls``): the same moment is linked from the search
page, the JSON API, ``kb search --json``, "who can teach this?", curricula,
saved moments, QR codes and print cards.  Written by hand in each place, the
copies drifted (one JSON hit carried ``/r/3?page=2`` and ``/r/3?page=2&c=17#c-17``
for the same passage).  Built here, a change of address is one edit, and the
route declarations (web/views) are the only other place a path is spelled.

Why in kb/ and plain Python: the search engine, the application layer
(services/) and the CLI build links too, and none of them may import Flask; the
templates reach it as the Jinja global ``urls`` (``urls.recording(rec.id)``).
Addresses are root-relative (``/r/3``); a QR code or card puts the public
address in front (web/publicurl.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from urllib.parse import urlencode

MAX_QUERY_IN_LINK = 200  # a search carried in a link is cut to this many characters (links stay short)


def recording(recording_id: int) -> str:
    """The recording page: /r/<id>."""
    return f"/r/{int(recording_id)}"


def moment_query(
    start: float | None = None, page: int | None = None, chunk_id: int | None = None, end: float | None = None
) -> str:
    """The query naming a moment, with its ``?``: ``?t=<whole seconds>`` (``&end=`` when the player should stop
    there: curriculum items), else a written passage by ``?page=`` and/or passage id ``?c=``; "" for none."""
    if start is not None:
        if end is not None and end > start:
            return f"?t={int(start)}&end={math.ceil(end)}"
        return f"?t={int(start)}"
    params: dict[str, int] = {}
    if page is not None:
        params["page"] = page
    if chunk_id is not None:
        params["c"] = chunk_id
    return f"?{urlencode(params)}" if params else ""


def moment(
    recording_id: int,
    start: float | None = None,
    page: int | None = None,
    chunk_id: int | None = None,
    end: float | None = None,
) -> str:
    """A moment on the recording page: /r/<id>?t=<seconds>, or a written passage /r/<id>?page=2&c=17#c-17
    (the anchor scrolls to the passage, or to the page without a passage id).  A time wins: a timed moment's
    page and passage id are not in its address."""
    anchor = ""
    if start is None:
        anchor = f"#c-{chunk_id}" if chunk_id is not None else (f"#page-{page}" if page is not None else "")
    return recording(recording_id) + moment_query(start, page, chunk_id, end) + anchor


def with_query(url: str, query: str | None) -> str:
    """A moment's address carrying the search that found it (…?t=24&q=…), so the recording page can
    mark the passages that matched; the #anchor stays last.  Long queries are cut (links stay short)."""
    return with_params(url, q=" ".join((query or "").split())[:MAX_QUERY_IN_LINK])


def with_params(url: str, **params) -> str:
    """``url`` with more query parameters (empty ones left out), before its #anchor."""
    extra = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    if not extra:
        return url
    base, hash_, anchor = url.partition("#")
    return base + ("&" if "?" in base else "?") + extra + hash_ + anchor


def media(recording_id: int) -> str:
    """The playable file (web copy or original) of a video or sound recording."""
    return f"{recording(recording_id)}/media"


def subtitles(recording_id: int) -> str:
    """The WebVTT subtitles of a timed recording."""
    return f"{recording(recording_id)}/subtitles.vtt"


def thumbnail_second(rec: Mapping, seconds: float | None) -> int | None:
    """The whole second a thumbnail is cut at, or None when the recording has no picture at that time
    (not a video, or past its end: requests cannot fill the disk with thumbnails)."""
    if rec.get("kind") != "video" or seconds is None or seconds < 0:
        return None
    duration = rec.get("duration")
    if duration is not None and seconds > duration + 1:
        return None
    return int(seconds)


def thumbnail(rec: Mapping, seconds: float | None) -> str | None:
    """The still of a video at ``seconds`` (/r/<id>/thumb/<second>.jpg); None when there is none to show."""
    second = thumbnail_second(rec, seconds)
    if second is None or not rec.get("stored_path"):
        return None
    return f"{recording(rec['id'])}/thumb/{second}.jpg"


def qr(recording_id: int, start: float | None = None, page: int | None = None, chunk_id: int | None = None) -> str:
    """The QR code (SVG) of a moment's shared address."""
    return f"{recording(recording_id)}/qr.svg" + moment_query(start, page, chunk_id)


def print_card(
    recording_id: int, start: float | None = None, page: int | None = None, chunk_id: int | None = None
) -> str:
    """The printable QR card of a moment."""
    return f"{recording(recording_id)}/print" + moment_query(start, page, chunk_id)


def transcript_editor(recording_id: int) -> str:
    """The page where a transcript is corrected."""
    return f"{recording(recording_id)}/transcript/edit"


def meister(meister_id: int) -> str:
    """A meister's profile: /meisters/<id>."""
    return f"/meisters/{int(meister_id)}"


def curriculum(curriculum_id: int) -> str:
    """A curriculum's editor: /curricula/<id>."""
    return f"/curricula/{int(curriculum_id)}"
