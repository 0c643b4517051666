"""Fusion of lexical and dense candidates: one score per chunk from comparable evidence.

Why not reciprocal-rank fusion: RRF throws the scores away, so a chunk that
contains the whole question word for word counts no more than one that shares a
single generic word, and plain RRF (k=60) measured *worse* than the better of its
two inputs on both JSQuAD and the technique questions.

What this does instead (chosen in bench/quality.py, figures in
bench/results/quality.json):

* the candidates are the union of the lexical and the dense lists; every one gets
  its exact dense cosine (``dense_score_of`` fills in the lexical-only ones), so
  no candidate is ranked on half its evidence;
* the cosine is standardised over the candidates (z-score): e5 cosines sit in a
  narrow band (0.75-0.90) whose spread differs per query, and the z-score puts
  "how far above the other candidates" on one scale;
* the lexical score is search.lexical's coverage score, already on a fixed
  [0, 1] scale (share of the query found in the chunk, 0 when the chunk was not
  a lexical candidate); it is added with one weight.  Because coverage is
  absolute, the lexical side speaks loudly when the question's words are in a
  chunk (JSQuAD-style questions) and stays quiet when only generic words match
  (paraphrased questions), with no per-query switch;
* an optional second dense signal (another embedder's exact cosine for the
  same candidates) is standardised the same way and added with its own weight.

    fused = z(cos) + second_weight * z(cos2) + lexical_weight * (1 + second_weight) * lexical
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

ScoreOf = Callable[[Sequence[int]], np.ndarray]


@dataclass(frozen=True)
class FusionWeights:
    lexical: float = 6.0  # weight of the [0, 1] lexical coverage score, in dense standard deviations
    second: float = 0.5  # weight of the second embedder's standardised cosine (used only when given)


DEFAULT_WEIGHTS = FusionWeights()


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


def hybrid_rank(
    query: str,
    lexical: list[tuple[int, float]],
    dense: list[tuple[int, float]],
    dense_score_of: ScoreOf,
    limit: int,
    *,
    second_score_of: ScoreOf | None = None,
    weights: FusionWeights = DEFAULT_WEIGHTS,
    signals: dict | None = None,
) -> list[tuple[int, float]]:
    """Fuse candidate lists (each best first) into (chunk_id, score), best first, at most ``limit``.

    ``lexical`` scores must be search.lexical scores (in [0, 1]); ``dense`` scores are
    cosines.  ``dense_score_of(ids)`` returns the exact cosine of the query with those
    chunks; ``second_score_of``, when given, the same for a second embedder.
    ``signals``, when given, is filled with chunk id -> {"cos", "cos2", "lex"} for the returned
    chunks: the raw evidence (absolute, not standardised) that search.strength judges.
    ``query`` is unused today (kept so a query-dependent weighting can come without a
    signature change).
    """
    ids = list(dict.fromkeys([int(c) for c, _ in lexical] + [int(c) for c, _ in dense]))
    if not ids or limit <= 0:
        return []
    known = {int(c): float(s) for c, s in dense}
    missing = [c for c in ids if c not in known]
    if missing:
        known.update(zip(missing, np.asarray(dense_score_of(missing), dtype=np.float64).tolist()))
    cos = np.array([known[c] for c in ids], dtype=np.float64)
    fused = _standardise(cos)
    second = 0.0
    cos2 = None
    if second_score_of is not None and weights.second > 0:
        second = weights.second
        cos2 = np.asarray(second_score_of(ids), dtype=np.float64)
        fused += second * _standardise(cos2)
    lex = {int(c): float(s) for c, s in lexical}
    fused += weights.lexical * (1.0 + second) * np.array([lex.get(c, 0.0) for c in ids])
    order = np.argsort(-fused, kind="stable")[:limit]
    if signals is not None:
        for i in order:
            signals[ids[i]] = {
                "cos": float(cos[i]),
                "cos2": None if cos2 is None else float(cos2[i]),
                "lex": lex.get(ids[i], 0.0),
            }
    return [(ids[i], float(fused[i])) for i in order]
