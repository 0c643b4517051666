"""Correcting a transcript: validated edits, a history of every earlier version, only changed moments re-embedded.

Why: speech recognition gets shop words wrong (and a document's extracted text
can be garbled); the meister who recorded it, or a coordinator, fixes the
lines.  An edit must never lose what was there (every save stores the
previous transcript as a version row, with who and when), must never clobber
someone else's newer save (a save names the version it was based on; a stale
one is refused), and must reach search at once without re-embedding the whole
recording (the chunks are cut again and synced: only moments whose text or
times changed are embedded, see SearchStore.sync_chunks).  This module checks
and stores; services.transcripts saves an edit through search.

An editor submits the whole new list of lines: dicts with ``text``, ``start``,
``end`` (timed transcripts), ``page`` (documents), ``speaker`` and ``idx`` (the
position of the line it came from, when it came from one).  Text is plain
text: HTML typed into a line is kept as those characters and escaped wherever
it is shown.
"""

from __future__ import annotations

import json
import math
import sqlite3
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from kb import recordings
from kb.db import NOW_SQL
from kb.errors import InputError, KBError

MAX_LINES = 20_000
MAX_LINE_CHARS = 2_000  # one spoken line (Whisper's are under 200)
MAX_PAGE_CHARS = 200_000  # one page of a document
MAX_SPEAKER_CHARS = 60
MAX_NOTE_CHARS = 500
TIME_TOLERANCE = 1.0  # seconds a line may end after the recording's measured duration
WORD_TOLERANCE = 0.05  # word timings this far outside a line's new times still fit it
# Bidirectional overrides can make text read differently from what is stored.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


class TranscriptInputError(InputError):
    """Lines an edit cannot take; ``code`` and ``params`` let the web UI say it in the user's language."""

    def __init__(self, code: str, message: str, **params):
        self.code, self.params = code, params
        super().__init__(message)


class StaleVersion(KBError):
    """Someone saved a newer version since the editor was opened."""

    code = "stale"

    def __init__(self, current: int, base: int):
        self.params = {"current": current, "base": base}
        super().__init__(
            f"someone saved a newer version of this transcript (version {current}) after you "
            f"opened version {base}; reload the editor to see it, then make your change again"
        )


@dataclass
class SaveResult:
    version: int  # the transcript's version after the save
    changed: bool  # False when the submitted lines equal the current ones (nothing stored)
    lines: int
    reembedded: int = 0  # chunks embedded anew
    kept: int = 0  # chunks kept with their embeddings
    removed: int = 0  # chunks removed

    def to_json(self) -> dict:
        return dict(self.__dict__)


# -- reading --------------------------------------------------------------------------------------


def current_version(conn: sqlite3.Connection, recording_id: int) -> int:
    """1 for a transcript never edited; each save adds one."""
    row = conn.execute(
        "SELECT max(version) FROM transcript_versions WHERE recording_id = ?", (recording_id,)
    ).fetchone()
    return int(row[0] or 0) + 1


SUBTITLE_FORMATS = ("srt", "vtt")


def correctable(rec: dict) -> bool:
    """Whether a recording has a transcript a person corrects in the editor: what was said (a video, a
    sound) or a subtitle file's timed lines.  A written document (Markdown, PDF, Word, text) is not a
    transcript: its text is what its author wrote, and it is corrected by uploading the corrected file."""
    return rec.get("kind") in ("video", "audio") or (rec.get("format") or "").lower() in SUBTITLE_FORMATS


def is_timed(segments: Sequence[dict]) -> bool:
    """Timed lines (speech, subtitles) rather than pages of text."""
    return any(s.get("start") is not None for s in segments)


def history(conn: sqlite3.Connection, recording_id: int) -> list[dict]:
    """Earlier versions, newest first: version, line count, and who replaced it when (and why)."""
    rows = conn.execute(
        "SELECT v.version, v.segments, v.user_id, v.author, v.note, v.created_at, u.display_name, u.login "
        "FROM transcript_versions v LEFT JOIN users u ON u.id = v.user_id "
        "WHERE v.recording_id = ? ORDER BY v.version DESC",
        (recording_id,),
    ).fetchall()
    return [
        {
            "version": r["version"],
            "lines": len(json.loads(r["segments"])),
            "replaced_at": r["created_at"],
            "replaced_by": r["display_name"] or r["author"] or r["login"],
            "user_id": r["user_id"],
            "note": r["note"],
        }
        for r in rows
    ]


