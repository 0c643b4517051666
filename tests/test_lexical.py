"""Lexical index (search/lexical.py): Japanese terms in SQLite FTS5 and the coverage score."""

from __future__ import annotations

import json
import sqlite3

import pytest

from kb.db import connect, migrate
from search import lexical

DOCS = {
    1: "旋盤のびびりを抑えるには、バイトの突き出しを短くし、回転数を落とす。",
    2: "ＴＩＧ溶接ではトーチ角度を一定に保つ。",
    3: "ステンレスと鉄の研磨ベルトを分けないと、もらい錆が出る。",
    4: "Why does plating blister? Degrease the parts and chamfer edges to C0.5.",
    5: "ｶﾞｽ切断では予熱炎で鋼を赤熱させてから切断酸素を出す。",
    6: "How to press fit a bearing: push only the ring with the interference fit.",
    7: "作業の前には、必ず手順書を読んでおくのは大事なことである。",
}


@pytest.fixture
def fts():
    conn = sqlite3.connect(":memory:")
    migrate(conn)
    lexical.add_chunks(conn, DOCS.items())
    conn.commit()
    yield conn
    conn.close()


def ids(conn, query, k=10):
    return [cid for cid, _ in lexical.search(conn, query, k)]


def test_two_character_japanese_words_match(fts):
    assert ids(fts, "旋盤") == [1]
    assert ids(fts, "溶接") == [2]
    assert ids(fts, "予熱炎")[0] == 5


def test_one_character_kanji_query_matches_inside_a_word(fts):
    assert ids(fts, "錆") == [3]
    assert ids(fts, "鋼") == [5]


def test_nfkc_full_width_and_half_width_forms_match(fts):
    assert ids(fts, "tig") == [2]  # document has full-width ＴＩＧ
    assert ids(fts, "ＴＩＧ溶接") == [2]
    assert ids(fts, "ガス切断")[0] == 5  # document has half-width ｶﾞｽ
    assert ids(fts, "Ｃ０．５") == [4]


def test_english_words_case_plural_and_stop_words(fts):
    assert ids(fts, "Blisters") == [4]
    # "how", "to", "a" are stop words: the bearing document wins on its content words.
    assert ids(fts, "how to press fit a bearing")[0] == 6


def test_latin_accents_fold():
    conn = sqlite3.connect(":memory:")
    migrate(conn)
    lexical.add_chunks(conn, [(1, "Müller café"), (2, "旋盤")])
    assert ids(conn, "muller") == [1]
    assert ids(conn, "CAFÉ") == [1]


def test_scores_are_coverage_in_unit_range_best_first(fts):
    hits = lexical.search_hits(fts, "旋盤のびびりを抑える")
    assert hits[0].chunk_id == 1
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert hits[0].coverage == pytest.approx(1.0)
    assert hits[0].phrase == pytest.approx(1.0)


def test_partial_match_scores_below_full_match(fts):
    full = dict(lexical.search(fts, "もらい錆"))
    assert full[3] == pytest.approx(1.0)
    partial = dict(lexical.search(fts, "錆と傷"))
    assert 0.0 < partial[3] < 1.0


def test_function_word_only_query_still_works(fts):
    # Pure-hiragana bigrams are dropped only when something else is left.
    assert ids(fts, "のは") == [7]
    assert lexical.query_terms("旋盤のは") == ["旋盤", "盤の"]


def test_query_syntax_characters_are_harmless(fts):
    for q in ['"', "AND OR NOT", "NEAR(旋盤", "旋盤*", "-溶接", "", "   ", "。、！"]:
        lexical.search(fts, q)  # no sqlite3.OperationalError
    assert ids(fts, "NEAR(旋盤") == [1]


def test_index_terms_are_bigrams_kanji_and_words():
    terms = lexical.index_terms("旋盤加工 ＡＢＣ blisters").split()
    assert terms[:3] == ["旋盤", "盤加", "加工"]
    assert {"旋", "盤", "加", "工"} <= set(terms)
    assert "abc" in terms and "blister" in terms


def test_delete_and_replace(fts):
    lexical.delete_chunks(fts, [1])
    assert ids(fts, "旋盤") == []
    lexical.add_chunks(fts, [(2, "旋盤の芯出し")])  # same id: replaces the old text
    assert ids(fts, "旋盤") == [2]
    assert ids(fts, "溶接") == []


