"""The search store: chunks in SQLite, their lexical terms (FTS5) and their vectors (FAISS), kept consistent.

Order of writes, and why it is safe:
  1. one SQLite transaction replaces a recording's chunks (rows + embeddings +
     FTS terms) and bumps the index generation;
  2. then the FAISS index is updated and saved atomically with that generation
     in its manifest.
A crash between 1 and 2 leaves a manifest whose generation no longer matches
SQLite, so the next open rebuilds the index from the stored embeddings: slower,
never wrong.  Recordings only become searchable (status 'done') after both.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from kb import db
from kb.filelock import file_lock
from kb.settings import Config

# What search sees of a chunk: the recording's title on the first line, then the
# chunk's text.  Measured in bench/quality.py: +0.02 MRR@10 on JSQuAD, where many
# questions name the article; the snippet shown to people stays the bare text.
INDEXED_ROWS_SQL = "SELECT c.id, r.title || char(10) || c.text FROM chunks c JOIN recordings r ON r.id = c.recording_id"


def indexed_text(title: str | None, text: str) -> str:
    return f"{title or ''}\n{text}"


# ---------------------------------------------------------------- the cross-process index lock

LOCK_FILE = ".write.lock"  # inside the index folder; kept when the index files are removed


@contextmanager
def index_write_lock(config: Config) -> Iterator[None]:
    """One writer of the vector index at a time across processes (workers, the web app, `kb ingest`,
    `kb delete`, `kb reindex`).

    Why: each process holds the index in memory; without the lock, two writers
    would each save their own copy and the second would drop the first's vectors.
    Hold it only to apply finished work (ingest.stages.write_embedded), never to compute it.
    Not re-entrant, even within one process (a second open of the lock file waits for the first):
    a function that takes it says so, and its callers must not hold it."""
    with file_lock(config.index_dir / LOCK_FILE):
        yield


@contextmanager
def index_read_lock(config: Config) -> Iterator[None]:
    """Shared with other readers, excluded by a writer: a server process loads a newer index
    generation under it, so it never finds SQLite ahead of the saved index in the middle of another
    process's write (and rebuilds it for nothing).  Short: reading the index file."""
    with file_lock(config.index_dir / LOCK_FILE, shared=True):
        yield


def _remove_index_files(folder) -> None:
    """Everything in the index folder but the lock file: removing that while a writer holds it would
    let the next process lock a new file of the same name beside the held one."""
    import shutil

    if folder.is_dir():
        for path in folder.iterdir():
            if path.name == LOCK_FILE:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


@dataclass
class ChunkIn:
    text: str
    start: float | None = None
    end: float | None = None
    page: int | None = None


@dataclass
class SyncReport:
    """What :meth:`SearchStore.sync_chunks` did: chunks kept as they were, embedded anew, removed."""

    kept: int
    added: int
    removed: int
    added_ids: list[int]
    removed_ids: list[int]

    @property
    def reembedded(self) -> int:
        return self.added


class EmbeddedChunks(list):
    """A recording's chunks with their vectors already computed (:meth:`SearchStore.embed_chunks`).

    Why: embedding a large document takes minutes; the vectors are computed
    first, outside every lock, and :meth:`SearchStore.write_chunks` then only
    writes them (a transaction and an index update: well under a second), so
    the index write lock is held for that alone (issue 16, defect 2)."""

    def __init__(
        self,
        recording_id: int,
        chunks: Sequence[ChunkIn],
        texts: list[str],
        vectors: np.ndarray,
        vectors2: np.ndarray | None,
        fingerprints: tuple[str, str | None],
    ):
        super().__init__(chunks)
        self.recording_id = recording_id
        self.texts = texts
        self.vectors = vectors
        self.vectors2 = vectors2
        self.fingerprints = fingerprints


def _chunk_key(text: str, start: float | None, end: float | None, page: int | None) -> tuple:
    """Identity of a chunk's content and place (times to the millisecond: they went through floats)."""
    return (
        text,
        None if start is None else round(float(start), 3),
        None if end is None else round(float(end), 3),
        page,
    )


