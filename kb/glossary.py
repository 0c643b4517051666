"""Glossary of technical terms per organisation (term, reading, synonyms).

Why it exists: Whisper mishears shop-floor words it has rarely seen (心押し台,
バイト, 段取り); handing it the organisation's terms as hotwords / an initial
prompt makes it pick them (:func:`hotwords_for`).  Workshops name the same
thing differently (心押し台, テールストック, tailstock), so the synonyms and the
reading also widen searches (:func:`synonym_groups`, used by
search/expansion.py): a search for one name finds recordings that say another.

Why per organisation: each workshop has its own vocabulary and decides on it;
search uses the union of every organisation's groups, because shared
recordings cross organisations.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from typing import Sequence

from kb.db import NOW_SQL
from kb.errors import InputError, NotFound

MAX_TERM_CHARS = 100
MAX_SYNONYMS = 20
DEFAULT_ORGANISATION = 1


class GlossaryInputError(InputError):
    """A term the glossary cannot take; ``code`` and ``params`` let the web UI say it in the user's language."""

    def __init__(self, code: str, message: str, **params):
        self.code, self.params = code, params
        super().__init__(message)


def _clean(text: str | None, what: str, code: str = "too_long") -> str:
    """NFC, no control characters, single spaces; one clear error when too long."""
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = " ".join(text.split())
    if len(text) > MAX_TERM_CHARS:
        raise GlossaryInputError(code, f"{what} is longer than {MAX_TERM_CHARS} characters", n=MAX_TERM_CHARS)
    return text


def _synonyms(term: str, synonyms: Sequence[str] | str | None) -> list[str]:
    if isinstance(synonyms, str):
        synonyms = synonyms.replace("、", ",").replace("，", ",").split(",")
    out: list[str] = []
    for s in synonyms or ():
        s = _clean(s, "a synonym", "synonym_long")
        if s and s != term and s not in out:
            out.append(s)
    if len(out) > MAX_SYNONYMS:
        raise GlossaryInputError("too_many_synonyms", f"at most {MAX_SYNONYMS} synonyms per term", n=MAX_SYNONYMS)
    return out


def _organisation(conn: sqlite3.Connection, organisation_id: int | None) -> int:
    org = DEFAULT_ORGANISATION if organisation_id is None else int(organisation_id)
    if conn.execute("SELECT 1 FROM organisations WHERE id = ?", (org,)).fetchone() is None:
        raise GlossaryInputError("no_organisation", f"no organisation with id {org}", id=org)
    return org


def add(
    conn: sqlite3.Connection,
    term: str,
    reading: str | None = None,
    synonyms: Sequence[str] | str = (),
    organisation_id: int | None = None,
    user_id: int | None = None,
) -> int:
    """Add a term to an organisation's glossary, or update its reading and synonyms.  Returns its id."""
    term = _clean(term, "the term", "term_long")
    if not term:
        raise GlossaryInputError("term_empty", "the term is empty")
    reading = _clean(reading, "the reading", "reading_long") or None
    syn = _synonyms(term, synonyms)
    with conn:
        org = _organisation(conn, organisation_id)
        conn.execute(
            "INSERT INTO glossary(organisation_id, term, reading, synonyms, updated_by) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(organisation_id, term) DO UPDATE SET reading = excluded.reading, "
            "synonyms = excluded.synonyms, updated_by = excluded.updated_by, "
            f"updated_at = {NOW_SQL}",
            (org, term, reading, json.dumps(syn, ensure_ascii=False), user_id),
        )
        return int(
            conn.execute("SELECT id FROM glossary WHERE organisation_id = ? AND term = ?", (org, term)).fetchone()[0]
        )


def update(
    conn: sqlite3.Connection,
    term_id: int,
    term: str,
    reading: str | None,
    synonyms: Sequence[str] | str,
    user_id: int | None = None,
) -> None:
    """Change a term (its spelling too); the organisation stays the same."""
    current = get(conn, term_id)
    term = _clean(term, "the term", "term_long")
    if not term:
        raise GlossaryInputError("term_empty", "the term is empty")
    reading = _clean(reading, "the reading", "reading_long") or None
    syn = _synonyms(term, synonyms)
    with conn:
        clash = conn.execute(
            "SELECT id FROM glossary WHERE organisation_id = ? AND term = ? AND id != ?",
            (current["organisation_id"], term, term_id),
        ).fetchone()
        if clash is not None:
            raise GlossaryInputError("term_exists", f"the glossary already has the term {term}", term=term)
        conn.execute(
            "UPDATE glossary SET term = ?, reading = ?, synonyms = ?, updated_by = ?, "
            f"updated_at = {NOW_SQL} WHERE id = ?",
            (term, reading, json.dumps(syn, ensure_ascii=False), user_id, term_id),
        )