def test_rebuild_refills_from_chunks_table(tmp_path):
    conn = connect(tmp_path / "kb.sqlite")
    migrate(conn)
    conn.execute(
        "INSERT INTO recordings(id, title, kind, format, source_name, sha256, size_bytes) "
        "VALUES (1, 't', 'document', 'txt', 't.txt', 'x', 1)"
    )
    conn.executemany(
        "INSERT INTO chunks(id, recording_id, idx, text) VALUES (?, 1, ?, ?)",
        [(cid, cid, text) for cid, text in DOCS.items()],
    )
    conn.commit()
    assert lexical.search(conn, "旋盤") == []
    assert lexical.rebuild(conn) == len(DOCS)
    conn.commit()
    assert ids(conn, "旋盤") == [1]
    assert ids(conn, "溶接") == [2]
    conn.close()


def test_candidate_budget_keeps_the_rarest_terms():
    conn = sqlite3.connect(":memory:")
    migrate(conn)
    rows = [(i, f"共通の作業手順その{i}") for i in range(1, 401)] + [(1000, "共通の作業手順と希少な芯出し")]
    lexical.add_chunks(conn, rows)
    conn.commit()
    hits = lexical.search_hits(conn, "共通の作業手順 芯出し", k=5, max_postings=10)
    assert hits[0].chunk_id == 1000
    assert hits[0].coverage == pytest.approx(1.0)


def _fresh_counts(conn) -> dict[str, int]:
    """Document frequencies counted from scratch over what chunk_fts holds now."""
    from collections import Counter

    counts = Counter()
    rows = conn.execute("SELECT terms FROM chunk_fts").fetchall()
    for (terms,) in rows:
        counts.update(set(terms.split()))
    counts[""] = len(rows)
    return dict(counts)


def test_document_frequencies_are_exact_and_follow_adds_replaces_and_deletes():
    conn = sqlite3.connect(":memory:")
    migrate(conn)
    lexical.add_chunks(conn, [(i, "研削の条件" if i % 3 == 0 else "溶接の条件") for i in range(1, 3001)])
    df, n = lexical.doc_frequencies(conn, ["研削", "溶接", "旋盤"])
    assert (df, n) == ({"研削": 1000, "溶接": 2000, "旋盤": 0}, 3000)
    lexical.add_chunks(conn, [(3, "旋盤の条件")])  # replaces chunk 3 (was 研削)
    lexical.delete_chunks(conn, [1, 2, 99999])  # 99999 was never indexed
    df, n = lexical.doc_frequencies(conn, ["研削", "溶接", "旋盤"])
    assert (df, n) == ({"研削": 999, "溶接": 1998, "旋盤": 1}, 2998)
    assert dict(conn.execute("SELECT term, df FROM lexical_df")) == _fresh_counts(conn)
    lexical.rebuild(conn, rows=conn.execute("SELECT 7, '研削の条件'"))
    assert dict(conn.execute("SELECT term, df FROM lexical_df")) == _fresh_counts(conn)


def test_migration_fills_document_frequencies_of_an_existing_index(tmp_path):
    """A knowledge base indexed before lexical_df existed gets the table filled by migration 007."""
    from kb.db import _migrations

    conn = connect(tmp_path / "kb.sqlite")
    for number, name, sql in _migrations():
        if number < 7:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.executemany(
        "INSERT INTO chunk_fts(rowid, terms) VALUES (?, ?)",
        [(cid, lexical.index_terms(text)) for cid, text in DOCS.items()],
    )
    conn.commit()
    migrate(conn)
    assert dict(conn.execute("SELECT term, df FROM lexical_df")) == _fresh_counts(conn)
    assert ids(conn, "旋盤") == [1]


def test_highlight_terms():
    assert lexical.highlight_terms("ＴＩＧ溶接 how to weld") == ["weld", "tig", "溶接"]


def test_technique_keywords_find_their_write_up(shared_data):
    """Real data: the two- to four-character keyword queries of techniques-dev hit their document first."""
    data = json.loads((shared_data / "techniques-dev.json").read_text(encoding="utf-8"))
    conn = sqlite3.connect(":memory:")
    migrate(conn)
    doc_of = {}
    for n, d in enumerate(data["docs"], 1):
        doc_of[n] = d["id"]
        lexical.add_chunks(conn, [(n, d["text"])])
    conn.commit()
    for q in ("アサリ", "封孔", "ルートギャップ", "C0.5", "もらい錆", "予熱炎"):
        gold = next(x["gold"][0] for x in data["queries"] if x["q"] == q)
        assert doc_of[ids(conn, q)[0]] == gold, q


