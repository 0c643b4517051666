"""Retrieval metrics (search/metrics.py) and the benchmark's data converters and held-out set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.config import bench_module
from search.metrics import mrr_at, recall_at, summarise

REPO = Path(__file__).resolve().parents[1]


def test_mrr_counts_the_first_gold_within_k():
    ranked = [["a", "b", "c"], ["x", "y", "gold"], ["n", "o"]]
    gold = [{"a"}, {"gold"}, {"zzz"}]
    assert mrr_at(ranked, gold, 10) == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert mrr_at(ranked, gold, 2) == pytest.approx(1 / 3)


def test_recall_is_share_of_gold_found():
    ranked = [["a", "b", "c"], ["x", "y"]]
    gold = [{"a", "c", "q"}, {"y"}]
    assert recall_at(ranked, gold, 1) == pytest.approx((1 / 3 + 0) / 2)
    assert recall_at(ranked, gold, 10) == pytest.approx((2 / 3 + 1) / 2)


def test_summarise_and_edge_cases():
    s = summarise([["a"], ["b", "a"]], [{"a"}, {"a"}])
    assert s == {"mrr@10": 0.75, "recall@1": 0.5, "recall@5": 1.0, "recall@10": 1.0, "n": 2}
    assert mrr_at([], [], 10) == 0.0
    with pytest.raises(ValueError, match="2 rankings but 1 gold"):
        mrr_at([["a"], ["b"]], [{"a"}])


def test_jsquad_conversion(shared_data, tmp_path):
    main = bench_module("jsquad_to_eval").main

    out = tmp_path / "jsquad-eval.json"
    assert main([str(shared_data / "jsquad-valid-v1.3.json"), str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data["docs"]) == 1145 and len(data["queries"]) == 4442
    first = data["docs"][0]
    assert first["title"] == "梅雨" and "[SEP]" not in first["text"] and first["text"].startswith("梅雨（つゆ")
    ids = {d["id"] for d in data["docs"]}
    assert all(len(q["gold"]) == 1 and q["gold"][0] in ids for q in data["queries"])


def test_jsquad_conversion_names_a_bad_file(tmp_path):
    jsquad_to_eval = bench_module("jsquad_to_eval")
    ConversionError, load = jsquad_to_eval.ConversionError, jsquad_to_eval.load

    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1}', encoding="utf-8")
    with pytest.raises(ConversionError, match="bad.json"):
        load(bad)


def test_holdout_set_is_well_formed():
    data = json.loads((REPO / "tests" / "data" / "techniques-holdout.json").read_text(encoding="utf-8"))
    ids = [d["id"] for d in data["docs"]]
    assert len(ids) == len(set(ids)) >= 20
    assert all(d["title"] and d["text"] for d in data["docs"])
    assert len(data["queries"]) >= 30
    assert all(q["q"] and set(q["gold"]) <= set(ids) for q in data["queries"])
