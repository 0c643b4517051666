"""The search models and index of a web process, loaded on the first search and shared by every thread.

Why loaded once: the embedders and the vector index take about a second and
tens to thousands of megabytes; doing it per request would make every search
slow.  Why lazily: page views that do not search (the recording page, browsing)
must never pay for it, nor import the search engine's heavy parts.

Why no lock around a search (issue 17): each waitress thread searches through
its own read-only SQLite connection (WAL mode: readers never wait for a writer)
and the shared, loaded index and embedders (FAISS searches concurrently under
the index's own read lock and lets go of the GIL, as do SQLite and the
embedding engines), so searches run side by side on every core.  Each search
uses one CPU thread for its query embedding and FAISS and one helper for its
lexical half (setting ``search_threads``): more threads per search would only
oversubscribe the cores when many search at once (docs/benchmarks.md).

Why a lock at all (``_swap``): only to replace the loaded index with a newer
generation, and to apply this process's own writes.  `kb ingest`, a worker or
another server process may add recordings while the server runs; the index
generation in SQLite changes with every write, and one thread then loads the
newer index (under the cross-process read lock, so never half-way through
another process's write) while the others go on searching the one they have.
A write from this process (a transcript save, a delete) waits for the
cross-process write lock -- a worker holds it only to apply a finished batch --
holding nothing a search needs (issue 16).
"""

from __future__ import annotations

import logging
import threading

from kb.settings import Config
from services.search import SearchRequest, filters_for

log = logging.getLogger(__name__)


class _Snapshot:
    """One loaded index generation: the store that loaded it (its own read-write connection, used for
    this process's writes) and the generation it matches (None: reload before trusting it)."""

    def __init__(self, store, generation: int | None):
        self.store = store
        self.generation = generation


class SearchService:
    """Concurrent, lock-free searches over a lazily loaded, shared :class:`search.store.SearchStore`."""

    def __init__(self, config: Config):
        self.config = config
        self._swap = threading.Lock()  # loading a generation, or this process writing; never a search
        self._snapshot: _Snapshot | None = None
        self._local = threading.local()  # per thread: read-only connection, helper thread, searcher
        self._conns: list = []  # every reader connection, closed by close()
        self._conns_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._snapshot is not None

    @property
    def generation(self) -> int | None:
        """The index generation loaded now (None: none yet)."""
        snap = self._snapshot
        return snap.generation if snap is not None else None

    # -- reading -----------------------------------------------------------------------
    def _thread_conn(self):
        """This thread's read-only connection to the knowledge base (opened once per thread)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            from kb import db

            conn = db.connect(self.config.db_path, query_only=True)
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def searcher(self):
        """This thread's :class:`search.engine.Searcher` over the newest loaded index generation."""
        from search.engine import Searcher

        snap = self._fresh_snapshot()
        local = self._local
        if getattr(local, "snapshot", None) is not snap:
            executor = getattr(local, "executor", None)
            if executor is None:
                from concurrent.futures import ThreadPoolExecutor

                executor = local.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lexical")
            local.searcher = Searcher(snap.store.reader(self._thread_conn()), executor=executor)
            local.snapshot = snap
        return local.searcher

    def _fresh_snapshot(self) -> _Snapshot:
        """The loaded generation; a newer one is loaded first when SQLite has moved on, unless another
        thread is already loading it or writing (this search then uses the one loaded: no waiting)."""
        from kb import db

        snap = self._snapshot
        if snap is not None:
            if snap.generation is not None and db.get_generation(self._thread_conn()) == snap.generation:
                return snap
            if not self._swap.acquire(blocking=False):
                return snap
        else:
            self._swap.acquire()  # the very first search: nothing to search yet but what is loading
        try:
            return self._load(write_locked=False)
        except Exception:
            if snap is None:
                raise
            # e.g. the index file being replaced under a crash-recovering writer: this search uses the
            # generation loaded (SQLite still filters out whatever was deleted); the next one retries.
            log.warning("could not load the newer search index; searching the loaded one", exc_info=True)
            return snap
        finally:
            self._swap.release()

    def _load(self, write_locked: bool) -> _Snapshot:
        """The snapshot, loaded anew unless it matches SQLite's generation.  Hold ``_swap``; with
        ``write_locked`` the caller holds the index write lock, else the read lock is taken here."""
        from contextlib import nullcontext

        from kb import db
        from search.store import SearchStore, index_read_lock

        old = self._snapshot
        if old is not None and old.generation is not None and db.get_generation(old.store.conn) == old.generation:
            return old
        conn = db.connect(self.config.db_path)
        try:
            store = SearchStore(
                self.config,
                conn,
                embedder=old.store.embedder if old is not None else None,
                embed_threads=self.config.get("search_threads") or 1,
            )
            with nullcontext() if write_locked else index_read_lock(self.config):
                generation = db.get_generation(conn)
                store.index  # noqa: B018 - load now, not in the middle of a search
            store.second  # noqa: B018
            store.stale_embeddings()  # counted once per generation here, for every reader
        except BaseException:
            conn.close()
            raise
        self._snapshot = _Snapshot(store, generation)
        if old is not None:
            old.store.conn.close()  # readers of the old generation read through their own connections
        return self._snapshot

    def warm(self) -> None:
        """Load the embedder and the index now (called in a background thread by `kb serve`)."""
        self.searcher().store.embedder.encode_queries(["warm up"])

    def search(self, req: SearchRequest, recording_ids: set[int] | None = None):
        """A :class:`search.engine.SearchResult` for the request, restricted to ``recording_ids``
        (what the asking user may see: kb.access.visible_recording_ids; None = everything)."""
        return self.searcher().search(
            req.query, limit=req.limit, mode=req.mode, filters=filters_for(req, recording_ids)
        )

    def with_searcher(self, use):
        """``use(searcher)`` with this thread's searcher, for callers that need more than :meth:`search`
        offers (search.teachers ranks meisters from ungrouped moments)."""
        return use(self.searcher())

    # -- writing -----------------------------------------------------------------------
    def write(self, change):
        """Run ``change(store)`` with this process's loaded search store (transcript edits, deletes).

        Why here: the store's embedders and vector index are already loaded, and the
        change updates that index in place (under the index's own write lock, for the
        moment of the update), so the next search sees it without reloading anything.
        The cross-process write lock is taken here, not by the callers; while this
        thread waits for it (a worker applying a batch), searches go on: they never
        take ``_swap`` while an index is loaded.  After a failure the store is reloaded
        from SQLite."""
        from kb import db
        from search.store import index_write_lock

        # This process's loading and writing first, then the cross-process lock (a worker may be writing
        # the index), then the store brought up to the generation in SQLite, so the save cannot drop
        # another writer's vectors.  Loading takes them in the same order: no deadlock.
        with self._swap, index_write_lock(self.config):
            snap = self._load(write_locked=True)
            try:
                result = change(snap.store)
            except BaseException:
                snap.generation = None  # reload on the next use: the index may be behind SQLite
                raise
            snap.generation = db.get_generation(snap.store.conn)
            snap.store.stale_embeddings()
            return result

    def close(self) -> None:
        with self._swap:
            if self._snapshot is not None:
                self._snapshot.store.conn.close()
                self._snapshot = None
        with self._conns_lock:
            for conn in self._conns:
                conn.close()  # check_same_thread=False: any thread may close them
            self._conns.clear()
        self._local = threading.local()
