"""How snippets are written on the pages (Jinja filters, also used by the JSON twins); times come from
kb.timecodes and addresses from kb.urls, which the CLI and the application layer share.

Why a module of its own: the same moment appears on the results page, the
recording page, the print card and in the JSON, and it must read the same
everywhere ("02:15–02:48", "p. 3").  The snippet is rebuilt from the search
engine's already-escaped ``Hit.marked``: only ``<mark>``/``</mark>`` are tags
there, so it is split on those, cut to a window around the first match, and
escaped again piece by piece; nothing else from the data is ever marked safe.
"""

from __future__ import annotations

import html
import re

from markupsafe import Markup, escape

_MARK = re.compile(r"(</?mark>)")
_SPACES = re.compile(r"\s+")
# Kanji / katakana runs and Latin words: the content words of a Japanese or English question
# (hiragana is mostly particles and endings: の, を, には, ですか).


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
            part = escape(text[lo - pos : hi - pos])
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
