"""Watching and sharing: a recording at a moment, its subtitles and media, thumbnails, QR codes, print cards.

Media is streamed with HTTP range requests (``send_file(conditional=True)``
answers ``Range`` with 206), which is what lets Chromium and Safari seek; the
file is looked up from the recording's row, never from the request.

Every route here looks the recording up through web.auth.viewable_recording: one
the user may not see answers 404 exactly like a missing id, for the page, the
media, subtitles, thumbnails, the QR code and the print card alike.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request, send_file

from kb import catalogue, passages, recordings, urls
from web import data, http, mediafiles, moments, publicurl
from web.auth import current_viewer, viewable_recording
from web.db import get_db, kb_config
from web.qr import qr_svg

bp = Blueprint("recordings", __name__)


def _seconds(raw: str | None) -> float | None:
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return max(0.0, value) if value == value and value != float("inf") else None  # NaN / inf: ignored


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


@bp.get("/recordings")
def browse():
    conn = get_db()
    viewer = current_viewer()
    payload = data.recordings_payload(conn, request.args, viewer)
    return http.html_or_json(
        payload, "recordings/browse.html", facets=catalogue.facets(conn, viewer), req=data.parse_search(request.args)
    )


@bp.get("/r/<int:recording_id>")
def recording(recording_id: int):
    from kb.errors import NotFound

    try:
        payload = data.recording_payload(get_db(), kb_config(), recording_id, current_viewer())
    except NotFound:
        if recordings.was_deleted(get_db(), recording_id):  # a printed QR card of a deleted recording
            from flask_babel import gettext as _

            abort(410, description=_("This recording was deleted. Its id is never given to another one."))
        raise
    start = _seconds(request.args.get("t"))
    if start is not None and payload.get("duration"):
        start = min(start, float(payload["duration"]))
    page = _int(request.args.get("page"))
    chunk = _int(request.args.get("c"))
    row = _row(recording_id)
    if http.wants_json():
        return http.html_or_json(payload, "recordings/recording.html")
    media_start = start if payload["kind"] != "document" else None
    current = _current_index(payload["segments"], start)
    if current is not None and start is not None and payload["segments"][current]["start"] > start:
        start = payload["segments"][current]["start"]  # ?t=24 names the line that starts at 24.52 s
    end = _seconds(request.args.get("end"))
    query = " ".join((request.args.get("q") or "").split())[: data.MAX_QUERY_CHARS]
    found = moments.matches(payload, query, current_viewer()) if query and payload["status"] == "done" else None
    if media_start is None and chunk not in {p["id"] for p in payload["passages"]}:
        chunk = None  # a passage of another recording (or none): the link keeps only what is here
    shared = urls.moment_query(
        media_start, page if media_start is None else None, chunk if media_start is None else None
    )
    return http.html_or_json(
        payload,
        "recordings/recording.html",
        start=start,
        page=page,
        chunk=chunk,
        end=end if end is not None and start is not None and end > start else None,
        poster=urls.thumbnail(row, start or 0),
        current=current,
        query=query,
        found=found,
        share_link=share_url(
            recording_id, media_start, page if media_start is None else None, chunk if media_start is None else None
        ),
        share_base=share_url(recording_id, None),
        shared_query=shared,
        teach_topic=query or payload.get("technique") or payload.get("title"),
    )


def _current_index(segments: list[dict], start: float | None) -> int | None:
    """Index of the transcript line a link's ?t= names (highlighted before any script runs): the line
    that starts within that second (links write whole seconds: a line at 24.52 s is ?t=24), else the
    line being spoken at that time."""
    if start is None:
        return None
    current = None
    for n, s in enumerate(segments):
        if s["start"] is None or s["start"] >= start + 1:
            break
        if s["start"] <= start + 1e-6:
            current = n
            continue
        # the first line starting later within the same second, unless one starts exactly at ?t=
        if float(start).is_integer() and (current is None or segments[current]["start"] < start - 1e-6):
            return n
        break
    return current


def _row(recording_id: int) -> dict:
    """The recording's row if this user may see it; NotFound (404, as for a missing id) otherwise."""
    return viewable_recording(recording_id)


@bp.get("/r/<int:recording_id>/subtitles.vtt")
def subtitles(recording_id: int):
    from media.subtitles import to_vtt

    _row(recording_id)  # 404 for an unknown or hidden recording
    segs = [s for s in recordings.segments(get_db(), recording_id) if s["start"] is not None]
    cues = [_Cue(s["start"], s["end"] if s["end"] is not None else s["start"], s["text"]) for s in segs]
    return Response(to_vtt(cues), mimetype="text/vtt", headers={"Cache-Control": "no-cache"})