def version_segments(conn: sqlite3.Connection, recording_id: int, version: int) -> list[dict]:
    """The lines of one version (the current one comes from the segments table)."""
    if version == current_version(conn, recording_id):
        return recordings.segments(conn, recording_id)
    row = conn.execute(
        "SELECT segments FROM transcript_versions WHERE recording_id = ? AND version = ?", (recording_id, version)
    ).fetchone()
    if row is None:
        from kb.errors import NotFound

        raise NotFound(f"recording {recording_id} has no transcript version {version}")
    return json.loads(row["segments"])


# -- validating -----------------------------------------------------------------------------------


def clean_text(text: Any, *, multiline: bool) -> str:
    """NFC, control characters and bidi overrides removed, line breaks kept only in multi-line text."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise TranscriptInputError("not_text", "a line's text must be text")
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\t", " ")
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\n" if multiline else " ")
        elif ch in _BIDI or unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(ch)
    text = "".join(out)
    if not multiline:
        return " ".join(text.split())
    return "\n".join(line.rstrip() for line in text.strip().split("\n"))


def _seconds(value: Any, n: int, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = -1.0
    if not math.isfinite(x) or x < 0 or isinstance(value, bool):
        raise TranscriptInputError("time_invalid", f"line {n}: the {what} must be a number of seconds from 0", line=n)
    return round(x, 3)


def _index(value: Any, count: int) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        i = int(value)
    except (TypeError, ValueError):
        return None
    return i if 0 <= i < count else None


def _page(value: Any, n: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        page = int(value)
    except (TypeError, ValueError):
        page = 0
    if isinstance(value, bool) or page < 1:
        raise TranscriptInputError("page_invalid", f"line {n}: the page must be a whole number from 1", line=n)
    return page


def prepare(rec: dict, lines: Any, originals: Sequence[dict]) -> list[dict]:
    """Validate submitted lines against the recording; return segment rows ready to store.

    Raises InputError with one message naming the line (1-based) and what is wrong."""
    if not isinstance(lines, list):
        raise TranscriptInputError("not_a_list", "the transcript must be a list of lines")
    if not lines:
        raise TranscriptInputError("empty", "the transcript would be empty; keep at least one line")
    if len(lines) > MAX_LINES:
        raise TranscriptInputError("too_many_lines", f"a transcript has at most {MAX_LINES} lines", n=MAX_LINES)
    timed = (
        is_timed(originals)
        if originals
        else any(isinstance(x, dict) and x.get("start") not in (None, "") for x in lines)
    )
    duration = rec.get("duration")
    limit = MAX_LINE_CHARS if timed else MAX_PAGE_CHARS
    out: list[dict] = []
    for n, line in enumerate(lines, 1):
        if not isinstance(line, dict):
            raise TranscriptInputError("not_a_line", f"line {n} is not a line object", line=n)
        text = clean_text(line.get("text"), multiline=not timed)
        if not text:
            raise TranscriptInputError("line_empty", f"line {n} is empty: write its text or delete the line", line=n)
        if len(text) > limit:
            raise TranscriptInputError("line_long", f"line {n} is longer than {limit} characters", line=n, n=limit)
        speaker = clean_text(line.get("speaker"), multiline=False) or None
        if speaker and len(speaker) > MAX_SPEAKER_CHARS:
            raise TranscriptInputError(
                "speaker_long",
                f"line {n}: the speaker's name is longer than {MAX_SPEAKER_CHARS} characters",
                line=n,
                n=MAX_SPEAKER_CHARS,
            )
        source = _index(line.get("idx"), len(originals))
        original = originals[source] if source is not None else None
        seg = {"text": text, "speaker": speaker, "start": None, "end": None, "page": None, "words": None}
        if timed:
            start = _seconds(line.get("start"), n, "start")
            end = _seconds(line.get("end"), n, "end")
            if start >= end:
                raise TranscriptInputError("end_before_start", f"line {n} must end after it starts", line=n)
            if duration and end > float(duration) + TIME_TOLERANCE:
                raise TranscriptInputError(
                    "after_end",
                    f"line {n} ends after the recording does ({float(duration):.1f} s)",
                    line=n,
                    seconds=f"{float(duration):.1f}",
                )
            if out and start < out[-1]["start"]:
                raise TranscriptInputError(
                    "out_of_order", f"line {n} starts before the line above it: keep the lines in time order", line=n
                )
            seg.update(start=start, end=end)
            if (
                original
                and original.get("words")
                and original["text"] == text
                and all(start - WORD_TOLERANCE <= w[1] and w[2] <= end + WORD_TOLERANCE for w in original["words"])
            ):
                seg["words"] = original["words"]  # same words: their timings stay valid
        else:
            seg["page"] = original["page"] if original else _page(line.get("page"), n)
        out.append(seg)
    return out


def _same(a: Sequence[dict], b: Sequence[dict]) -> bool:
    def key(s: dict) -> tuple:
        times = tuple(None if s.get(k) is None else round(float(s[k]), 3) for k in ("start", "end"))
        return (s.get("text"), s.get("page"), s.get("speaker") or None, *times)

    return len(a) == len(b) and all(key(x) == key(y) for x, y in zip(a, b))


# -- saving ---------------------------------------------------------------------------------------


@dataclass
class Edit:
    """A checked edit, ready to store (services.transcripts.save stores it and re-cuts the chunks)."""

    base: int  # the version it was based on (the current one)
    lines: list[dict]  # the new lines, checked
    changed: bool  # False when they equal the current ones: nothing to store
    write: Callable[[sqlite3.Connection], None] | None = None  # run in the transaction that replaces the chunks


def prepare_save(
    conn: sqlite3.Connection,
    recording_id: int,
    lines: Any,
    base_version: Any,
    *,
    user_id: int | None = None,
    author: str | None = None,
    note: str | None = None,
    _originals: Sequence[dict] | None = None,
) -> Edit:
    """Check an edit of a recording's transcript: ``lines`` based on ``base_version``.

    Raises InputError for invalid lines, StaleVersion when a newer version was saved meanwhile.
    The returned ``write`` keeps the old transcript as a version row and stores the new lines;
    it checks the version again, since it runs later, holding the write lock."""
    rec = recordings.get(conn, recording_id)
    if rec["status"] != "done":
        raise TranscriptInputError(
            "processing", "this recording is still being processed (or failed); its transcript cannot be edited yet"
        )
    try:
        base = int(base_version)
    except (TypeError, ValueError):
        raise TranscriptInputError("no_base_version", "the version the edit is based on is missing") from None
    note = clean_text(note, multiline=False)[:MAX_NOTE_CHARS] or None
    current = recordings.segments(conn, recording_id)
    _check_version(conn, recording_id, base)
    new = prepare(rec, lines, _originals if _originals is not None else current)
    if _same(new, current):
        return Edit(base, new, changed=False)

    def write(c: sqlite3.Connection) -> None:
        _check_version(c, recording_id, base)  # again, now holding the write lock
        c.execute(
            "INSERT INTO transcript_versions(recording_id, version, segments, user_id, author, note)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                recording_id,
                base,
                json.dumps(recordings.segments(c, recording_id), ensure_ascii=False),
                user_id,
                author,
                note,
            ),
        )
        recordings.replace_segments(c, recording_id, new)
        c.execute(f"UPDATE recordings SET updated_at = {NOW_SQL} WHERE id = ?", (recording_id,))

    return Edit(base, new, changed=True, write=write)


def _check_version(conn: sqlite3.Connection, recording_id: int, base: int) -> None:
    now = current_version(conn, recording_id)
    if base != now:
        raise StaleVersion(now, base)
