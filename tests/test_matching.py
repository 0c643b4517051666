"""The candidates' scoring in numpy (search/matching.py) gives exactly the hits of the Python loops it replaced.

The loops are kept here as the reference (copied from search/lexical.py and search/reading.py before
issue 17): same passages, same order, same scores bit for bit, on real questions (JSQuAD, techniques-dev)
over a knowledge base of real paragraphs, half of them spoken, and on the edge cases.
"""

from __future__ import annotations

import json
import random
import sqlite3

import numpy as np
import pytest

from helpers.lexical_reference import old_visible_frequencies
from kb import db
from search import lexical, matching, reading

# -- the reference: the per-passage loops as they were ------------------------------------------


def old_character_hits(conn, query, k, max_postings, within, weak_links=False):
    L = lexical
    terms = L.query_terms(query)
    if not terms or k <= 0:
        return []
    weak = L.WEAK_LINK if weak_links and L.MIN_EVIDENCE else 0.0
    stems = L.stem_terms(query) if weak else []
    df, indexed = L.doc_frequencies(conn, terms + stems)
    if within is not None:
        df, indexed = old_visible_frequencies(conn, df, indexed, within)
    n = max(indexed, max(df.values()))
    weight = {t: L.idf(df[t], n) for t in terms}
    stem_weight = {t: L.idf(df[t], n) for t in stems}
    selected = L.select_terms(df, max_postings)
    if not selected:
        return []
    rowids = L.candidates(conn, {t: weight.get(t) or stem_weight[t] for t in selected}, k)
    marks = ",".join("?" * len(rowids))
    stored = dict(conn.execute(f"SELECT rowid, terms FROM chunk_fts WHERE rowid IN ({marks})", rowids))
    total = sum(weight.values())
    weighted = list(weight.items())
    phrases = L._query_phrases(query)
    phrase_parts = [(p[:2], p[3:], f" {p} ") for p in phrases]
    hits = []
    needed = L.evidence_needed(terms)
    for rowid in rowids:
        text = stored.get(rowid, "")
        present = set(text.split())
        evident = not needed or L.evidence_of(t for t in terms if t in present) >= needed
        if not evident and not weak:
            continue
        if evident:
            coverage = sum(w for t, w in weighted if t in present) / total
        else:
            coverage = (
                sum(w for t, w in weighted if t in present) + sum(w for t, w in stem_weight.items() if t in present)
            ) / (total + sum(stem_weight.values()))
            if not coverage:
                continue
        if phrases:
            padded = f" {text} "
            found = sum(1 for a, b, spaced in phrase_parts if a in present and b in present and spaced in padded)
            phrase = found / len(phrases)
        else:
            phrase = coverage
        score = L.COVERAGE_WEIGHT * coverage + L.PHRASE_WEIGHT * phrase
        hits.append(L.LexicalHit(rowid, score if evident else weak * score, coverage, phrase, evident))
    hits.sort(key=lambda h: -h.score)
    return hits


def old_reading_hits(conn, query, k=100, max_postings=None, within=None):
    L, R = lexical, reading
    terms, phrases = R.query_reading(query)
    if not terms or k <= 0 or R.pending(conn):
        return []
    df, indexed = L.doc_frequencies(conn, terms, table="reading_df")
    if within is not None:
        df, indexed = old_visible_frequencies(conn, df, indexed, within, fts="chunk_reading")
    if not any(df.values()):
        return []
    n = max(indexed, max(df.values()))
    idf = {t: L.idf(df[t], n) for t in terms}
    selected = L.select_terms(df, max_postings or L.MAX_POSTINGS)
    rowids = L.candidates(conn, {t: idf[t] for t in selected}, k, fts="chunk_reading")
    if not rowids:
        return []
    marks = ",".join("?" * len(rowids))
    stored = dict(conn.execute(f"SELECT rowid, terms FROM chunk_reading WHERE rowid IN ({marks})", rowids))
    total = sum(idf.values())
    hits = []
    for rowid in rowids:
        text = stored.get(rowid, "")
        present = set(text.split())
        padded = f" {text} "
        found = sum(1 for p in phrases if f" {p} " in padded)
        if not found:
            continue
        coverage = sum(w for t, w in idf.items() if t in present) / total
        phrase = found / len(phrases)
        score = R.READING_WEIGHT * (R.COVERAGE_WEIGHT * coverage + R.PHRASE_WEIGHT * phrase)
        hits.append(L.LexicalHit(rowid, score, coverage, phrase))
    hits.sort(key=lambda h: -h.score)
    return hits


# -- a knowledge base of real text ----------------------------------------------------------------


