"""Glossary of technical terms (term, reading, synonyms).

Whisper mishears shop-floor words it has rarely seen (心押し台, バイト, 段取り);
handing it the glossary as hotwords / an initial prompt makes it pick them.
The synonyms are kept for query expansion as well.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Sequence


def add(conn: sqlite3.Connection, term: str, reading: str | None = None, synonyms: Sequence[str] = ()) -> None:
    term = term.strip()
    if not term:
        raise ValueError("empty term")
    syn = [s.strip() for s in synonyms if s.strip()]
    with conn:
        conn.execute(
            "INSERT INTO glossary(term, reading, synonyms) VALUES (?, ?, ?) "
            "ON CONFLICT(term) DO UPDATE SET reading = excluded.reading, synonyms = excluded.synonyms",
            (term, reading, json.dumps(syn, ensure_ascii=False)))


def remove(conn: sqlite3.Connection, term: str) -> bool:
    with conn:
        return conn.execute("DELETE FROM glossary WHERE term = ?", (term,)).rowcount > 0


def list_terms(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute("SELECT term, reading, synonyms FROM glossary ORDER BY id").fetchall()
    return [{"term": r["term"], "reading": r["reading"], "synonyms": json.loads(r["synonyms"] or "[]")} for r in rows]