def test_highlight_terms_mark_the_content_words_of_a_japanese_question():
    from search.engine import mark

    terms = lexical.highlight_terms("旋盤のびびりを抑えるには")
    assert "旋盤" in terms and "抑え" in terms and "を" not in terms and "には" not in terms
    marked = mark("<b>旋盤</b>でびびりを抑える", terms)
    assert marked.startswith("&lt;b&gt;<mark>旋盤</mark>&lt;/b&gt;") and "<mark>抑え</mark>" in marked
    assert "ステンレス" in lexical.highlight_terms("ステンレスの溶接") and "溶接" in lexical.highlight_terms(
        "ステンレスの溶接"
    )


# ---------------------------------------------------------------- one character is no evidence (issue 13)

NOISE = {
    1: "旋盤で長い軸を削ると、びびりが出る。バイトの突き出しを短くする。",
    2: "研削砥石を交換したら、正面に立たずに試運転をする。火花が出るので保護めがねをかける。",
    3: "鉋で薄く削るときは、台尻を叩いて刃を少しずつ出す。",
}


@pytest.fixture
def noise():
    conn = sqlite3.connect(":memory:")
    migrate(conn)
    lexical.add_chunks(conn, NOISE.items())
    conn.commit()
    yield conn
    conn.close()


def test_a_passage_sharing_one_common_kanji_is_not_a_lexical_match(noise):
    # 研削砥石 shares only 出 (of 出る) with the question: no match.  The lathe passage matches.
    assert ids(noise, "旋盤でびびりが出る") == [1]
    # 削 of 削る alone is no evidence either: the plane passage (刃を出す) never comes in on 削 / 出.
    assert 3 not in ids(noise, "長い軸を削るとびびる")


def test_two_character_words_and_one_character_queries_still_match(noise):
    assert ids(noise, "旋盤") == [1]
    assert ids(noise, "砥石") == [2]
    assert ids(noise, "鉋") == [3]  # a one-character question is its own evidence
    assert set(ids(noise, "出")) == {1, 2, 3}


def test_the_rule_can_be_switched_off_for_benchmarks(noise, monkeypatch):
    monkeypatch.setattr(lexical, "MIN_EVIDENCE", 0)
    assert 2 in ids(noise, "旋盤でびびりが出る")


def test_one_character_words_are_kept_and_verb_stems_are_not():
    assert "軸" in lexical.query_terms("長い軸を削る")  # 軸 + particle: a one-character noun
    assert "削" not in lexical.query_terms("長い軸を削る")  # 削 + る: a verb stem, 削る carries it
    assert {"錆", "傷"} <= set(lexical.query_terms("錆と傷"))
    assert "出" not in lexical.query_terms("旋盤でびびりが出る")
    assert lexical.evidence_of(["出る"]) == 1 and lexical.evidence_of(["旋盤"]) == 2
    assert lexical.evidence_of(["錆"]) == 2  # a one-character word of the question is a word
    assert lexical.evidence_of(["weld"]) == 2 and lexical.evidence_of(["びび"]) == 0


def test_highlighting_leaves_a_lone_common_kanji_unmarked():
    from search.engine import mark

    terms = lexical.highlight_terms("旋盤でびびりが出る")
    assert "出" not in terms
    assert "<mark>" not in mark(NOISE[2], terms)  # 出る alone: nothing marked
    assert "<mark>旋盤</mark>" in mark(NOISE[1], terms)
    # English keeps its spaces and marks whole words only
    marked = mark("I weld thin stainless within limits", lexical.highlight_terms("thin stainless"))
    assert marked == "I weld <mark>thin</mark> <mark>stainless</mark> within limits"


def test_a_weak_link_orders_but_is_no_match(noise):
    # 「のこぎりで真っすぐ切れない原因」 and the saw write-up share only 切 (切れ / 切り): a verb stem.
    lexical.add_chunks(
        noise, [(4, "両刃鋸の目立ては、やすりを刃の角度に合わせて押す。アサリの幅を揃えないと切り口が曲がる。")]
    )
    noise.commit()
    q = "のこぎりで真っすぐ切れない原因"
    assert lexical.stem_terms(q) == ["真", "切"] and "切" not in lexical.query_terms(q)
    assert 4 not in ids(noise, q)  # no lexical match: one shared character
    weak = {h.chunk_id: h for h in lexical.search_hits(noise, q, weak_links=True)}
    assert not weak[4].evident and 0 < weak[4].score
    full = lexical.search_hits(noise, "鋸の切り口", weak_links=True)[0]
    assert full.chunk_id == 4 and full.evident and weak[4].score <= lexical.WEAK_LINK * full.score
    # 研削砥石 shares only 出 with the chatter question: at most a weak link, the lathe passage a match
    chatter = {h.chunk_id: h for h in lexical.search_hits(noise, "旋盤でびびりが出る", weak_links=True)}
    assert chatter[1].evident and not chatter[2].evident and chatter[2].score < chatter[1].score
