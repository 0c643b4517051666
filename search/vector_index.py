"""FAISS vector index over chunk embeddings: a cache of ``chunks.embedding`` that can always be rebuilt.

Why it looks like this:

* SQLite is the source of truth.  The index file is only trusted when its
  manifest matches what the caller knows from SQLite (embedder fingerprint,
  dimension, chunk count, index generation) *and* the file itself (size and
  CRC-32).  Anything else - missing, truncated, corrupt, stale - is rebuilt
  from the stored embeddings, never re-embedded and never a crash.
* FAISS ids are chunk row ids, so a hit maps straight back to a row.
* Below ``ann_threshold`` chunks the search is exact (a flat inner-product
  scan: vectors are L2-normalised, so inner product = cosine).  Above it an
  HNSW graph answers in a few milliseconds where an exact scan of a million
  384-d vectors costs ~90 ms of memory bandwidth.  HNSW beat IVF at equal
  recall (bench/latency.py, results in bench/results/latency.json).
* HNSW cannot delete nodes.  A removed chunk becomes a tombstone (its entry
  in the id map is set to -1) and searches skip tombstones with an
  IDSelector; when tombstones pass ``COMPACT_FRACTION`` of the graph it is
  rebuilt from the vectors it already holds.
* Searches use few OpenMP threads (``threads``, 1 by default in the settings):
  FAISS, the embedding engine and speech recognition each bundle their own
  OpenMP runtime, and idle OpenMP workers spin.  Measured on 2 cores, a flat
  search with 2 threads made the next query embedding in the same process take
  ~1.7 s instead of ~30 ms.  OpenMP thread counts belong to the calling thread,
  so the count is set again around each call.
* Files are written atomically: temp file, fsync, ``os.replace``, manifest
  last (also atomically), then the folder is fsynced.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from kb.home import fsync_file

log = logging.getLogger(__name__)

INDEX_FILE = "vectors.faiss"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
# Rebuild the HNSW graph when this share of its nodes are tombstones.
COMPACT_FRACTION = 0.2
# An existing HNSW index is kept while the count stays above this share of the
# threshold, so a knowledge base hovering around the threshold does not flip
# between a minutes-long HNSW build and a flat index on every open.
KEEP_HNSW_FRACTION = 0.9
_ALIVE = (0, 2**63 - 1)  # IDSelectorRange bounds: every real id, never the -1 of a tombstone

VectorBatches = Iterator[tuple[np.ndarray, np.ndarray]]


class VectorIndexError(Exception):
    """A vector index problem, as one human-readable line naming the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class HnswParams:
    """HNSW settings, chosen with bench/latency.py (results in bench/results/latency.json).

    At 1M synthetic e5-like vectors on 2 cores: the build takes ~15 min with
    M=32, efConstruction=80, and the index holds ~1.8 GB.  efSearch=768 gives
    recall@10 0.958 against exact search at ~6 ms a query (128 gives 0.79 at
    ~1.4 ms); at 200k vectors efSearch=256 already reaches 0.96, at 100k efSearch=768
    gives 0.998 at 3.7 ms where the exact scan takes 9 ms (bench/latency.py, session 3).
    """

    m: int = 32
    ef_construction: int = 80
    ef_search: int = 768
    by_size: bool = True  # False: always ef_search (the benchmark's sweep)

    def ef_for(self, count: int) -> int:
        """efSearch for an index of ``count`` vectors: a smaller graph reaches the same recall with a
        shorter search (measured recall@10 against exact: 0.981 at 100k with 256, 0.986 at 200k with
        512, 0.958 at 1M with 768), so the full ``ef_search`` is spent only where it is needed."""
        if not self.by_size:
            return self.ef_search
        if count < 150_000:
            return min(self.ef_search, 256)
        if count < 500_000:
            return min(self.ef_search, 512)
        return self.ef_search


def choose_kind(count: int, ann_threshold: int, current: str | None = None) -> str:
    """'flat' (exact) below the threshold, 'hnsw' above; an existing HNSW index gets some slack."""
    if count >= ann_threshold:
        return "hnsw"
    if current == "hnsw" and count >= ann_threshold * KEEP_HNSW_FRACTION:
        return "hnsw"
    return "flat"