class _Cue:
    __slots__ = ("start", "end", "text")

    def __init__(self, start: float, end: float, text: str):
        self.start, self.end, self.text = start, end, text


@bp.get("/r/<int:recording_id>/media")
def media(recording_id: int):
    rec = _row(recording_id)
    source = mediafiles.playable(kb_config(), rec) if rec["status"] == "done" else None
    if source is None:
        abort(404, description="no playable media for this recording")
    response = send_file(source.path, mimetype=source.mimetype, conditional=True, etag=True, max_age=3600)
    response.headers["Accept-Ranges"] = "bytes"
    return _private(response)


def _private(response):
    """Browsers may keep media and thumbnails; shared caches (proxies) must not: they are per user."""
    response.cache_control.public = False
    response.cache_control.private = True
    return response


@bp.get("/r/<int:recording_id>/thumb/<int:second>.jpg")
def thumbnail(recording_id: int, second: int):
    rec = _row(recording_id)
    if urls.thumbnail_second(rec, second) is None:
        abort(404, description="no picture at this time")
    path = mediafiles.thumbnail(kb_config(), rec, second)
    if path is None:
        abort(404, description="no thumbnail could be made")
    return _private(send_file(path, mimetype="image/jpeg", conditional=True, max_age=86400))


def qr_base() -> str:
    """The start of the addresses QR codes carry: the public address, else the one the page was opened with."""
    return publicurl.qr_base(current_app.config.get("PUBLIC_URL"), request.host_url)


@bp.app_template_global()
def qr_unreachable() -> str | None:
    """For the QR pages: the address QR codes point at when no phone can open it (a loopback one), else None."""
    base = qr_base()
    return base if publicurl.is_loopback(base) else None


def share_url(recording_id: int, start: float | None, page: int | None = None, chunk: int | None = None) -> str:
    """The absolute address of a moment, for links that leave the browser (QR codes, print cards): a time
    (?t=), or a written passage (?c= and its #c- anchor) or page (?page=), as kb.urls.moment."""
    return qr_base() + urls.moment(recording_id, start, page, chunk)


def _moment_args(recording_id: int) -> tuple[float | None, int | None, int | None]:
    """(?t=, ?page=, ?c=) of a QR code or card request; a passage id of another recording is ignored."""
    start, page, chunk = _seconds(request.args.get("t")), _int(request.args.get("page")), _int(request.args.get("c"))
    if start is not None:
        return start, None, None
    if chunk is not None and passages.of_recording(get_db(), recording_id, chunk) is None:
        chunk = None
    return None, page, chunk


@bp.get("/r/<int:recording_id>/qr.svg")
def qr(recording_id: int):
    _row(recording_id)
    url = share_url(recording_id, *_moment_args(recording_id))
    return Response(qr_svg(url), mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})


@bp.get("/r/<int:recording_id>/print")
def print_card(recording_id: int):
    """A card to print and stick on the machine: title, meister, moment, QR code, address."""
    conn = get_db()
    rec = data.public(_row(recording_id))
    start, page, chunk = _moment_args(recording_id)
    passage, shown_page = None, page
    if chunk is not None:  # a written passage: its text, and its page on the card (the link stays as shared)
        passage = passages.of_recording(conn, recording_id, chunk)
        shown_page = page if page is not None else passage["page"]
    line = passage["text"][:200] if passage else _line_at(recordings.segments(conn, recording_id), start, page)
    payload = dict(
        rec, start=start, page=shown_page, passage=chunk, link=share_url(recording_id, start, page, chunk), text=line
    )
    return http.html_or_json(
        payload,
        "recordings/print.html",
        qr_src=urls.qr(recording_id, start, page, chunk),
        back=urls.moment(recording_id, start, page, chunk),
    )


def _line_at(segments: list[dict], start: float | None, page: int | None) -> str | None:
    """The transcript line spoken at ``start`` (or the first text of ``page``), for the card."""
    if start is not None:
        spoken = [s for s in segments if s["start"] is not None and s["start"] <= start + 0.5]
        return spoken[-1]["text"] if spoken else None
    if page is not None:
        return next((s["text"][:200] for s in segments if s["page"] == page), None)
    return None
