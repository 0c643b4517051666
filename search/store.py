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
from typing import Iterator, Sequence

import numpy as np

from kb import db
from kb.settings import Config


@dataclass
class ChunkIn:
    text: str
    start: float | None = None
    end: float | None = None
    page: int | None = None


class SearchStore:
    """Owns the embedder and the vector index of one knowledge base (both loaded lazily, once)."""

    def __init__(self, config: Config, conn: sqlite3.Connection, embedder=None):
        self.config = config
        self.conn = conn
        self._embedder = embedder
        self._index = None
        self._lock = threading.RLock()
        self._deferred = 0          # > 0 inside batch(): index saved once at the end
        self._unsaved: int | None = None
        self._stale: tuple[int, int] | None = None  # (generation, count) for stale_embeddings

    @contextmanager
    def batch(self):
        """Defer index saves to the end of a batch (saving a large index per file would dominate ingest).

        A crash inside the batch leaves SQLite ahead of the saved index; the
        generation check then rebuilds the index from SQLite on the next open."""
        with self._lock:
            self._deferred += 1
        try:
            yield self
        finally:
            with self._lock:
                self._deferred -= 1
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

            self._embedder = load_embedder(self.config.get("embed_model"), threads=self.config.threads())
        return self._embedder

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
        search_threads = self.config.get("search_threads")
        return VectorIndex.open(
            self.config.index_dir, dim=emb.dim, fingerprint=emb.fingerprint,
            generation=db.get_generation(self.conn), count=count,
            load_vectors=lambda: self._iter_vectors(emb.fingerprint, emb.dim),
            ann_threshold=self.config.get_int("ann_threshold"),
            threads=int(search_threads) if search_threads else None,
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
    def write_chunks(self, recording_id: int, chunks: Sequence[ChunkIn], vectors: np.ndarray | None = None) -> list[int]:
        """Replace a recording's chunks everywhere.  Embeds them unless vectors are given."""
        from search import lexical

        emb = self.embedder
        if vectors is None:
            vectors = emb.encode_passages([c.text for c in chunks]) if chunks else np.zeros((0, emb.dim), np.float32)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            old_ids = [r[0] for r in self.conn.execute("SELECT id FROM chunks WHERE recording_id = ?", (recording_id,))]
            with self.conn:
                if old_ids:
                    lexical.delete_chunks(self.conn, old_ids)
                    self.conn.execute("DELETE FROM chunks WHERE recording_id = ?", (recording_id,))
                new_ids = []
                for i, (c, v) in enumerate(zip(chunks, vectors)):
                    cur = self.conn.execute(
                        "INSERT INTO chunks(recording_id, idx, text, start, end, page, embedding, embed_fingerprint)"
                        " VALUES (?,?,?,?,?,?,?,?)",
                        (recording_id, i, c.text, c.start, c.end, c.page, v.tobytes(), emb.fingerprint),
                    )
                    new_ids.append(int(cur.lastrowid))
                lexical.add_chunks(self.conn, zip(new_ids, (c.text for c in chunks)))
                generation = db.bump_generation(self.conn)
            index = self.index
            if old_ids:
                index.remove(old_ids)
            if new_ids:
                index.add(np.asarray(new_ids, dtype=np.int64), vectors)
            self._save(generation)
        return new_ids

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

    def reindex(self, reembed: bool = False, progress=None) -> dict:
        """Rebuild the lexical and vector indexes from SQLite; with reembed, embed every chunk again first."""
        import shutil

        from search import lexical

        emb = self.embedder
        with self._lock:
            stale = self.conn.execute(
                "SELECT COUNT(*) FROM chunks WHERE embed_fingerprint IS NOT ? OR embedding IS NULL", (emb.fingerprint,)
            ).fetchone()[0]
            todo = "SELECT id, text FROM chunks" + ("" if reembed else " WHERE embed_fingerprint IS NOT ? OR embedding IS NULL")
            args = () if reembed else (emb.fingerprint,)
            rows = self.conn.execute(todo, args).fetchall()
            reembedded = 0
            for start in range(0, len(rows), 64):
                part = rows[start:start + 64]
                vecs = emb.encode_passages([r["text"] for r in part])
                with self.conn:
                    self.conn.executemany(
                        "UPDATE chunks SET embedding = ?, embed_fingerprint = ? WHERE id = ?",
                        [(v.tobytes(), emb.fingerprint, r["id"]) for r, v in zip(part, vecs)],
                    )
                reembedded += len(part)
                if progress:
                    progress(reembedded, len(rows))
            with self.conn:
                lexical.rebuild(self.conn)
                db.bump_generation(self.conn)
            self._index = None
            shutil.rmtree(self.config.index_dir, ignore_errors=True)
            index = self.index  # rebuilt from SQLite by VectorIndex.open
        return {"chunks": len(index), "reembedded": reembedded, "stale_before": stale, "index_kind": index.kind}

    def stale_embeddings(self) -> int:
        """Chunks whose stored vector came from another embedder than the configured one.

        Counted once per index generation (a full scan per search would dominate search time)."""
        generation = db.get_generation(self.conn)
        if self._stale is None or self._stale[0] != generation:
            count = self.conn.execute(
                "SELECT COUNT(*) FROM chunks WHERE embed_fingerprint IS NOT ?", (self.embedder.fingerprint,)
            ).fetchone()[0]
            self._stale = (generation, count)
        return self._stale[1]

    # -- reads ------------------------------------------------------------------
    def embeddings_of(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of these chunks, in the given order (zeros for unknown ids)."""
        dim = self.embedder.dim
        out = np.zeros((len(ids), dim), dtype=np.float32)
        if not ids:
            return out
        pos = {int(i): n for n, i in enumerate(ids)}
        marks = ",".join("?" * len(pos))
        for r in self.conn.execute(f"SELECT id, embedding FROM chunks WHERE id IN ({marks})", list(pos)):
            if r[1] is not None and len(r[1]) == dim * 4:
                out[pos[r[0]]] = np.frombuffer(r[1], dtype=np.float32)
        return out
