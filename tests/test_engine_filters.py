"""Search with filters that hide most of the knowledge base (a user who may see few recordings).

Filters are applied to the fused candidates; these tests show that a visible
match ranked far below hidden ones is still found (more candidates are
fetched), and that a hybrid search gives the same answer as before the
lexical half moved to its own thread.
"""

from __future__ import annotations

import pytest

from kb.home import init_home
from search.engine import Filters, Searcher


@pytest.fixture
def crowded(tmp_path):
    """60 hidden procedures that match 旋盤 strongly, one visible that matches it weakly."""
    from ingest.pipeline import Ingestor
    from kb.settings import load_config

    config = load_config(home=tmp_path / "kb", embed_model="hash", second_embed_model="none")
    conn = init_home(config)
    ingestor = Ingestor(config, conn)
    hidden = [
        ingestor.ingest_text(f"旋盤の段取り {n}", f"旋盤 旋盤 旋盤の段取りと芯出し、手順 {n}。").recording_id
        for n in range(60)
    ]
    visible = ingestor.ingest_text("溶接と旋盤", "溶接の前に旋盤で面取りをしておく。").recording_id
    searcher = Searcher(ingestor.store)
    searcher.candidates = 5  # so the visible one lies beyond the first candidates
    yield searcher, hidden, visible
    conn.close()


def test_a_visible_match_below_many_hidden_ones_is_still_found(crowded):
    searcher, hidden, visible = crowded
    unfiltered = searcher.search("旋盤", limit=3, mode="lexical")
    assert visible not in [h.recording_id for h in unfiltered.hits]
    for mode in ("lexical", "dense", "hybrid"):
        result = searcher.search("旋盤", limit=3, mode=mode, filters=Filters(recording_ids={visible}))
        assert [h.recording_id for h in result.hits] == [visible], mode


def test_nothing_visible_gives_nothing(crowded):
    searcher, hidden, visible = crowded
    assert searcher.search("旋盤", filters=Filters(recording_ids=set())).hits == []


def test_hybrid_is_the_same_with_the_lexical_half_on_a_thread(crowded):
    """The hybrid ranking equals a fusion computed by hand from the two halves run one after the other."""
    searcher, hidden, visible = crowded
    from search import fusion, lexical

    searcher.candidates = 100
    query = "旋盤の芯出し"
    got = searcher.search(query, limit=10, mode="hybrid", group=False)
    store = searcher.store
    qvec = store.embedder.encode_queries([query])
    scores, ids = store.index.search(qvec, min(100, len(store.index)))
    dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
    lex = lexical.search(store.conn, query, k=100)
    ranked = fusion.hybrid_rank(query, lex, dense, lambda c: store.embeddings_of(list(c)) @ qvec[0], limit=100)
    assert [h.chunk_id for h in got.hits] == [cid for cid, _ in ranked[:10]]
