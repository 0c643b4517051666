"""The word statistics over what a searcher may open (search.lexical.visible_frequencies) are the
reference's, counted once per knowledge base, index generation and visible set, and counted again
after any change (issue 17: a tenth of the recordings hidden cost 150 ms of SQLite a word search)."""

from __future__ import annotations

import os
import sqlite3

import pytest

from helpers.lexical_reference import old_visible_frequencies
from kb import db
from search import lexical, reading

TEXTS = [
    "旋盤のびびりを抑えるには、バイトの突き出しを短くし、回転数を落とす。",
    "TIG溶接ではトーチの角度を一定に保ち、溶接棒を送る。",
    "ステンレスの研磨ベルトは鉄と分けないと、もらい錆が出る。",
    "芯押し台の芯出しは、テストバーとダイヤルゲージで確かめる。",
    "旋盤の主軸の回転数は、材料と刃物の径で決める。",
    "溶接の歪みは、仮付けの順番と拘束で抑える。",
]
QUESTIONS = ["旋盤のびびり", "溶接の歪みを抑える", "回転数の決め方", "もらい錆", "せんばんのかいてんすう"]


def _add(conn: sqlite3.Connection, recording: int, kind: str, texts: list[str]) -> None:
    """A recording and its passages, written as the search store writes them: one transaction that
    also bumps the index generation."""
    with conn:
        conn.execute(
            "INSERT OR IGNORE INTO recordings(id, title, kind, format, source_name, sha256, size_bytes, status) "
            "VALUES (?, '', ?, 'x', 'x', ?, 1, 'done')",
            (recording, kind, f"sha{recording}"),
        )
        first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM chunks").fetchone()[0]
        ids = list(range(first, first + len(texts)))
        for cid, text in zip(ids, texts):
            conn.execute(
                "INSERT INTO chunks(id, recording_id, idx, text) VALUES (?, ?, ?, ?)", (cid, recording, cid, text)
            )
        lexical.add_chunks(conn, list(zip(ids, texts)))
        db.bump_generation(conn)


@pytest.fixture
def kb(tmp_path):
    lexical.HIDDEN.clear()
    conn = db.connect(tmp_path / "kb.sqlite3")
    db.migrate(conn)
    for recording in range(1, 7):  # odd ones spoken (video), even ones written
        _add(conn, recording, "video" if recording % 2 else "document", [TEXTS[recording - 1], TEXTS[-recording]])
    yield conn
    conn.close()
    lexical.HIDDEN.clear()


def _both(conn, question: str, within: set[int]) -> list[tuple]:
    """(current, reference) for the word index and the reading index."""
    pairs = []
    for fts, terms, table in (
        ("chunk_fts", lexical.query_terms(question), None),
        ("chunk_reading", reading.query_reading(question)[0], "reading_df"),
    ):
        if not terms:
            continue
        df, n = lexical.doc_frequencies(conn, terms, **({"table": table} if table else {}))
        pairs.append(
            (
                lexical.visible_frequencies(conn, df, n, within, fts=fts),
                old_visible_frequencies(conn, df, n, within, fts),
            )
        )
    return pairs


SCOPES = [{1, 2, 3, 4, 5, 6}, {1, 3, 5}, {2, 4, 6}, {1}, set()]


def test_the_counts_are_the_references_for_every_visible_set(kb):
    for within in SCOPES:
        for question in QUESTIONS:
            for current, reference in _both(kb, question, within):
                assert current == reference, (question, within)


def test_a_visible_set_is_counted_once_per_generation(kb):
    import json

    scope = json.dumps([1, 3, 5])
    entry = lexical.HIDDEN.entry(kb, scope)
    assert lexical.HIDDEN.entry(kb, scope) is entry
    _add(kb, 2, "document", ["旋盤のびびりは、刃物の高さでも変わる。"])  # a new generation
    assert lexical.HIDDEN.entry(kb, scope) is not entry


def test_a_passage_added_to_a_hidden_recording_is_counted_after_the_change(kb):
    within = {1, 3, 5}
    before = _both(kb, "旋盤のびびり", within)
    _add(kb, 2, "document", ["旋盤のびびりは、刃物の高さでも変わる。"])
    _add(kb, 3, "video", ["旋盤のびびりは、せんばんのびびりとも読む。"])
    after = _both(kb, "旋盤のびびり", within)
    for current, reference in after:
        assert current == reference
    assert after[0][0] != before[0][0]  # the word counts moved with the new passages


def test_a_restored_database_file_is_counted_afresh(kb, tmp_path):
    """A backup put back in place may carry the same generation number as what was counted, with other
    passages: the file is another one, so it is counted again."""
    path, within = tmp_path / "kb.sqlite3", {1, 3, 5}
    copy = sqlite3.connect(tmp_path / "backup.sqlite3")
    kb.backup(copy)  # SQLite's own copy (the file alone lacks what is still in its WAL)
    _add(copy, 2, "document", ["研磨ベルトの交換は、張りを確かめてから。"])
    copy.close()
    _add(kb, 2, "document", ["旋盤のびびりは、刃物の高さでも変わる。"] * 3)  # the same generation number
    _both(kb, "旋盤のびびり", within)  # counted and kept
    kb.close()
    os.replace(tmp_path / "backup.sqlite3", path)
    conn = db.connect(path)
    try:
        for current, reference in _both(conn, "旋盤のびびり", within):
            assert current == reference
    finally:
        conn.close()


def test_kept_sets_are_bounded_and_an_in_memory_database_keeps_none(kb):
    counts = lexical.HiddenCounts(max_sets=2)
    first = counts.entry(kb, "[1]")
    counts.entry(kb, "[2]")
    counts.entry(kb, "[3]")
    assert counts.entry(kb, "[1]") is not first  # the least recently used went
    memory = sqlite3.connect(":memory:")
    db.migrate(memory)
    assert counts.entry(memory, "[1]") is not counts.entry(memory, "[1]")
