"""How times, moments and snippets are written on the pages (Jinja filters, also used by the JSON twins).

Why a module of its own: the same moment appears on the results page, the
recording page, the print card and in the JSON, and it must read the same
everywhere ("02:15–02:48", "p. 3").  The snippet is rebuilt from the search
engine's already-escaped ``Hit.marked``: only ``<mark>``/``</mark>`` are tags
there, so it is split on those, cut to a window around the first match, and
escaped again piece by piece; nothing else from the data is ever marked safe.
"""
from __future__ import annotations

import html
import math
import re
from urllib.parse import urlencode

from markupsafe import Markup, escape

_MARK = re.compile(r"(</?mark>)")
_SPACES = re.compile(r"\s+")
# Kanji / katakana runs and Latin words: the content words of a Japanese or English question
# (hiragana is mostly particles and endings: の, を, には, ですか).


def clock(seconds: float | None) -> str:
    """02:15, or 1:02:15 past an hour; empty for None."""
    if seconds is None:
        return ""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def parse_clock(text: str | None) -> float | None:
    """Seconds from a time as a person types it: 01:05, 1:05.5, 1:02:15, 65 (seconds), also in full-width
    digits from a Japanese keyboard (０１：０５); None when it is not a time.  The editor's inverse of clock."""
    import unicodedata

    text = unicodedata.normalize("NFKC", text or "").strip().replace(",", ".")
    parts = text.split(":")
    if not text or len(parts) > 3 or not all(parts):
        return None
    try:
        seconds = float(parts[-1])
        whole = [int(p) for p in parts[:-1]]
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0 or any(w < 0 for w in whole) or not re.fullmatch(
            r"\d+(\.\d+)?", parts[-1]) or not all(p.isdigit() for p in parts[:-1]):
        return None
    if len(parts) > 1 and seconds >= 60 or len(parts) == 3 and whole[1] >= 60:
        return None
    total = seconds
    for n, w in enumerate(reversed(whole)):
        total += w * 60 ** (n + 1)
    return round(total, 3)


def time_range(start: float | None, end: float | None) -> str:
    """02:15–02:48 (or just 02:15 when the end is unknown or the same second)."""
    if start is None:
        return ""
    if end is None or int(end) <= int(start):
        return clock(start)
    return f"{clock(start)}–{clock(end)}"


def moment_url(recording_id: int, start: float | None = None, page: int | None = None,
               chunk_id: int | None = None, end: float | None = None) -> str:
    """The address of a moment: /r/<id>?t=<seconds> (with &end=<seconds> when the moment has an end the
    player should stop at: curriculum items), or a written passage by page / passage id."""
    if start is not None:
        if end is not None and end > start:
            return f"/r/{recording_id}?t={int(start)}&end={math.ceil(end)}"
        return f"/r/{recording_id}?t={int(start)}"
    params: dict[str, int] = {}
    if page is not None:
        params["page"] = page
    if chunk_id is not None:
        params["c"] = chunk_id
    anchor = f"#c-{chunk_id}" if chunk_id is not None else (f"#page-{page}" if page is not None else "")
    return f"/r/{recording_id}" + (f"?{urlencode(params)}" if params else "") + anchor


MAX_QUERY_IN_LINK = 200


def with_query(url: str, query: str | None) -> str:
    """A moment's address carrying the search that found it (…?t=24&q=…), so the recording page can
    mark the passages that matched; the #anchor stays last.  Long queries are cut (links stay short)."""
    query = " ".join((query or "").split())[:MAX_QUERY_IN_LINK]
    if not query:
        return url
    base, hash_, anchor = url.partition("#")
    base += ("&" if "?" in base else "?") + urlencode({"q": query})
    return base + hash_ + anchor


def _pieces(marked: str) -> list[tuple[str, bool]]:
    """(plain text, is_marked) pieces of an escaped string that holds only <mark> tags."""
    out, inside = [], False
    for part in _MARK.split(marked or ""):
        if part == "<mark>":
            inside = True
        elif part == "</mark>":
            inside = False
        elif part:
            out.append((html.unescape(part), inside))
    return out


def snippet(marked: str, before: int = 50, length: int = 200) -> Markup:
    """A window of about ``length`` characters starting ``before`` characters ahead of the first match,
    with the matches in <mark>; text is escaped again here, so only <mark> tags can come out."""
    pieces = _pieces(marked)
    # Runs of white space become one space, kept at the edges: the spaces around a marked English
    # word are text too ("I weld <mark>thin</mark> stainless", not "I weld<mark>thin</mark>stainless").
    flat = [(_SPACES.sub(" ", text) if not m else text, m) for text, m in pieces]
    if flat and not flat[0][1]:
        flat[0] = (flat[0][0].lstrip(), False)
    if flat and not flat[-1][1]:
        flat[-1] = (flat[-1][0].rstrip(), False)
    full = "".join(t for t, _ in flat)
    first = 0
    pos = 0
    for text, is_mark in flat:
        if is_mark:
            first = pos
            break
        pos += len(text)
    start = max(0, first - before)
    if len(full) - start < length:
        start = max(0, len(full) - length)
    end = start + length
    out, pos = [], 0
    for text, is_mark in flat:
        lo, hi = max(start, pos), min(end, pos + len(text))
        if lo < hi:
            part = escape(text[lo - pos:hi - pos])
            out.append(Markup("<mark>") + part + Markup("</mark>") if is_mark else part)
        pos += len(text)
    body = Markup("").join(out)
    if start > 0:
        body = Markup("…") + body
    if end < len(full):
        body = body + Markup("…")
    return body


def plain_snippet(marked: str, before: int = 50, length: int = 200) -> str:
    """The same window as :func:`snippet`, as plain text (for the print card and alt texts)."""
    return html.unescape(_MARK.sub("", str(snippet(marked, before, length))))
