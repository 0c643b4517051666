"""Hybrid search: lexical (FTS5) + dense (FAISS) candidates, fused, filtered, grouped by recording.

Why grouped: a long video yields dozens of moments; an apprentice wants the
list to show different recordings, each at its best moment, with the other
matching moments of the same recording attached rather than flooding the list.
Only recordings whose processing is done are ever returned, so a recording is
never searchable half-indexed.
"""
from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from kb import recordings
from search.store import SearchStore

MODES = ("hybrid", "lexical", "dense")


@dataclass
class Filters:
    technique: str | None = None
    meister: str | None = None
    kind: str | None = None
    language: str | None = None
    tags: list[str] = field(default_factory=list)
    recording_ids: set[int] | None = None  # restrict to these (e.g. what a user may see)

    def matches(self, rec: dict) -> bool:
        if self.technique and rec.get("technique") != self.technique:
            return False
        if self.meister and rec.get("meister") != self.meister:
            return False
        if self.kind and rec.get("kind") != self.kind:
            return False
        if self.language and rec.get("language") != self.language:
            return False
        if self.tags and not set(self.tags) <= set(rec.get("tags") or []):
            return False
        if self.recording_ids is not None and rec["id"] not in self.recording_ids:
            return False
        return True


@dataclass
class Moment:
    chunk_id: int
    start: float | None
    end: float | None
    page: int | None
    score: float


@dataclass
class Hit:
    recording_id: int
    title: str
    kind: str
    meister: str | None
    technique: str | None
    start: float | None
    end: float | None
    page: int | None
    text: str
    marked: str  # HTML-escaped text with <mark> around matching parts
    score: float
    link: str
    chunk_id: int
    more: list[Moment] = field(default_factory=list)  # other matching moments of the same recording

    def to_json(self) -> dict:
        d = asdict(self)
        d["more"] = [asdict(m) for m in self.more]
        return d


@dataclass
class SearchResult:
    query: str
    mode: str
    hits: list[Hit]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"query": self.query, "mode": self.mode, "hits": [h.to_json() for h in self.hits],
                "warnings": self.warnings}


def link_for(recording_id: int, start: float | None, page: int | None = None) -> str:
    if start is not None:
        return f"/r/{recording_id}?t={int(start)}"
    if page is not None:
        return f"/r/{recording_id}?page={page}"
    return f"/r/{recording_id}"


def mark(text: str, terms: Sequence[str]) -> str:
    """HTML-escape text and wrap every occurrence of the terms in <mark> (longest first, case-insensitive)."""
    terms = sorted({t for t in terms if t and t.strip()}, key=len, reverse=True)
    if not terms:
        return html.escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(html.escape(text[last:m.start()]))
        out.append("<mark>" + html.escape(m.group(0)) + "</mark>")
        last = m.end()
    out.append(html.escape(text[last:]))
    # adjacent marks read as one
    return "".join(out).replace("</mark><mark>", "")


class Searcher:
    """Answers queries over one knowledge base; reuses the loaded embedder and index across calls."""

    candidates = 100  # per retriever, before fusion and grouping

    def __init__(self, store: SearchStore):
        self.store = store

    @property
    def conn(self):
        return self.store.conn

    def search(self, query: str, limit: int = 10, mode: str = "hybrid", filters: Filters | None = None,
               group: bool = True, query_vector: np.ndarray | None = None) -> SearchResult:
        """Rank recordings' moments for a query.  query_vector: a precomputed query embedding (batch evaluation)."""
        from search import fusion, lexical

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        query = (query or "").strip()
        result = SearchResult(query=query, mode=mode, hits=[])
        if not query:
            return result
        filters = filters or Filters()
        k = self.candidates * (3 if (filters != Filters()) else 1)

        lex: list[tuple[int, float]] = []
        dense: list[tuple[int, float]] = []
        qvec = None
        if mode in ("hybrid", "lexical"):
            lex = lexical.search(self.conn, query, k=k)
        if mode in ("hybrid", "dense"):
            qvec = (self.store.embedder.encode_queries([query]) if query_vector is None
                    else np.asarray(query_vector, dtype=np.float32).reshape(1, -1))
            index = self.store.index
            if len(index):
                scores, ids = index.search(qvec, min(k, len(index)))
                dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        if mode == "hybrid":
            def dense_score_of(ids: Sequence[int]) -> np.ndarray:
                return self.store.embeddings_of(list(ids)) @ qvec[0]

            second_score_of = None
            if self.store.second is not None:
                q2 = self.store.second.encode_queries([query])[0]

                def second_score_of(ids: Sequence[int]) -> np.ndarray:
                    return self.store.embeddings_of(list(ids), second=True) @ q2

            ranked = fusion.hybrid_rank(query, lex, dense, dense_score_of, limit=k, second_score_of=second_score_of)
        else:
            ranked = lex if mode == "lexical" else dense

        hits = self._assemble(ranked, limit, filters, group, lexical.highlight_terms(query))
        result.hits = hits
        stale = self.store.stale_embeddings() if mode != "lexical" else 0
        if stale:
            result.warnings.append(
                f"{stale} chunks were embedded with another model than the configured one; "
                f"run `kb reindex --reembed` so dense search sees them")
        return result

    def _assemble(self, ranked: list[tuple[int, float]], limit: int, filters: Filters, group: bool,
                  terms: list[str]) -> list[Hit]:
        if not ranked:
            return []
        ids = [cid for cid, _ in ranked]
        marks = ",".join("?" * len(ids))
        rows = {r["id"]: r for r in self.conn.execute(
            f"SELECT id, recording_id, text, start, end, page FROM chunks WHERE id IN ({marks})", ids)}
        recs = recordings.get_many(self.conn, {r["recording_id"] for r in rows.values()})
        hits: list[Hit] = []
        by_rec: dict[int, Hit] = {}
        for cid, score in ranked:
            row = rows.get(cid)
            if row is None:
                continue  # index entry of a chunk deleted meanwhile
            rec = recs.get(row["recording_id"])
            if rec is None or rec["status"] != "done" or not filters.matches(rec):
                continue
            if group and rec["id"] in by_rec:
                by_rec[rec["id"]].more.append(Moment(cid, row["start"], row["end"], row["page"], float(score)))
                continue
            if len(hits) >= limit:
                continue
            hit = Hit(
                recording_id=rec["id"], title=rec["title"], kind=rec["kind"], meister=rec.get("meister"),
                technique=rec.get("technique"), start=row["start"], end=row["end"], page=row["page"],
                text=row["text"], marked=mark(row["text"], terms), score=float(score),
                link=link_for(rec["id"], row["start"], row["page"]), chunk_id=cid,
            )
            hits.append(hit)
            by_rec[rec["id"]] = hit
        return hits