def remove(conn: sqlite3.Connection, term: str, organisation_id: int | None = None) -> bool:
    org = DEFAULT_ORGANISATION if organisation_id is None else int(organisation_id)
    with conn:
        return (
            conn.execute(
                "DELETE FROM glossary WHERE organisation_id = ? AND term = ?",
                (org, _clean(term, "the term", "term_long")),
            ).rowcount
            > 0
        )


def remove_id(conn: sqlite3.Connection, term_id: int) -> bool:
    with conn:
        return conn.execute("DELETE FROM glossary WHERE id = ?", (term_id,)).rowcount > 0


def _row(r: sqlite3.Row) -> dict:
    return {
        "id": r["id"],
        "organisation_id": r["organisation_id"],
        "term": r["term"],
        "reading": r["reading"],
        "synonyms": json.loads(r["synonyms"] or "[]"),
        "updated_at": r["updated_at"],
    }


def get(conn: sqlite3.Connection, term_id: int) -> dict:
    r = conn.execute("SELECT * FROM glossary WHERE id = ?", (term_id,)).fetchone()
    if r is None:
        raise NotFound(f"no glossary term with id {term_id}")
    return _row(r)


def list_terms(conn: sqlite3.Connection, organisation_id: int | None = None) -> list[dict]:
    """An organisation's terms in the order they were added (every organisation's with None)."""
    if organisation_id is None:
        rows = conn.execute("SELECT * FROM glossary ORDER BY organisation_id, id").fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM glossary WHERE organisation_id = ? ORDER BY id", (int(organisation_id),)
        ).fetchall()
    return [_row(r) for r in rows]


def first_terms(conn: sqlite3.Connection, organisation_id: int | None = None, limit: int = 8) -> list[str]:
    """The first ``limit`` terms added (of one organisation; of all with None): words to suggest trying."""
    if organisation_id is None:
        return [r[0] for r in conn.execute("SELECT term FROM glossary ORDER BY id LIMIT ?", (limit,))]
    return [
        r[0]
        for r in conn.execute(
            "SELECT term FROM glossary WHERE organisation_id = ? ORDER BY id LIMIT ?", (organisation_id, limit)
        )
    ]


def hotwords_for(
    conn: sqlite3.Connection,
    organisation_id: int | None,
    *,
    technique: str | None = None,
    tags: Sequence[str] = (),
    title: str | None = None,
) -> list[str]:
    """The terms the recogniser is told about for a recording of this organisation (its own glossary),
    most relevant first.

    Why the order: Whisper's prompt holds only about 224 tokens (media.asr trims the list to fit),
    so with a large glossary the terms this recording most likely says must come first: terms
    that are (or are named in) its technique, then its tags, then its title -- matched on the
    term, its reading and its synonyms -- then the rest in the order they were added.

    Terms only, never their readings: given as ``旋盤（せんばん）`` Whisper copies the pattern into
    the transcript (「旋盤（で削る時）」) and decodes many times slower; the plain term is what
    turns 先番 into 旋盤 (tests/test_asr_japanese.py).  Readings still widen search (synonym_groups)."""
    org = DEFAULT_ORGANISATION if organisation_id is None else int(organisation_id)
    rows = conn.execute(
        "SELECT term, reading, synonyms FROM glossary WHERE organisation_id = ? ORDER BY id", (org,)
    ).fetchall()
    contexts = [unicodedata.normalize("NFC", c or "").lower() for c in (technique, " ".join(tags or ()), title)]

    def rank(i: int) -> tuple[int, int]:
        r = rows[i]
        names = [n.lower() for n in [r["term"], r["reading"], *json.loads(r["synonyms"] or "[]")] if n]
        for level, context in enumerate(contexts):
            if context and any(n in context or context in n for n in names):
                return level, i
        return len(contexts), i

    order = sorted(range(len(rows)), key=rank)
    return [rows[i]["term"] for i in order]


def synonym_groups(conn: sqlite3.Connection) -> list[list[str]]:
    """Every organisation's terms as groups of names for one thing: [term, reading, synonyms...].

    The same term in two organisations is one group (the union of their names)."""
    groups: dict[str, list[str]] = {}
    for r in conn.execute("SELECT term, reading, synonyms FROM glossary ORDER BY organisation_id, id"):
        names = groups.setdefault(r["term"], [r["term"]])
        for name in [r["reading"], *json.loads(r["synonyms"] or "[]")]:
            if name and name not in names:
                names.append(name)
    return [names for names in groups.values() if len(names) > 1]


def synonym_map(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Each name (term, reading or synonym) -> the other names of its group(s), for query expansion."""
    out: dict[str, list[str]] = {}
    for names in synonym_groups(conn):
        for name in names:
            others = out.setdefault(name, [])
            others.extend(n for n in names if n != name and n not in others)
    return out
