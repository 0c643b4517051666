"""Fusion (search/fusion.py) on constructed candidate lists: what each kind of evidence does."""

from __future__ import annotations

import numpy as np
import pytest

from search.fusion import FusionWeights, hybrid_rank

# Exact cosines of one query with chunks 1..8 (what the engine reads from stored embeddings).
COS = {1: 0.86, 2: 0.84, 3: 0.83, 4: 0.80, 5: 0.79, 6: 0.78, 7: 0.77, 8: 0.76}


def cos_of(ids):
    return np.array([COS[i] for i in ids], dtype=np.float32)


def dense(*ids):
    return [(i, COS[i]) for i in ids]


def order(result):
    return [cid for cid, _ in result]


def test_chunk_both_agree_on_ranks_first():
    out = hybrid_rank("q", [(3, 0.9), (5, 0.4)], dense(3, 1, 2, 4), cos_of, 10)
    assert order(out)[0] == 3


def test_chunk_found_only_by_dense_still_ranks():
    out = hybrid_rank("q", [(5, 0.3)], dense(1, 2, 4), cos_of, 10)
    assert set(order(out)) == {1, 2, 4, 5}
    assert order(out)[0] == 1  # clear dense winner, weak lexical match elsewhere


def test_lexical_only_candidates_get_their_exact_cosine():
    asked = []

    def spy(ids):
        asked.append(list(ids))
        return cos_of(ids)

    hybrid_rank("q", [(7, 0.5), (1, 0.2)], dense(1, 2), spy, 10)
    assert asked == [[7]]


def test_whole_query_in_a_chunk_beats_a_slightly_closer_cosine():
    # Chunk 4 contains the whole question (coverage 1.0); chunk 1 is only a little closer in meaning.
    out = hybrid_rank("q", [(4, 1.0), (1, 0.2)], dense(1, 2, 3, 4, 5, 6), cos_of, 10)
    assert order(out)[0] == 4


def test_generic_word_overlap_does_not_override_dense():
    # Chunk 8 shares one generic word (score 0.1); the dense ranking stands.
    out = hybrid_rank("q", [(8, 0.1)], dense(1, 2, 3, 4, 5, 6, 7), cos_of, 10)
    assert order(out)[:3] == [1, 2, 3]


def test_limit_and_empty_inputs():
    assert hybrid_rank("q", [], [], cos_of, 10) == []
    assert len(hybrid_rank("q", [(5, 0.5)], dense(1, 2, 3, 4), cos_of, 2)) == 2
    assert order(hybrid_rank("q", [(5, 0.5), (6, 0.4)], [], cos_of, 10)) == [5, 6]
    assert order(hybrid_rank("q", [], dense(2, 1), cos_of, 10)) == [1, 2]


def test_scores_are_sorted_and_ids_unique():
    out = hybrid_rank("q", [(2, 0.7), (3, 0.6), (1, 0.1)], dense(1, 2, 3, 4), cos_of, 10)
    scores = [s for _, s in out]
    assert scores == sorted(scores, reverse=True)
    assert len(order(out)) == len(set(order(out)))


def test_second_embedder_is_used_when_given():
    second = {1: 0.10, 2: 0.90, 3: 0.12, 4: 0.11}

    def second_of(ids):
        return np.array([second[i] for i in ids])

    without = hybrid_rank("q", [], dense(1, 2, 3, 4), cos_of, 10)
    with_second = hybrid_rank(
        "q", [], dense(1, 2, 3, 4), cos_of, 10, second_score_of=second_of, weights=FusionWeights(second=1.0)
    )
    assert order(without)[0] == 1
    assert order(with_second)[0] == 2


@pytest.mark.parametrize("lexical_weight", [0.0, 6.0])
def test_lexical_weight_zero_is_dense_order(lexical_weight):
    out = hybrid_rank(
        "q", [(6, 1.0)], dense(1, 2, 3, 4, 5, 6), cos_of, 10, weights=FusionWeights(lexical=lexical_weight)
    )
    assert (order(out)[0] == 1) == (lexical_weight == 0.0)