@pytest.fixture(scope="module")
def real(shared_data):
    """JSQuAD's paragraphs and techniques-dev's write-ups, ten passages a recording, every other
    recording spoken (so the reading index holds half), plus the questions of both sets."""
    jsquad = json.loads((shared_data / "jsquad-valid-v1.3.json").read_text(encoding="utf-8"))
    dev = json.loads((shared_data / "techniques-dev.json").read_text(encoding="utf-8"))
    texts, questions = [], []
    for article in jsquad["data"]:
        for para in article["paragraphs"]:
            texts.append(para["context"].replace(" [SEP] ", "\n", 1))
            questions += [qa["question"] for qa in para["qas"]]
    texts += [f"{d['title']}\n{d['text']}" for d in dev["docs"]]
    conn = sqlite3.connect(":memory:")
    db.migrate(conn)
    for cid, text in enumerate(texts, 1):
        rec = (cid - 1) // 10 + 1
        if cid % 10 == 1:
            conn.execute(
                "INSERT INTO recordings(id, title, kind, format, source_name, sha256, size_bytes, status) "
                "VALUES (?, '', ?, 'x', 'x', ?, 1, 'done')",
                (rec, "video" if rec % 2 else "document", f"sha{rec}"),
            )
        conn.execute("INSERT INTO chunks(id, recording_id, idx, text) VALUES (?, ?, ?, ?)", (cid, rec, cid % 10, text))
    lexical.add_chunks(conn, list(enumerate(texts, 1)))
    conn.commit()
    qs = random.Random(17).sample(questions, 60) + [q["q"] for q in dev["queries"]]
    recordings = (len(texts) + 9) // 10
    # what a searcher may see: a third of the recordings, all of them, the spoken ones only
    yield conn, qs, (set(range(1, recordings + 1, 3)), set(range(1, recordings + 1)), set(range(1, recordings + 1, 2)))
    conn.close()


EDGE = ["", "   ", "あ", "ア", "錆", "a", "the", "C0.5", "ロック・ナット", "interchangeability temperature",
        "旋盤", "かな", "？！", "2024年", "ｶﾞｽ切断", "の", "ヨネツエン", "する"]  # fmt: skip


def same(new, old):
    assert [h.chunk_id for h in new] == [h.chunk_id for h in old]
    assert [(h.score, h.coverage, h.phrase, h.evident) for h in new] == [
        (h.score, h.coverage, h.phrase, h.evident) for h in old
    ]


@pytest.mark.slow
def test_character_hits_are_the_loops_hits(real):
    conn, qs, (some, everything, spoken) = real
    for q in qs + EDGE:
        for k, within, weak in ((300, None, True), (100, some, True), (50, everything, False), (10, spoken, False)):
            same(lexical._character_hits(conn, q, k, lexical.MAX_POSTINGS, within, weak), old_character_hits(conn, q, k, lexical.MAX_POSTINGS, within, weak))  # fmt: skip


@pytest.mark.slow
def test_reading_hits_are_the_loops_hits(real):
    conn, qs, (some, everything, spoken) = real
    for q in qs + EDGE:
        for k, within in ((300, None), (20, some), (100, everything), (300, spoken)):
            same(reading.search_hits(conn, q, k, None, within), old_reading_hits(conn, q, k, None, within))


def test_the_evidence_rule_switched_off_and_small_budgets(real, monkeypatch):
    conn, qs, _ = real
    monkeypatch.setattr(lexical, "MIN_EVIDENCE", 0)
    for q in qs[:40] + EDGE:
        same(lexical._character_hits(conn, q, 100, 50, None, True), old_character_hits(conn, q, 100, 50, None, True))


@pytest.mark.parametrize("hashed", [True, False])
def test_presence_is_whitespace_split_membership_and_adjacency(hashed, monkeypatch):
    if not hashed:  # the binary search taken when no multiplier separates the query's terms
        monkeypatch.setattr(matching, "_MULTIPLIER", ())
    texts = ["旋盤 盤加 加工 旋 盤", "", "temperatures interchangeability c0 5", "ab", "ク・ ・ナ ナッ", "加工 旋盤"]
    vocab = ["旋盤", "加工", "盤加", "interchangeability", "temperatures", "c0", "ab", "ク・", "・ナ", "a", "工"]
    pairs = [(0, 2), (2, 1), (1, 0), (7, 8), (4, 3), (5, 4)]
    held, adjacent = matching.presence([t.encode() for t in texts], vocab, pairs)
    for i, text in enumerate(texts):
        assert held[i].tolist() == [t in text.split() for t in vocab]
        padded = f" {text} "
        assert adjacent[i].tolist() == [f" {vocab[a]} {vocab[b]} " in padded for a, b in pairs]


def test_ordered_sums_add_as_python_sum_does():
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.05, 12, 40).tolist()
    held = rng.random((200, 40)) < 0.4

    def neumaier(xs):  # CPython 3.12's sum() of floats
        total, comp = 0.0, 0.0
        for x in xs:
            t = total + x
            comp += (total - t) + x if abs(total) >= abs(x) else (x - t) + total
            total = t
        return total + comp if comp else total

    assert matching.ordered_sums(held, weights).tolist() == [sum(w for w, h in zip(weights, r) if h) for r in held]
    plain = matching.ordered_sums(held, weights, compensated=False)
    compensated = matching.ordered_sums(held, weights, compensated=True)
    for row, a, b in zip(held, plain, compensated):
        chosen = [w for w, h in zip(weights, row) if h]
        total = 0.0
        for w in chosen:
            total += w
        assert a == total and b == neumaier(chosen)
    assert matching.ordered_sums(np.zeros((3, 0), dtype=bool), []).tolist() == [0.0, 0.0, 0.0]
