"""How times are written: 02:15, 1:02:15 past an hour, 02:15–02:48 for a moment, and read back (01:05).

Why in kb/: the search page, the JSON hits (services.search), `kb search`, `kb show`, the print card and
the transcript editor all write a moment's time, and they must read the same everywhere; the pages use
these as the Jinja filters ``clock`` and ``time_range`` (web.formatting).
"""

from __future__ import annotations

import math
import re


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
    if (
        not math.isfinite(seconds)
        or seconds < 0
        or any(w < 0 for w in whole)
        or not re.fullmatch(r"\d+(\.\d+)?", parts[-1])
        or not all(p.isdigit() for p in parts[:-1])
    ):
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
