"""One Searcher per web process, loaded on the first search and reused by every request after it.

Why: loading the embedder and the vector index takes about a second and tens
of megabytes; doing it per request would make every search slow.  Why lazily:
page views that do not search (the recording page, browsing) must never pay for
it, nor import the search engine's heavy parts.  Why a lock: the Searcher
reads through one SQLite connection and one index object, which are not meant
for several threads at once, so waitress's worker threads take turns (a search
is tens of milliseconds of mostly native, single-threaded work on a 2-core
machine; page views run in parallel with it, each on its own connection).
Why the generation check: `kb ingest` or a worker in another process may add
recordings while the server runs; the index generation in SQLite changes with
every write, and the store is then reopened (same embedder, fresh index), so
new recordings become searchable without a restart.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from kb.settings import Config


@dataclass
class SearchRequest:
    query: str
    limit: int = 10
    mode: str = "hybrid"
    technique: str | None = None
    meister: str | None = None
    kind: str | None = None
    language: str | None = None
    tags: list[str] = field(default_factory=list)

    def filters_json(self) -> dict:
        return {"technique": self.technique, "meister": self.meister, "kind": self.kind,
                "language": self.language, "tags": list(self.tags)}

    @property
    def has_filters(self) -> bool:
        return any((self.technique, self.meister, self.kind, self.language, self.tags))


class SearchService:
    """Thread-safe access to a lazily created :class:`search.engine.Searcher`."""

    def __init__(self, config: Config):
        self.config = config
        self._lock = threading.Lock()
        self._searcher = None
        self._generation: int | None = None

    @property
    def loaded(self) -> bool:
        return self._searcher is not None

    def _current(self):
        """The Searcher, (re)opened when missing or when the index generation moved on.  Hold the lock."""
        from kb import db

        if self._searcher is not None:
            generation = db.get_generation(self._searcher.conn)
            if generation == self._generation:
                return self._searcher
            embedder = self._searcher.store.embedder
            self._searcher.conn.close()
        else:
            embedder = None
        from search.engine import Searcher
        from search.store import SearchStore

        conn = db.connect(self.config.db_path)
        store = SearchStore(self.config, conn, embedder=embedder,
                            embed_threads=int(self.config.get("search_threads") or 1))
        self._generation = db.get_generation(conn)
        store.index  # noqa: B018 - load now, inside the lock, not in the middle of a search
        self._searcher = Searcher(store)
        return self._searcher

    def warm(self) -> None:
        """Load the embedder and the index now (called in a background thread by `kb serve`)."""
        with self._lock:
            self._current().store.embedder.encode_queries(["warm up"])

    def search(self, req: SearchRequest, recording_ids: set[int] | None = None):
        """A :class:`search.engine.SearchResult` for the request, restricted to ``recording_ids``
        (what the asking user may see: kb.access.visible_recording_ids; None = everything)."""
        from search.engine import Filters

        filters = Filters(technique=req.technique, meister=req.meister, kind=req.kind,
                          language=req.language, tags=list(req.tags), recording_ids=recording_ids)
        with self._lock:
            return self._current().search(req.query, limit=req.limit, mode=req.mode, filters=filters)

    def with_searcher(self, use):
        """``use(searcher)`` under the lock, for callers that need more than :meth:`search` offers
        (search.teachers ranks meisters from ungrouped moments)."""
        with self._lock:
            return use(self._current())

    def write(self, change):
        """Run ``change(store)`` with this process's search store, under the lock (transcript edits).

        Why here: the store's embedders and vector index are already loaded, and the
        change updates that index in place, so the next search sees it without
        reopening anything.  After a failure the store is reopened from SQLite."""
        from ingest.stages import index_write_lock
        from kb import db

        # The cross-process lock first (a worker may be writing the index), then this store brought
        # up to the generation in SQLite, so the save cannot drop another writer's vectors.
        with self._lock, index_write_lock(self.config):
            searcher = self._current()
            try:
                result = change(searcher.store)
            except BaseException:
                self._generation = None  # reopen on the next use: the index may be behind SQLite
                raise
            self._generation = db.get_generation(searcher.conn)
            return result

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.conn.close()
                self._searcher = None