class VectorIndex:
    """Chunk-id keyed inner-product index.  Build with :meth:`open`."""

    def __init__(
        self,
        folder: Path,
        index,
        *,
        kind: str,
        dim: int,
        fingerprint: str,
        threads: int | None,
        hnsw: HnswParams,
        dead: int = 0,
    ):
        self.folder = Path(folder)
        self.kind = kind
        self.dim = dim
        self.fingerprint = fingerprint
        self.threads = threads
        self.hnsw = hnsw
        self._index = index  # faiss.IndexIDMap over IndexFlatIP or IndexHNSWFlat
        self._dead = dead  # tombstones (HNSW only)
        self._lock = _ReadWriteLock()  # searches and saves share; add/remove are alone

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        folder: Path,
        *,
        dim: int,
        fingerprint: str,
        generation: int,
        count: int,
        load_vectors: Callable[[], VectorBatches],
        ann_threshold: int = 50_000,
        threads: int | None = None,
        build_threads: int | None = None,
        hnsw: HnswParams | None = None,
    ) -> "VectorIndex":
        """Load ``folder/vectors.faiss`` if its manifest matches; otherwise rebuild it and save.

        ``load_vectors()`` yields ``(ids int64 (n,), vecs float32 (n, dim))`` batches
        read from SQLite.  ``threads`` is the OpenMP thread count for searches,
        ``build_threads`` for a rebuild (default: all cores).
        """
        folder = Path(folder)
        hnsw = hnsw or HnswParams()
        try:
            return cls._load(
                folder,
                dim=dim,
                fingerprint=fingerprint,
                generation=generation,
                count=count,
                ann_threshold=ann_threshold,
                threads=threads,
                hnsw=hnsw,
            )
        except VectorIndexError as stale:
            log.info("rebuilding vector index: %s", stale)
        kind = choose_kind(count, ann_threshold)
        index = cls.build(
            folder,
            kind=kind,
            dim=dim,
            fingerprint=fingerprint,
            batches=load_vectors(),
            threads=threads,
            build_threads=build_threads,
            hnsw=hnsw,
        )
        if len(index) != count:
            log.warning(
                "%s: rebuilt %d vectors, expected %d (chunks changed while reading?)", folder, len(index), count
            )
        index.save(generation)
        return index

    @classmethod
    def build(
        cls,
        folder: Path,
        *,
        kind: str,
        dim: int,
        fingerprint: str,
        batches: Iterable,
        threads: int | None = None,
        build_threads: int | None = None,
        hnsw: HnswParams | None = None,
    ) -> "VectorIndex":
        """A new in-memory index of ``kind`` filled from ``(ids, vecs)`` batches (nothing is saved)."""
        hnsw = hnsw or HnswParams()
        vi = cls(
            folder,
            _new_faiss_index(kind, dim, hnsw),
            kind=kind,
            dim=dim,
            fingerprint=fingerprint,
            threads=threads,
            hnsw=hnsw,
        )
        with _omp_threads(build_threads or os.cpu_count() or 1):
            # HNSW adds in parallel inside a batch: feed it big batches.
            for ids, vecs in _rebatch(batches, 65_536 if kind == "hnsw" else 16_384):
                vi._add_unlocked(ids, vecs, upsert=False)
        return vi

    @classmethod
    def _load(
        cls,
        folder: Path,
        *,
        dim: int,
        fingerprint: str,
        generation: int,
        count: int,
        ann_threshold: int,
        threads: int | None,
        hnsw: HnswParams,
    ) -> "VectorIndex":
        import faiss

        _remove_orphan_temp_files(folder)
        manifest_path, index_path = folder / MANIFEST_FILE, folder / INDEX_FILE
        if not manifest_path.exists() or not index_path.exists():
            raise VectorIndexError(folder, "no saved index")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VectorIndexError(manifest_path, f"unreadable manifest ({exc})") from None
        if not isinstance(manifest, dict):
            raise VectorIndexError(manifest_path, "manifest is not a JSON object")
        expected = {
            "format": FORMAT_VERSION,
            "fingerprint": fingerprint,
            "dim": dim,
            "generation": generation,
            "count": count,
            "kind": choose_kind(count, ann_threshold, manifest.get("kind")),
        }
        for key, want in expected.items():
            if manifest.get(key) != want:
                raise VectorIndexError(manifest_path, f"{key} is {manifest.get(key)!r}, expected {want!r}")
        size = index_path.stat().st_size
        if size != manifest.get("file_size"):
            raise VectorIndexError(index_path, f"size {size} bytes, manifest says {manifest.get('file_size')}")
        if _crc32(index_path) != manifest.get("crc32"):
            raise VectorIndexError(index_path, "checksum differs from the manifest (corrupt file)")
        try:
            index = faiss.read_index(str(index_path))
        except Exception as exc:  # faiss raises RuntimeError with a C++ trace
            raise VectorIndexError(index_path, f"FAISS cannot read it ({str(exc).splitlines()[0]})") from None
        kind = manifest["kind"]
        if not _looks_like(index, kind, dim):
            raise VectorIndexError(index_path, f"file does not hold a {kind} index of dimension {dim}")
        try:
            saved_hnsw = HnswParams(**manifest["hnsw"]) if manifest.get("hnsw") else hnsw
        except TypeError:
            raise VectorIndexError(manifest_path, f"unknown HNSW settings {manifest['hnsw']!r}") from None
        vi = cls(
            folder,
            index,
            kind=kind,
            dim=dim,
            fingerprint=fingerprint,
            threads=threads,
            hnsw=HnswParams(saved_hnsw.m, saved_hnsw.ef_construction, hnsw.ef_search, hnsw.by_size),
        )
        vi._dead = int((vi._id_map() < 0).sum()) if kind == "hnsw" else 0
        if len(vi) != count:
            raise VectorIndexError(index_path, f"holds {len(vi)} vectors, expected {count}")
        return vi

    # ---------------------------------------------------------------- changing

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        """Add (or replace) vectors under chunk ids."""
        with self._lock.write(), _omp_threads(self.threads):
            self._add_unlocked(ids, vecs, upsert=True)

    def remove(self, ids: Sequence[int]) -> None:
        """Remove chunk ids (unknown ids are ignored)."""
        ids = np.ascontiguousarray(
            np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64).ravel()
        )
        if ids.size == 0:
            return
        with self._lock.write(), _omp_threads(self.threads):
            self._drop(ids)
            if self.kind == "hnsw" and self._dead > COMPACT_FRACTION * max(1, self._index.ntotal):
                self._compact()

    def _add_unlocked(self, ids, vecs, *, upsert: bool) -> None:
        ids = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).ravel())
        vecs = np.ascontiguousarray(np.asarray(vecs, dtype=np.float32))
        if vecs.ndim != 2 or vecs.shape[1] != self.dim or vecs.shape[0] != ids.shape[0]:
            raise VectorIndexError(
                self.folder / INDEX_FILE,
                f"cannot add vectors of shape {vecs.shape} under {ids.shape[0]} ids to a {self.dim}-d index",
            )
        if ids.size == 0:
            return
        if (ids < 0).any():
            raise VectorIndexError(self.folder / INDEX_FILE, "chunk ids must be >= 0")
        if upsert and self._index.ntotal:
            self._drop(ids)
        self._index.add_with_ids(vecs, ids)

    def _drop(self, ids: np.ndarray) -> None:
        import faiss

        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(ids.size, faiss.swig_ptr(ids)))
            return
        id_map = self._id_map()
        hit = np.isin(id_map, ids)
        if hit.any():
            id_map[hit] = -1  # a tombstone: the node stays in the graph, searches skip it
            self._dead += int(hit.sum())

    def _compact(self) -> None:
        """Rebuild the HNSW graph from its own live vectors (no SQLite read, no re-embedding)."""
        import faiss

        id_map = self._id_map()
        alive = np.flatnonzero(id_map >= 0)
        storage = faiss.downcast_index(faiss.downcast_index(self._index.index).storage)
        xb = faiss.rev_swig_ptr(storage.get_xb(), self._index.ntotal * self.dim)
        xb = xb.reshape(self._index.ntotal, self.dim)
        log.info("compacting HNSW index: %d live of %d nodes", alive.size, self._index.ntotal)
        fresh = _new_faiss_index("hnsw", self.dim, self.hnsw)
        ids = id_map[alive].copy()
        with _omp_threads(os.cpu_count() or 1):
            for start in range(0, alive.size, 65_536):
                part = alive[start : start + 65_536]
                fresh.add_with_ids(np.ascontiguousarray(xb[part]), ids[start : start + 65_536])
        self._index, self._dead = fresh, 0

    # --------------------------------------------------------------- searching

    def search(self, qvecs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product: ``(scores (n, k) float32, ids (n, k) int64)``; id -1 where there is none."""
        import faiss

        q = np.ascontiguousarray(np.asarray(qvecs, dtype=np.float32))
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"query vectors of shape {q.shape} do not fit a {self.dim}-d index")
        k = int(k)
        if k <= 0 or q.shape[0] == 0 or len(self) == 0:
            return (
                np.full((q.shape[0], max(k, 0)), -np.inf, dtype=np.float32),
                np.full((q.shape[0], max(k, 0)), -1, dtype=np.int64),
            )
        with self._lock.read(), _omp_threads(self.threads):
            if self.kind == "flat":
                scores, ids = self._index.search(q, k)
            else:
                params = faiss.SearchParametersHNSW()
                params.efSearch = max(self.hnsw.ef_for(len(self)), k)
                alive = faiss.IDSelectorRange(*_ALIVE) if self._dead else None
                if alive is not None:
                    params.sel = alive
                scores, ids = self._index.search(q, k, params=params)
        scores[ids < 0] = -np.inf
        return scores, ids

    def __len__(self) -> int:
        return int(self._index.ntotal) - self._dead

    @property
    def tombstones(self) -> int:
        return self._dead

    # ------------------------------------------------------------------ saving

    def save(self, generation: int) -> None:
        """Write the index and its manifest atomically (temp file, fsync, rename; manifest last)."""
        import faiss

        self.folder.mkdir(parents=True, exist_ok=True)
        index_path = self.folder / INDEX_FILE
        with self._lock.read():
            tmp = _temp_path(index_path)
            try:
                faiss.write_index(self._index, str(tmp))
                fsync_file(tmp)
                manifest = {
                    "format": FORMAT_VERSION,
                    "kind": self.kind,
                    "dim": self.dim,
                    "fingerprint": self.fingerprint,
                    "generation": int(generation),
                    "count": len(self),
                    "ntotal": int(self._index.ntotal),
                    "tombstones": self._dead,
                    "metric": "inner_product",
                    "file_size": tmp.stat().st_size,
                    "crc32": _crc32(tmp),
                    "hnsw": asdict(self.hnsw) if self.kind == "hnsw" else None,
                }
                os.replace(tmp, index_path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        _write_atomic(self.folder / MANIFEST_FILE, json.dumps(manifest, indent=2).encode("utf-8"))
        _fsync_dir(self.folder)

    def _id_map(self) -> np.ndarray:
        """A live numpy view of the IDMap's node -> chunk id table (re-take after every add)."""
        import faiss

        n = self._index.id_map.size()
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return faiss.rev_swig_ptr(self._index.id_map.data(), n)


# --------------------------------------------------------------------- helpers


def _new_faiss_index(kind: str, dim: int, hnsw: HnswParams):
    import faiss

    if kind == "flat":
        base = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        base = faiss.IndexHNSWFlat(dim, hnsw.m, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = hnsw.ef_construction
        base.hnsw.efSearch = hnsw.ef_search
    else:
        raise ValueError(f"unknown vector index kind {kind!r} (expected 'flat' or 'hnsw')")
    return faiss.IndexIDMap(base)  # faiss's wrapper keeps a reference to base


def _looks_like(index, kind: str, dim: int) -> bool:
    import faiss

    if not isinstance(index, faiss.IndexIDMap) or index.d != dim:
        return False
    base = faiss.downcast_index(index.index)
    want = faiss.IndexHNSWFlat if kind == "hnsw" else faiss.IndexFlatIP
    return isinstance(base, want) and base.metric_type == faiss.METRIC_INNER_PRODUCT


def _rebatch(batches: Iterable, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Group small (ids, vecs) batches into ones of about ``rows`` rows."""
    ids_buf, vec_buf, held = [], [], 0
    for ids, vecs in batches:
        ids_buf.append(np.asarray(ids, dtype=np.int64).ravel())
        vec_buf.append(np.asarray(vecs, dtype=np.float32))
        held += ids_buf[-1].size
        if held >= rows:
            yield np.concatenate(ids_buf), np.concatenate(vec_buf)
            ids_buf, vec_buf, held = [], [], 0
    if held:
        yield np.concatenate(ids_buf), np.concatenate(vec_buf)


class _ReadWriteLock:
    """Many readers (searches, saves) at once, or one writer (add, remove): FAISS reads are thread-safe.

    A waiting writer goes first: new readers wait behind it, so a steady stream of
    concurrent searches cannot keep a transcript save's index update waiting forever."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting_writers = 0

    @contextmanager
    def read(self):
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._waiting_writers)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self):
        with self._cond:
            self._waiting_writers += 1
            try:
                self._cond.wait_for(lambda: not self._writing and not self._readers)
            finally:
                self._waiting_writers -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class _omp_threads:
    """Set FAISS's OpenMP thread count for the calling thread for a block, then restore it."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        if self.n:
            import faiss

            self.before = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(int(self.n))
        return self

    def __exit__(self, *exc):
        if self.n:
            import faiss

            faiss.omp_set_num_threads(self.before)


def _crc32(path: Path, block: int = 8 << 20) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(block):
            crc = zlib.crc32(chunk, crc)
    return crc


def _temp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _remove_orphan_temp_files(folder: Path) -> None:
    """Delete temp files left by a process that died while saving (their pid is gone)."""
    if not folder.is_dir():
        return
    for tmp in folder.glob(".*.tmp"):
        try:
            pid = int(tmp.name.split(".")[-3])
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (ValueError, IndexError, PermissionError, OSError):
            continue


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = _temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
