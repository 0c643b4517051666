"""Subtitle files in and out: SRT and WebVTT <-> timed :class:`~media.asr.Segment` lists.

Why: meisters' videos sometimes come with subtitles already made (by hand, or
by a phone app), which are better than anything Whisper tiny makes of workshop
noise; and the browser player needs WebVTT for the transcripts we make.  Files
from the wild are messy, so the readers are lenient: CRLF line ends, a missing
final blank line, ``<i>``/``<font>`` styling, ASS ``{\\an8}`` overrides, VTT cue
settings, NOTE/STYLE/REGION blocks, VTT times without hours (``01:02.500``),
ruby readings (``<rt>``, dropped so 漢字 is not followed by its kana), UTF-8 with or
without BOM, UTF-16, and Shift-JIS (cp932) for older Japanese SRTs.
"""

from __future__ import annotations

import codecs
import html
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from media.asr import Segment
from media.errors import MediaError

__all__ = ["parse_srt", "parse_vtt", "read_subtitle_file", "to_srt", "to_vtt", "decode_subtitle_bytes"]

_TS = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?"
_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}(?:\s.*)?$")
_RUBY_TEXT = re.compile(r"<(rt|rp)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_ANY_TAG = re.compile(r"<[^<>\n]*>")
_SRT_TAG = re.compile(r"</?(?:[a-z][a-z0-9]*)(?:[.\s][^<>\n]*)?>", re.IGNORECASE)
_ASS_OVERRIDE = re.compile(r"\{\\[^{}\n]*\}")


class _Timed(Protocol):
    start: float
    end: float
    text: str


# ---------------------------------------------------------------- reading


def _seconds(groups: tuple) -> float:
    hours, minutes, seconds, frac = groups
    ms = int((frac or "0").ljust(3, "0")[:3])
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + ms / 1000


def _timing(line: str) -> tuple[float, float] | None:
    m = _TIMING.match(line)
    if not m:
        return None
    g = m.groups()
    start, end = _seconds(g[:4]), _seconds(g[4:8])
    return start, max(start, end)


def _normalise(text: str) -> str:
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _clean_lines(lines: Iterable[str], *, vtt: bool) -> str:
    text = "\n".join(lines)
    text = _RUBY_TEXT.sub("", text)
    text = _ASS_OVERRIDE.sub("", text)
    text = (_ANY_TAG if vtt else _SRT_TAG).sub("", text)
    if vtt:
        text = html.unescape(text)
    return "\n".join(ln.strip() for ln in text.split("\n") if ln.strip())


def parse_srt(text: str) -> list[Segment]:
    """Cues of an SRT file.  Lenient: cue numbers optional, blank lines inside a cue tolerated."""
    lines = _normalise(text).split("\n")
    timings = [_timing(ln) for ln in lines]
    cues: list[tuple[float, float, list[str]]] = []
    for i, line in enumerate(lines):
        if timings[i]:
            cues.append((*timings[i], []))
        elif cues and line.strip():
            is_index = line.strip().isdigit() and any(timings[i + 1 : i + 2])
            if not is_index:
                cues[-1][2].append(line)
    segments = [Segment(start, end, _clean_lines(body, vtt=False)) for start, end, body in cues]
    return [s for s in segments if s.text]


def parse_vtt(text: str) -> list[Segment]:
    """Cues of a WebVTT file (header, NOTE, STYLE and REGION blocks skipped; cue settings ignored)."""
    segments = []
    for block in re.split(r"\n[ \t]*\n", _normalise(text)):
        lines = block.split("\n")
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines or re.match(r"(WEBVTT|NOTE|STYLE|REGION)(\s|$)", lines[0]):
            continue
        at = next((i for i, ln in enumerate(lines[:2]) if _timing(ln)), None)
        if at is None:
            continue
        start, end = _timing(lines[at])
        body = _clean_lines(lines[at + 1 :], vtt=True)
        if body:
            segments.append(Segment(start, end, body))
    return segments


def decode_subtitle_bytes(raw: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Shift-JIS (cp932), else UTF-8 with replacements."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw.decode("utf-8-sig", errors="replace")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")
    for encoding in ("utf-8", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("utf-8", errors="replace")


def read_subtitle_file(path: str | os.PathLike) -> list[Segment]:
    """Segments of an .srt or .vtt file (format told by content, then by extension)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise MediaError("file not found", p) from None
    except OSError as e:
        raise MediaError(f"cannot read subtitle file: {e.strerror}", p) from None
    text = decode_subtitle_bytes(raw)
    if not text.strip():
        return []
    is_vtt = _normalise(text).lstrip().startswith("WEBVTT") or p.suffix.lower() == ".vtt"
    segments = parse_vtt(text) if is_vtt else parse_srt(text)
    if not segments:
        raise MediaError("no subtitle cues found (not an SRT or WebVTT file?)", p, code="no_subtitle_cues")
    return segments


# ---------------------------------------------------------------- writing


def _clock(seconds: float, sep: str) -> str:
    ms = round(max(0.0, float(seconds)) * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def _cue_lines(text: str) -> list[str]:
    return [ln.strip() for ln in str(text).replace("\r", "\n").split("\n") if ln.strip()]


def to_vtt(segments: Iterable[_Timed]) -> str:
    """WebVTT for the browser's <track>; text is escaped (&, <, >) so it shows literally."""
    out = ["WEBVTT", ""]
    for seg in segments:
        lines = [ln.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for ln in _cue_lines(seg.text)]
        if lines:
            end = max(seg.start, seg.end)
            out += [f"{_clock(seg.start, '.')} --> {_clock(end, '.')}", *lines, ""]
    return "\n".join(out)


def to_srt(segments: Iterable[_Timed]) -> str:
    """SRT, numbered from 1 (empty segments skipped)."""
    out: list[str] = []
    number = 0
    for seg in segments:
        lines = _cue_lines(seg.text)
        if lines:
            number += 1
            end = max(seg.start, seg.end)
            out += [str(number), f"{_clock(seg.start, ',')} --> {_clock(end, ',')}", *lines, ""]
    return "\n".join(out)
