"""Query expansion with the glossary (search/expansion.py) and its use by the Searcher.

The unit tests check which variants a query gets; the others run the real
search (e5 + USE + FTS5) on real text: a synonym finds the term, and with an
empty glossary search is exactly what it was without expansion.
"""

from __future__ import annotations

import pytest

from kb import glossary
from search import expansion
from search.expansion import groups_from, merge_best, variants

TAILSTOCK = groups_from([["心押し台", "しんおしだい", "テールストック", "tailstock"]])


def test_no_glossary_or_no_name_in_the_query_means_the_query_alone():
    assert variants("テールストックの芯出し", []) == ["テールストックの芯出し"]
    assert variants("旋盤のびびり", TAILSTOCK) == ["旋盤のびびり"]
    assert variants("", TAILSTOCK) == [""]


def test_a_synonym_is_replaced_by_each_other_name():
    assert variants("テールストックの芯出し", TAILSTOCK) == [
        "テールストックの芯出し",
        "心押し台の芯出し",
        "tailstockの芯出し",
    ]


def test_the_term_is_expanded_too_and_the_reading_triggers_but_is_never_searched():
    assert variants("心押し台の芯出し", TAILSTOCK)[1:] == ["テールストックの芯出し", "tailstockの芯出し"]
    assert variants("しんおしだいの調整", TAILSTOCK)[1:] == [
        "心押し台の調整",
        "テールストックの調整",
        "tailstockの調整",
    ]


def test_latin_names_match_whole_words_case_and_width_folded():
    assert variants("How to align the Tailstocks?", TAILSTOCK)[1] == "how to align the 心押し台?"
    assert variants("ＴＡＩＬＳＴＯＣＫ center", TAILSTOCK)[1] == "心押し台 center"
    assert variants("xtailstock", TAILSTOCK) == ["xtailstock"]


def test_the_longest_name_found_is_the_one_replaced_and_variants_are_capped():
    groups = groups_from([["ストック", "在庫"], ["テールストック", "心押し台"]])
    assert variants("テールストック", groups) == ["テールストック", "心押し台"]  # not テール在庫
    assert variants("ストックとテールストック", groups) == [
        "ストックとテールストック",
        "在庫とテールストック",
        "ストックと心押し台",
    ]
    assert variants("ボールねじ", groups_from([["ボールねじ", "ball screw"], ["ねじ", "screw"]]))[1:] == ["ball screw"]
    many = groups_from([[f"名前{i}" for i in range(20)]])
    assert len(variants("名前0", many)) == expansion.MAX_VARIANTS


def test_short_names_do_not_trigger():
    groups = groups_from([["錆", "さび", "rust"], ["いと", "糸"]])
    assert variants("錆を落とす", groups) == ["錆を落とす"]  # one kanji
    assert variants("いとをかける", groups) == ["いとをかける"]  # two-character hiragana
    assert variants("rust removal", groups)[1:] == ["錆 removal"]


def test_merge_keeps_each_id_at_its_best_score():
    assert merge_best([[(1, 0.9), (2, 0.5)]], 1) == [(1, 0.9)]
    assert merge_best([[(1, 0.4), (2, 0.3)], [(2, 0.8), (3, 0.1)]], 5) == [(2, 0.8), (1, 0.4), (3, 0.1)]


# -- the real search ------------------------------------------------------------------------------

DOCS = {
    "tailstock": "長い材料を削るときは心押し台で支える。センター穴をあけてから心押し台を寄せ、押し付けすぎないこと。",
    "welding": "TIG溶接ではトーチの角度を一定に保ち、タングステン電極を母材に触れさせない。",
    "saw": "のこぎりで真っすぐ切るには、墨線に沿って目線を刃の真上に置き、力を入れずに引く。",
    "grinding": "研削砥石を交換したら試運転を一分以上行い、正面に立たないこと。",
}


@pytest.fixture
def workshop(ingestor, conn):
    ids = {}
    for key, text in DOCS.items():
        ids[key] = ingestor.ingest_text(key, text).recording_id
    return ids


def _top(searcher, query, mode):
    hits = searcher.search(query, limit=3, mode=mode).hits
    return hits[0].recording_id if hits else None


def test_a_synonym_finds_a_recording_that_only_says_the_term(workshop, searcher, conn):
    from search import lexical

    assert lexical.search(conn, "テールストック") == []  # no recording has the word
    glossary.add(conn, "心押し台", "しんおしだい", ["テールストック", "tailstock"])
    for query in ("テールストック", "テールストックの使い方", "how to use a tailstock", "しんおしだい"):
        for mode in ("hybrid", "lexical", "dense"):
            assert _top(searcher, query, mode) == workshop["tailstock"], (query, mode)
    hit = searcher.search("テールストック", limit=1).hits[0]
    assert "<mark>心押し台</mark>" in hit.marked  # the name that was found is marked


def test_a_glossary_of_another_organisation_also_expands(workshop, searcher, conn):
    conn.execute("INSERT INTO organisations(id, name) VALUES (2, '第二工場')")
    conn.commit()
    glossary.add(conn, "心押し台", None, ["テールストック"], organisation_id=2)
    assert _top(searcher, "テールストック", "lexical") == workshop["tailstock"]


def test_with_an_empty_glossary_search_is_exactly_what_it_was(shared_data, tmp_path, monkeypatch):
    """Every query of techniques-dev, every mode: identical hits and scores with expansion on and off.

    No model affects this (the same embedder ranks both runs), so the model-free hash embedder."""
    import json

    from helpers.config import make_config
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from search.engine import Searcher

    config = make_config(tmp_path / "kb", embed_model="hash", second_embed_model="none")
    conn = init_home(config)
    try:
        ingestor = Ingestor(config, conn)
        searcher = Searcher(ingestor.store)
        data = json.loads((shared_data / "techniques-dev.json").read_text(encoding="utf-8"))
        with ingestor.store.batch():
            for doc in data["docs"]:
                ingestor.ingest_text(doc.get("title") or doc["id"], doc["text"])
        glossary.add(conn, "段取り")  # a term without other names makes no group: still nothing to expand

        def run():
            return [
                searcher.search(q["q"], limit=10, mode=mode).to_json()
                for q in data["queries"]
                for mode in ("hybrid", "lexical", "dense")
            ]

        expanded = run()
        calls = []
        monkeypatch.setattr(expansion, "variants", lambda query, groups, limit=6: calls.append(query) or [query])
        plain = run()
        assert calls and expanded == plain
    finally:
        conn.close()
