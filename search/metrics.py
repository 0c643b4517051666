"""Retrieval metrics shared by the benchmark (bench/quality.py) and `kb eval`.

One definition in one place, so that the figures the benchmark reports and the
figures `kb eval` prints through the real pipeline can be compared directly.
Rankings are lists of document ids, best first; gold is the set of ids that
answer the query.
"""
from __future__ import annotations

from typing import Sequence


def _check(ranked: Sequence[Sequence[str]], gold: Sequence[set[str]]) -> None:
    if len(ranked) != len(gold):
        raise ValueError(f"{len(ranked)} rankings but {len(gold)} gold sets: they must pair up")


def mrr_at(ranked: Sequence[Sequence[str]], gold: Sequence[set[str]], k: int = 10) -> float:
    """Mean reciprocal rank of the first gold id within the top k (0 when none is there)."""
    _check(ranked, gold)
    if not ranked:
        return 0.0
    total = 0.0
    for ids, good in zip(ranked, gold):
        for rank, doc_id in enumerate(list(ids)[:k], start=1):
            if doc_id in good:
                total += 1.0 / rank
                break
    return total / len(ranked)


def recall_at(ranked: Sequence[Sequence[str]], gold: Sequence[set[str]], k: int = 10) -> float:
    """Mean over queries of the share of a query's gold ids found in its top k."""
    _check(ranked, gold)
    scored = [(ids, good) for ids, good in zip(ranked, gold) if good]
    if not scored:
        return 0.0
    return sum(len(set(list(ids)[:k]) & set(good)) / len(good) for ids, good in scored) / len(scored)


def summarise(ranked: Sequence[Sequence[str]], gold: Sequence[set[str]]) -> dict[str, float]:
    """The figures every report prints: mrr@10, recall@1/5/10 and the number of queries."""
    gold = [set(g) for g in gold]
    return {
        "mrr@10": round(mrr_at(ranked, gold, 10), 4),
        "recall@1": round(recall_at(ranked, gold, 1), 4),
        "recall@5": round(recall_at(ranked, gold, 5), 4),
        "recall@10": round(recall_at(ranked, gold, 10), 4),
        "n": len(ranked),
    }
