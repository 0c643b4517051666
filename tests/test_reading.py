"""The reading (kana) channel (search/reading.py): spoken passages matched on how the question sounds."""

from __future__ import annotations

import sqlite3

import pytest

from kb import db
from search import lexical, reading

# chunk id -> (recording kind, text).  Speech recognition wrote 専番 for 旋盤 and ヨネツ for 予熱.
CHUNKS = {
    1: ("audio", "長い軸を専番で削るときは、心押し台でしっかり支えてください。"),
    2: ("video", "ガス切断では、ヨネツエンでハガネを赤熱させてから切断酸素を出す。"),
    3: ("document", "専番という字を書き間違えた文書。"),  # written: never read
    4: ("audio", "旋盤で長い軸を削るときは心押し台を使う。"),  # spoken, right characters
    5: ("audio", "かなり暑い日は、はしを使って食べる。"),
}


def make_db(chunks=CHUNKS) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    db.migrate(conn)
    for cid, (kind, text) in chunks.items():
        conn.execute(
            "INSERT INTO recordings(id, title, kind, format, source_name, sha256, size_bytes, status) "
            "VALUES (?, '', ?, 'wav', 'x', ?, 1, 'done')",
            (cid, kind, f"sha{cid}"),
        )
        conn.execute("INSERT INTO chunks(id, recording_id, idx, text) VALUES (?, ?, 0, ?)", (cid, cid, text))
    lexical.add_chunks(conn, [(cid, text) for cid, (_, text) in chunks.items()])
    conn.commit()
    return conn


@pytest.fixture
def conn():
    c = make_db()
    yield c
    c.close()


def ids(conn, query, on=True):
    return [cid for cid, _ in lexical.search(conn, query, 10, reading_match=on)]


# ---------------------------------------------------------------- the reading conversion


def test_kana_spellings_of_one_sound_are_folded():
    assert reading.normalise_kana("ひらがな") == "ヒラカナ"  # hiragana -> katakana, voicing folded
    assert reading.normalise_kana("テーパー") == "テエハア"  # ー -> the vowel it lengthens
    assert reading.normalise_kana("ヲヅヂ") == "オスシ"
    assert reading.normalise_kana("ガンナ") == reading.normalise_kana("かんな")


def test_homophones_written_differently_read_the_same():
    assert reading.index_terms("専番") == reading.index_terms("旋盤") == "セン ンハ ハン"
    assert reading.index_terms("予熱炎") == reading.index_terms("ヨネツエン")
    assert reading.index_terms("刃先") == reading.index_terms("はさき")


def test_symbols_digits_and_latin_break_the_run():
    runs = reading.reading_runs("旋盤、25度 TIG溶接")
    assert "センハン" in runs and "ヨウセツ" in runs
    assert not any(ch.isdigit() or ch.isascii() for run in runs for ch in run)
    assert reading.reading_runs("C0.5 mm") == []


def test_a_short_kana_question_is_not_read():
    assert reading.query_reading("かな") == ([], [])
    assert reading.query_reading("刃") == ([], [])
    terms, phrases = reading.query_reading("刃先")
    assert terms == ["ハサ", "サキ"] and phrases == ["ハサ サキ"]


# ---------------------------------------------------------------- the index and the fusion


def test_only_spoken_passages_are_read(conn):
    read = {r[0] for r in conn.execute("SELECT rowid FROM chunk_reading")}
    assert read == {1, 2, 4, 5}
    assert conn.execute("SELECT df FROM reading_df WHERE term = ''").fetchone()[0] == 4


def test_a_misheard_term_is_found_by_its_written_form(conn):
    assert ids(conn, "旋盤", on=False) == [4]  # characters only: the misheard passage is lost
    assert ids(conn, "旋盤") == [4, 1]  # by reading too, below the right characters
    assert ids(conn, "予熱炎", on=False) == []
    assert ids(conn, "予熱炎") == [2]
    assert 3 not in ids(conn, "旋盤")  # a written document is never matched by reading


def test_reading_scores_are_weighted_below_a_character_match(conn):
    hits = {h.chunk_id: h for h in lexical.search_hits(conn, "旋盤", reading_match=True)}
    assert hits[4].score == pytest.approx(1.0)
    assert 0 < hits[1].score <= reading.READING_WEIGHT + 1e-9
    assert hits[1].score < hits[4].score