class SearchStore:
    """Owns the embedder and the vector index of one knowledge base (both loaded lazily, once)."""

    def __init__(
        self,
        config: Config,
        conn: sqlite3.Connection,
        embedder=None,
        embed_threads: int | None = None,
        *,
        finish_migrations: bool = True,
    ):
        """embed_threads: threads of the embedding engine (default: KB_THREADS, all cores).  A process that
        only searches passes KB_SEARCH_THREADS: measured in bench/latency.py, a 2-thread query embedding
        next to a running ingest has a p95 of ~1.9 s, a 1-thread one ~0.15 s.

        finish_migrations: a knowledge base made before the reading channel (migration 014, which SQL
        alone cannot fill) has its spoken passages read here, once, before this store searches or
        writes: every search and every index write goes through a store, so nothing runs on a
        half-filled reading index, and kb/ (which opens the database) needs nothing from search/.
        Readers over a read-only connection (``reader``) skip it: their parent store has done it."""
        if finish_migrations:
            from search import reading

            reading.fill_if_pending(conn)
        self.config = config
        self._embed_threads = embed_threads
        self.conn = conn
        self._embedder = embedder
        self._second = False  # not loaded yet; None = switched off
        self._index = None
        self._lock = threading.RLock()
        self._deferred = 0  # > 0 inside batch(): index saved once at the end
        self._unsaved: int | None = None
        self._stale: tuple[int, int] | None = None  # (generation, count) for stale_embeddings
        self._stale_of: SearchStore | None = None  # a reader: the store whose count it reports

    def reader(self, conn: sqlite3.Connection) -> "SearchStore":
        """A store over another connection that shares this one's loaded embedders and vector index.

        Why: each web thread searches through its own read-only connection (SQLite connections
        are not shared between concurrent queries), while the models and the index -- tens to
        thousands of megabytes, read-only during a search -- are loaded once per process.
        Searches only: writes go through this store itself."""
        other = SearchStore(
            self.config, conn, embedder=self.embedder, embed_threads=self._embed_threads, finish_migrations=False
        )
        other._second = self.second
        other._index = self.index
        other._stale_of = self
        return other

    @contextmanager
    def batch(self):
        """Defer index saves to the end of a batch (saving a large index per file would dominate ingest).

        A crash inside the batch leaves SQLite ahead of the saved index; the
        generation check then rebuilds the index from SQLite on the next open.
        The save at the end takes :func:`index_write_lock` (the caller must not hold it), so it
        never lands in the middle of another process's write."""
        with self._lock:
            self._deferred += 1
        try:
            yield self
        finally:
            with self._lock:
                self._deferred -= 1
                due = self._deferred == 0 and self._unsaved is not None
            if due:  # the file lock first, then this store's: the order every writer takes them in
                with index_write_lock(self.config), self._lock:
                    if self._deferred == 0 and self._unsaved is not None:
                        self.index.save(self._unsaved)
                        self._unsaved = None

    def _save(self, generation: int) -> None:
        if self._deferred:
            self._unsaved = generation
        else:
            self.index.save(generation)

    # -- lazily loaded parts -------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            from search.embedders import load_embedder

            self._embedder = load_embedder(
                self.config.get("embed_model"),
                threads=self._embed_threads or self.config.threads(),
                engine=self.config.get("embed_engine"),
            )
        return self._embedder

    @property
    def second(self):
        """The second embedder (None when switched off with second_embed_model = none)."""
        if self._second is False:
            spec = (self.config.get("second_embed_model") or "").strip()
            if spec.lower() in ("", "none", "off"):
                self._second = None
            else:
                from search.embedders import load_embedder

                self._second = load_embedder(spec, threads=1)
        return self._second

    @property
    def index(self):
        with self._lock:
            if self._index is None:
                self._index = self._open_index()
            return self._index

    def _open_index(self):
        from search.vector_index import VectorIndex

        emb = self.embedder
        count = self.conn.execute(
            "SELECT COUNT(*) FROM chunks WHERE embed_fingerprint = ?", (emb.fingerprint,)
        ).fetchone()[0]
        return VectorIndex.open(
            self.config.index_dir,
            dim=emb.dim,
            fingerprint=emb.fingerprint,
            generation=db.get_generation(self.conn),
            count=count,
            load_vectors=lambda: self._iter_vectors(emb.fingerprint, emb.dim),
            ann_threshold=self.config.get("ann_threshold"),
            threads=self.config.get("search_threads"),
        )

    def _iter_vectors(self, fingerprint: str, dim: int, batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Stored embeddings in id order, in batches, for rebuilding the index without re-embedding."""
        last = -1
        while True:
            rows = self.conn.execute(
                "SELECT id, embedding FROM chunks WHERE embed_fingerprint = ? AND id > ? ORDER BY id LIMIT ?",
                (fingerprint, last, batch),
            ).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
            last = int(ids[-1])
            yield ids, vecs

    # -- writes -----------------------------------------------------------------
    def embed_chunks(self, recording_id: int, chunks: Sequence[ChunkIn]) -> EmbeddedChunks:
        """The chunks with their vectors, ready for :meth:`write_chunks`.  Reads SQLite, writes nothing:
        call it outside any lock (it is the slow part of indexing a recording)."""
        title = self._title(recording_id)
        texts = [indexed_text(title, c.text) for c in chunks]
        vectors, vectors2 = self._embed(texts)
        second = self.second
        return EmbeddedChunks(
            recording_id,
            chunks,
            texts,
            vectors,
            vectors2,
            (self.embedder.fingerprint, second.fingerprint if second is not None else None),
        )

    def embedded(
        self, recording_id: int, chunks: Sequence[ChunkIn], vectors: np.ndarray, vectors2: np.ndarray | None
    ) -> EmbeddedChunks:
        """Chunks with vectors computed elsewhere (a transcription worker on another machine), for
        :meth:`write_chunks`.  The caller has checked that they come from this store's models."""
        title = self._title(recording_id)
        second = self.second
        return EmbeddedChunks(
            recording_id,
            chunks,
            [indexed_text(title, c.text) for c in chunks],
            vectors,
            vectors2,
            (self.embedder.fingerprint, second.fingerprint if second is not None else None),
        )

    def write_chunks(
        self,
        recording_id: int,
        chunks: Sequence[ChunkIn],
        *,
        in_transaction: Callable[[sqlite3.Connection], None] | None = None,
    ) -> list[int]:
        """Replace a recording's chunks everywhere: rows, both embeddings, lexical terms, vector index.

        ``chunks`` made by :meth:`embed_chunks` or :meth:`embedded` (for this recording, with this
        store's models) are written as they are; plain chunks are embedded here first.
        ``in_transaction(conn)``: the caller's own writes (e.g. the transcript and the job's end), in the
        same transaction, which takes the write lock first; it may raise to cancel everything."""
        from search import lexical

        emb, second = self.embedder, self.second
        ready = (
            isinstance(chunks, EmbeddedChunks)
            and chunks.recording_id == recording_id
            and chunks.fingerprints == (emb.fingerprint, second.fingerprint if second is not None else None)
        )
        if not ready:
            chunks = self.embed_chunks(recording_id, list(chunks))
        texts, vectors, vectors2 = chunks.texts, chunks.vectors, chunks.vectors2
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")  # the write lock before the caller's checks
            try:
                if in_transaction is not None:
                    in_transaction(self.conn)
                old_ids = [
                    r[0] for r in self.conn.execute("SELECT id FROM chunks WHERE recording_id = ?", (recording_id,))
                ]
                if old_ids:
                    lexical.delete_chunks(self.conn, old_ids)
                    self.conn.execute("DELETE FROM chunks WHERE recording_id = ?", (recording_id,))
                new_ids = []
                for i, c in enumerate(chunks):
                    v2 = vectors2[i].tobytes() if vectors2 is not None else None
                    cur = self.conn.execute(
                        "INSERT INTO chunks(recording_id, idx, text, start, end, page, embedding, embed_fingerprint,"
                        " embedding2, embed2_fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (
                            recording_id,
                            i,
                            c.text,
                            c.start,
                            c.end,
                            c.page,
                            vectors[i].tobytes(),
                            emb.fingerprint,
                            v2,
                            second.fingerprint if second is not None else None,
                        ),
                    )
                    new_ids.append(int(cur.lastrowid))
                lexical.add_chunks(self.conn, zip(new_ids, texts))
                generation = db.bump_generation(self.conn)
                self.conn.commit()
            except BaseException:
                self.conn.rollback()
                raise
            index = self.index
            if old_ids:
                index.remove(old_ids)
            if new_ids:
                index.add(np.asarray(new_ids, dtype=np.int64), vectors)
            self._save(generation)
        return new_ids

    def sync_chunks(
        self,
        recording_id: int,
        chunks: Sequence[ChunkIn],
        in_transaction: Callable[[sqlite3.Connection], None] | None = None,
    ) -> SyncReport:
        """Make a recording's chunks equal to ``chunks``, embedding only the chunks that are new.

        Why: a corrected transcript line changes one or two moments of a recording;
        embedding all of them again would make every save of the editor slow.  A
        chunk whose text and place (start, end, page) are unchanged keeps its id,
        its embeddings and its lexical row (only its position may change); removed
        chunks leave SQLite, the lexical and the vector index; new ones are embedded
        and added.  All SQLite changes, and ``in_transaction(conn)`` (the caller's own
        writes, e.g. the transcript and its history; it may raise to cancel
        everything), happen in one transaction that bumps the index generation.
        """
        from search import lexical

        rows = self.conn.execute(
            "SELECT id, idx, text, start, end, page FROM chunks WHERE recording_id = ?", (recording_id,)
        ).fetchall()
        old: dict[tuple, list[int]] = {}
        for r in rows:
            old.setdefault(_chunk_key(r["text"], r["start"], r["end"], r["page"]), []).append(r["id"])
        plan: list[int | None] = []  # per new chunk: the id it keeps, or None when it must be embedded
        for c in chunks:
            same = old.get(_chunk_key(c.text, c.start, c.end, c.page))
            plan.append(same.pop(0) if same else None)
        kept = {cid for cid in plan if cid is not None}
        removed = [r["id"] for r in rows if r["id"] not in kept]
        fresh = [n for n, cid in enumerate(plan) if cid is None]
        title = self._title(recording_id)
        texts = [indexed_text(title, chunks[n].text) for n in fresh]
        vectors, vectors2 = self._embed(texts)
        emb, second = self.embedder, self.second
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")  # take the write lock before the caller's checks
            try:
                if in_transaction is not None:
                    in_transaction(self.conn)
                if removed:
                    lexical.delete_chunks(self.conn, removed)
                    self.conn.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in removed])
                # kept chunks move out of the way first: (recording_id, idx) is unique
                self.conn.executemany("UPDATE chunks SET idx = ? WHERE id = ?", [(-1 - i, i) for i in kept])
                new_ids: list[int] = []
                for n, cid in enumerate(plan):
                    if cid is not None:
                        self.conn.execute("UPDATE chunks SET idx = ? WHERE id = ?", (n, cid))
                for m, n in enumerate(fresh):
                    c = chunks[n]
                    cur = self.conn.execute(
                        "INSERT INTO chunks(recording_id, idx, text, start, end, page, embedding, embed_fingerprint,"
                        " embedding2, embed2_fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (
                            recording_id,
                            n,
                            c.text,
                            c.start,
                            c.end,
                            c.page,
                            vectors[m].tobytes(),
                            emb.fingerprint,
                            vectors2[m].tobytes() if vectors2 is not None else None,
                            second.fingerprint if second is not None else None,
                        ),
                    )
                    new_ids.append(int(cur.lastrowid))
                lexical.add_chunks(self.conn, zip(new_ids, texts))
                generation = db.bump_generation(self.conn)
                self.conn.commit()
            except BaseException:
                self.conn.rollback()
                raise
            index = self.index
            if removed:
                index.remove(removed)
            if new_ids:
                index.add(np.asarray(new_ids, dtype=np.int64), vectors)
            self._save(generation)
        return SyncReport(
            kept=len(kept), added=len(new_ids), removed=len(removed), added_ids=new_ids, removed_ids=removed
        )

    def _title(self, recording_id: int) -> str:
        row = self.conn.execute("SELECT title FROM recordings WHERE id = ?", (recording_id,)).fetchone()
        return row[0] if row else ""

    def _embed(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        emb, second = self.embedder, self.second
        if not texts:
            return np.zeros((0, emb.dim), np.float32), None
        vectors = np.ascontiguousarray(emb.encode_passages(texts), dtype=np.float32)
        vectors2 = np.ascontiguousarray(second.encode_passages(texts), dtype=np.float32) if second is not None else None
        return vectors, vectors2

    def delete_recording(self, recording_id: int) -> int:
        """Remove a recording and its chunks from SQLite, the lexical and the vector index."""
        from search import lexical

        with self._lock:
            ids = [r[0] for r in self.conn.execute("SELECT id FROM chunks WHERE recording_id = ?", (recording_id,))]
            with self.conn:
                if ids:
                    lexical.delete_chunks(self.conn, ids)
                self.conn.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))
                generation = db.bump_generation(self.conn)
            index = self.index
            if ids:
                index.remove(ids)
            self._save(generation)
        return len(ids)

    def reindex(self, reembed: bool = False, progress=None, *, lock: bool = False) -> dict:
        """Rebuild the lexical and vector indexes from SQLite.

        Chunks whose stored vectors came from another model than the configured
        ones are embedded again; with reembed, every chunk is.  ``lock``: take
        :func:`index_write_lock` for the rebuild after the embedding (`kb reindex`); leave it False
        when the caller already holds it."""
        from contextlib import nullcontext

        from search import lexical

        emb, second = self.embedder, self.second
        fp2 = second.fingerprint if second is not None else None
        with self._lock:
            stale = self._count_stale()
            where = (
                ""
                if reembed
                else (
                    " WHERE c.embed_fingerprint IS NOT ? OR c.embedding IS NULL"
                    + (" OR c.embed2_fingerprint IS NOT ?" if second is not None else "")
                )
            )
            args = () if reembed else ((emb.fingerprint, fp2) if second is not None else (emb.fingerprint,))
            rows = self.conn.execute(INDEXED_ROWS_SQL + where + " ORDER BY c.id", args).fetchall()
            reembedded = 0
            for start in range(0, len(rows), 64):
                part = rows[start : start + 64]
                vecs, vecs2 = self._embed([r[1] for r in part])
                with self.conn:
                    self.conn.executemany(
                        "UPDATE chunks SET embedding = ?, embed_fingerprint = ?, embedding2 = ?, embed2_fingerprint = ?"
                        " WHERE id = ?",
                        [
                            (v.tobytes(), emb.fingerprint, vecs2[n].tobytes() if vecs2 is not None else None, fp2, r[0])
                            for n, (r, v) in enumerate(zip(part, vecs))
                        ],
                    )
                reembedded += len(part)
                if progress:
                    progress(reembedded, len(rows))
        with index_write_lock(self.config) if lock else nullcontext(), self._lock:
            with self.conn:
                lexical.rebuild(self.conn, rows=self.conn.execute(INDEXED_ROWS_SQL + " ORDER BY c.id"))
                db.bump_generation(self.conn)
            self._index = None
            _remove_index_files(self.config.index_dir)
            index = self.index  # rebuilt from SQLite by VectorIndex.open
        return {"chunks": len(index), "reembedded": reembedded, "stale_before": stale, "index_kind": index.kind}

    def _count_stale(self) -> int:
        sql = "SELECT COUNT(*) FROM chunks WHERE embed_fingerprint IS NOT ?"
        args: tuple = (self.embedder.fingerprint,)
        if self.second is not None:
            sql += " OR embed2_fingerprint IS NOT ?"
            args += (self.second.fingerprint,)
        return self.conn.execute(sql, args).fetchone()[0]

    def stale_embeddings(self) -> int:
        """Chunks whose stored vectors came from other models than the configured ones.

        Counted once per index generation (a full scan per search would dominate search time)."""
        if self._stale_of is not None and self._stale_of._stale is not None:
            return self._stale_of._stale[1]  # counted by the store that loaded this index (web.searching)
        generation = db.get_generation(self.conn)
        if self._stale is None or self._stale[0] != generation:
            self._stale = (generation, self._count_stale())
        return self._stale[1]

    # -- reads ------------------------------------------------------------------
    def embeddings_of(self, ids: Sequence[int], second: bool = False) -> np.ndarray:
        """Stored vectors of these chunks in the given order (zeros for unknown ids or other models' vectors)."""
        return self._stored_vectors(ids, (second,))[0]

    def embeddings_of_both(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Both embedders' stored vectors of these chunks (as two :meth:`embeddings_of` calls would give),
        read in one pass over the rows: a hybrid search needs both for the same candidates."""
        first, second = self._stored_vectors(ids, (False, True))
        return first, second

    _VECTOR_COLUMNS = {False: ("embedding", "embed_fingerprint"), True: ("embedding2", "embed2_fingerprint")}

    def _stored_vectors(self, ids: Sequence[int], which: Sequence[bool]) -> list[np.ndarray]:
        """For each of ``which`` (False: the embedder, True: the second one) the stored vectors of ``ids``."""
        models = [self.second if w else self.embedder for w in which]
        outs = [np.zeros((len(ids), m.dim), dtype=np.float32) for m in models]
        if not len(ids):
            return outs
        pos: dict[int, list[int]] = {}
        for n, i in enumerate(ids):
            pos.setdefault(int(i), []).append(n)
        columns = ", ".join(f"{col}, {fp} = ?" for col, fp in (self._VECTOR_COLUMNS[w] for w in which))
        sql = f"SELECT id, {columns} FROM chunks WHERE id IN ({','.join('?' * len(pos))})"
        for r in self.conn.execute(sql, [*(m.fingerprint for m in models), *pos]):
            for n, (model, out) in enumerate(zip(models, outs)):
                blob, same_model = r[1 + 2 * n], r[2 + 2 * n]
                if same_model and blob is not None and len(blob) == model.dim * 4:
                    out[pos[r[0]]] = np.frombuffer(blob, dtype=np.float32)
        return outs
