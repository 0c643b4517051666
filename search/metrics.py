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


def _cer_chars(text: str) -> str:
    """What character error rate compares: NFKC, no spaces or punctuation (Whisper and the writer
    punctuate differently, and a missing 、 is not a recognition error)."""
    import unicodedata

    text = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two strings."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def character_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus CER: the summed edit distance over the summed reference length (letters and digits only)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} transcripts: they must pair up")
    refs = [_cer_chars(r) for r in references]
    total = sum(len(r) for r in refs)
    if total == 0:
        return 0.0
    return sum(edit_distance(r, _cer_chars(h)) for r, h in zip(refs, hypotheses)) / total