def test_short_or_unrelated_kana_questions_do_not_flood_results(conn):
    # passage 5 holds カナ and ハシ as sounds; a two-kana question has no three kana in a row to match
    for query in ("かな", "はし", "ハサ"):
        assert ids(conn, query, on=True) == ids(conn, query, on=False)
    # a longer question sharing single bigrams but no three kana in a row with a passage finds nothing by reading
    assert reading.search_hits(conn, "カナヅチ") == []


def test_delete_and_replace_keep_the_reading_index_exact(conn):
    lexical.delete_chunks(conn, [1])
    assert ids(conn, "旋盤") == [4]
    assert conn.execute("SELECT df FROM reading_df WHERE term = ''").fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM reading_df WHERE term = 'ヨネ'").fetchone()[0] == 1
    lexical.add_chunks(conn, [(2, "回転数を落とす。")])  # chunk 2 re-indexed with other words
    assert ids(conn, "予熱炎") == []
    assert conn.execute("SELECT count(*) FROM reading_df WHERE term = 'ヨネ'").fetchone()[0] == 0


def test_rebuild_refills_the_reading_index(conn):
    conn.execute("DELETE FROM chunk_reading")
    lexical.rebuild(conn)
    assert ids(conn, "予熱炎") == [2]
    assert not reading.pending(conn)


def test_visible_recordings_only_count(conn):
    # searching within recordings 1 and 3 only: the reading statistics are theirs (no error, 1 is found)
    hits = reading.search_hits(conn, "旋盤", within={1, 3})
    assert [h.chunk_id for h in hits][:1] == [1]


def test_a_knowledge_base_from_before_the_channel_is_read_when_a_search_store_opens(tmp_path, monkeypatch):
    from kb.home import open_db
    from kb.settings import load_config
    from search.store import SearchStore

    config = load_config(home=tmp_path)
    config.home.mkdir(parents=True, exist_ok=True)
    old = [m for m in db._migrations() if m[0] < 14]
    monkeypatch.setattr(db, "_migrations", lambda: old)
    conn = db.connect(config.db_path)
    db.migrate(conn)
    conn.execute(
        "INSERT INTO recordings(id, title, kind, format, source_name, sha256, size_bytes, status) "
        "VALUES (1, '', 'audio', 'wav', 'x', 's', 1, 'done')"
    )
    conn.execute("INSERT INTO chunks(id, recording_id, idx, text) VALUES (1, 1, 0, ?)", (CHUNKS[1][1],))
    conn.execute("INSERT INTO chunk_fts(rowid, terms) VALUES (1, ?)", (lexical.index_terms(CHUNKS[1][1]),))
    conn.commit()
    conn.close()
    monkeypatch.undo()

    # migration 014 alone leaves the channel pending (SQL cannot read): search then does not use it
    conn = db.connect(config.db_path)
    db.migrate(conn)
    assert reading.pending(conn)
    assert reading.search_hits(conn, "旋盤") == []
    conn.close()
    # opening the database alone (kb/ knows nothing of readings) leaves it pending ...
    conn = open_db(config)
    assert reading.pending(conn)
    # ... and the first search store on it reads the existing spoken passages, once
    SearchStore(config, conn)
    assert not reading.pending(conn)
    assert [h.chunk_id for h in reading.search_hits(conn, "旋盤")] == [1]
    conn.close()


def test_a_new_knowledge_base_has_nothing_pending():
    conn = sqlite3.connect(":memory:")
    db.migrate(conn)
    assert not reading.pending(conn)


def test_kb_check_sees_a_reading_index_out_of_step(conn):
    from search.integrity import check_lexical_index

    assert check_lexical_index(conn)[0] == []
    conn.execute("DELETE FROM chunk_reading WHERE rowid = 2")
    conn.commit()
    problems = check_lexical_index(conn)[0]
    assert any("reading index: 1 spoken passages are missing" in p for p in problems), problems
    assert any("reading index: its statistics count 4 passages, it holds 3" in p for p in problems), problems
    lexical.rebuild(conn)  # what kb reindex (and kb check --repair) run
    conn.commit()
    assert check_lexical_index(conn)[0] == []
