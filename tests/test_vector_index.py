"""search.vector_index: real FAISS on small random data (no timing asserts)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from search.vector_index import INDEX_FILE, MANIFEST_FILE, VectorIndex, VectorIndexError, choose_kind

DIM = 32
N = 2_000


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


class Source:
    """Stands in for SQLite: yields (ids, vecs) batches and counts how often it was read."""

    def __init__(self, ids: np.ndarray, vecs: np.ndarray):
        self.ids, self.vecs, self.reads = ids, vecs, 0

    def __call__(self):
        self.reads += 1
        for start in range(0, len(self.ids), 300):
            yield self.ids[start : start + 300], self.vecs[start : start + 300]


@pytest.fixture
def data():
    ids = np.arange(N, dtype=np.int64) * 5 + 11  # chunk row ids, deliberately not 0..N-1
    return ids, unit_vectors(N)


def open_index(folder, source, *, generation=1, fingerprint="fp-a", count=None, threshold=10_000):
    return VectorIndex.open(
        folder,
        dim=DIM,
        fingerprint=fingerprint,
        generation=generation,
        count=len(source.ids) if count is None else count,
        load_vectors=source,
        ann_threshold=threshold,
        threads=1,
    )


def test_add_search_remove_keeps_chunk_ids(tmp_path, data):
    ids, vecs = data
    vi = open_index(tmp_path / "idx", Source(ids[:0], vecs[:0]), count=0)
    assert vi.kind == "flat" and len(vi) == 0
    scores, found = vi.search(vecs[:2], 5)
    assert (found == -1).all() and found.shape == (2, 5)

    vi.add(ids, vecs)
    assert len(vi) == N
    scores, found = vi.search(vecs[:10], 3)
    assert found[:, 0].tolist() == ids[:10].tolist()
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)

    vi.remove([int(ids[0]), int(ids[1]), 999_999])  # unknown ids are ignored
    assert len(vi) == N - 2
    _, found = vi.search(vecs[:3], 3)
    assert ids[0] not in found and ids[1] not in found
    assert found[2, 0] == ids[2]


def test_add_replaces_an_existing_id(tmp_path, data):
    ids, vecs = data
    vi = open_index(tmp_path / "idx", Source(ids, vecs))
    vi.add(ids[:1], vecs[5:6])  # chunk re-embedded: same id, new vector
    assert len(vi) == N
    _, found = vi.search(vecs[5:6], 2)
    assert sorted(found[0].tolist()) == sorted([int(ids[0]), int(ids[5])])
    _, found = vi.search(vecs[0:1], 1)
    assert found[0, 0] != ids[0]


def test_k_larger_than_index_pads_with_minus_one(tmp_path, data):
    ids, vecs = data
    vi = open_index(tmp_path / "idx", Source(ids[:3], vecs[:3]))
    scores, found = vi.search(vecs[0], 5)
    assert found[0, :3].tolist().count(-1) == 0 and found[0, 3:].tolist() == [-1, -1]
    assert np.isneginf(scores[0, 3:]).all()


def test_bad_shapes_are_clear_errors(tmp_path, data):
    ids, vecs = data
    vi = open_index(tmp_path / "idx", Source(ids, vecs))
    with pytest.raises(ValueError, match="do not fit a 32-d index"):
        vi.search(np.zeros((1, DIM + 1), np.float32), 3)
    with pytest.raises(VectorIndexError, match="vectors.faiss: cannot add"):
        vi.add(ids[:2], np.zeros((2, 8), np.float32))


def test_save_and_open_round_trip_without_rebuild(tmp_path, data):
    ids, vecs = data
    source = Source(ids, vecs)
    vi = open_index(tmp_path / "idx", source)
    assert source.reads == 1
    vi.remove([int(ids[0])])
    vi.save(generation=2)
    manifest = json.loads((tmp_path / "idx" / MANIFEST_FILE).read_text())
    assert manifest["count"] == N - 1 and manifest["generation"] == 2 and manifest["kind"] == "flat"

    again = open_index(tmp_path / "idx", source, generation=2, count=N - 1)
    assert source.reads == 1, "a matching manifest must not rebuild"
    assert len(again) == N - 1
    _, found = again.search(vecs[:2], 1)
    assert found[0, 0] != ids[0] and found[1, 0] == ids[1]
    assert not list((tmp_path / "idx").glob(".*.tmp")), "temp files must not be left behind"


@pytest.mark.parametrize("change", [{"fingerprint": "fp-b"}, {"generation": 7}, {"count": N - 1}])
def test_manifest_mismatch_rebuilds_from_source(tmp_path, data, change):
    ids, vecs = data
    open_index(tmp_path / "idx", Source(ids, vecs))
    # SQLite now holds other vectors; the saved index is stale and must not be trusted.
    new_ids, new_vecs = ids[: N - 1] + 1, unit_vectors(N - 1, seed=1)
    source = Source(new_ids, new_vecs)
    args = {"generation": 1, "fingerprint": "fp-a", "count": N - 1} | change
    vi = open_index(tmp_path / "idx", source, **args)
    assert source.reads == 1
    _, found = vi.search(new_vecs[:5], 1)
    assert found[:, 0].tolist() == new_ids[:5].tolist()
    manifest = json.loads((tmp_path / "idx" / MANIFEST_FILE).read_text())
    assert manifest["fingerprint"] == args["fingerprint"] and manifest["generation"] == args["generation"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage-manifest", "delete-index"])
def test_damaged_files_rebuild_instead_of_crashing(tmp_path, data, damage):
    ids, vecs = data
    folder = tmp_path / "idx"
    open_index(folder, Source(ids, vecs))
    index_file, manifest_file = folder / INDEX_FILE, folder / MANIFEST_FILE
    raw = index_file.read_bytes()
    if damage == "truncate":
        index_file.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        index_file.write_bytes(raw[:-100] + bytes(b ^ 0xFF for b in raw[-100:]))
    elif damage == "garbage-manifest":
        manifest_file.write_text("{not json")
    else:
        index_file.unlink()
    source = Source(ids, vecs)
    vi = open_index(folder, source)
    assert source.reads == 1
    _, found = vi.search(vecs[:5], 1)
    assert found[:, 0].tolist() == ids[:5].tolist()
    assert index_file.stat().st_size == len(raw)


def test_missing_folder_is_created(tmp_path, data):
    ids, vecs = data
    folder = tmp_path / "not" / "there"
    vi = open_index(folder, Source(ids, vecs))
    assert len(vi) == N and (folder / INDEX_FILE).exists() and (folder / MANIFEST_FILE).exists()


def test_orphan_temp_file_of_a_dead_process_is_removed(tmp_path, data):
    ids, vecs = data
    folder = tmp_path / "idx"
    open_index(folder, Source(ids, vecs))
    orphan = folder / ".vectors.faiss.999999999.1.tmp"  # no such pid
    orphan.write_bytes(b"half written")
    open_index(folder, Source(ids, vecs))
    assert not orphan.exists()


def test_choose_kind_has_slack_for_existing_hnsw():
    assert choose_kind(99, 100) == "flat"
    assert choose_kind(100, 100) == "hnsw"
    assert choose_kind(95, 100, current="hnsw") == "hnsw"
    assert choose_kind(80, 100, current="hnsw") == "flat"


def test_hnsw_above_threshold_matches_exact_search(tmp_path, data):
    ids, vecs = data
    source = Source(ids, vecs)
    approx = open_index(tmp_path / "hnsw", source, threshold=1_000)
    exact = open_index(tmp_path / "flat", source, threshold=10_000)
    assert approx.kind == "hnsw" and exact.kind == "flat"
    queries = unit_vectors(50, seed=3)
    _, got = approx.search(queries, 10)
    _, want = exact.search(queries, 10)
    recall = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got, want)])
    assert recall >= 0.9
    # The saved HNSW index loads back as HNSW, without a rebuild.
    reads = source.reads
    again = open_index(tmp_path / "hnsw", source, threshold=1_000)
    assert again.kind == "hnsw" and source.reads == reads


def test_hnsw_removal_tombstones_then_compacts(tmp_path, data):
    ids, vecs = data
    folder = tmp_path / "hnsw"
    vi = open_index(folder, Source(ids, vecs), threshold=1_000)
    gone = ids[:50]
    vi.remove(gone.tolist())
    assert len(vi) == N - 50 and vi.tombstones == 50
    _, found = vi.search(vecs[:50], 10)
    assert not np.isin(found, gone).any()
    assert (found >= 0).all(), "tombstones must not leave holes in the results"

    vi.save(generation=2)  # tombstones survive a save/load
    vi = open_index(folder, Source(ids, vecs), generation=2, count=N - 50, threshold=1_000)
    assert vi.tombstones == 50
    _, found = vi.search(vecs[:50], 10)
    assert not np.isin(found, gone).any()

    vi.add(gone[:1], vecs[:1])  # a removed id can come back
    _, found = vi.search(vecs[:1], 1)
    assert found[0, 0] == gone[0]

    vi.remove(ids[50:600].tolist())  # past the compaction share: graph rebuilt from its own vectors
    assert vi.tombstones == 0 and len(vi) == N - 600 + 1
    _, found = vi.search(vecs[600:620], 1)
    assert found[:, 0].tolist() == ids[600:620].tolist()


@pytest.mark.parametrize("threshold", [10_000, 1_000])
def test_searches_from_threads_while_adding_and_removing(tmp_path, data, threshold):
    import threading

    ids, vecs = data
    vi = open_index(tmp_path / "idx", Source(ids[:1000], vecs[:1000]), threshold=threshold)
    errors: list[BaseException] = []

    def searcher():
        try:
            for i in range(200):
                _, found = vi.search(vecs[i % 1000], 5)
                assert found[0, 0] >= 0
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    for start in range(1000, N, 100):
        vi.add(ids[start : start + 100], vecs[start : start + 100])
        vi.remove(ids[start - 1000 : start - 990].tolist())
    for t in threads:
        t.join()
    assert not errors
    assert len(vi) == N - 100
