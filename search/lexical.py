"""Lexical index: Japanese-aware terms in SQLite FTS5, scored by how much of the query a chunk contains.

Why this shape: Japanese has no spaces, so FTS5's ``unicode61`` tokenizer sees a
whole sentence as one token, and ``trigram`` can never match a two-character
word such as 旋盤 or 溶接.  Python therefore turns text into space-separated
terms and FTS5 only splits on the spaces:

* NFKC first (full-width ＡＢＣ１２３ and half-width ｶﾀｶﾅ become one form), lower case;
* runs of kanji/kana (digits included: 5月, 0.2ミリ) become overlapping character
  bigrams, what Lucene's CJK analyzer does: 旋盤加工 -> 旋盤 盤加 加工;
* each kanji of a run is also indexed on its own, so a one-character query
  (錆, 鋸) matches; a one-character run is indexed as itself;
* no stemming for Japanese and no dictionary: nothing to install, nothing
  to go stale, and new shop words (ルートギャップ, もらい錆) work on day one;
* Latin words are lower-cased, accents dropped (café = cafe), a plural "s" folded.

Search has two steps (measured in bench/quality.py, see bench/results/quality.json):

1. candidates: the query's terms (bigrams, Latin words, lone kanji such as 錆 in
   錆と傷), less pure-hiragana bigrams (のは, てい ...) and English stop words when
   it has others.  The rarest of them, up to MAX_POSTINGS postings in all, pick the
   k chunks with the most idf weight in one SQL statement (no bm25: it would score
   every matching row).  Common terms would make the search touch most rows (slow
   at 100k chunks) and add little evidence; they still count in the score.
2. score: bm25 has no fixed scale (it grows with the query's length and the
   corpus), which makes it hard to fuse with a cosine.  Each candidate is scored
   instead by its *coverage*: the idf-weighted share of all the query's terms it
   contains (2/3), plus the share of the query's character trigrams it contains
   as adjacent bigrams, i.e. copied phrases (1/3).  The score lies in [0, 1] on
   every corpus and every query, and a chunk that matches only generic words
   scores low.  Measured on JSQuAD it also ranks better than FTS5's bm25().  All candidates are
   scored at once in numpy (search/matching.py): a loop per passage held the GIL (issue 17).

The table is ``chunk_fts(terms)`` with rowid = chunks.id (migration 002).
The choice of bigrams over SudachiPy morphemes was measured too (same file).
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from search import reading

# Kanji (CJK unified + ext A + compatibility), the iteration mark 々 and 〆.
_KANJI = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005\u3006"
_HIRAGANA = "\u3041-\u309f"
_KATAKANA = "\u30a0-\u30ff\u31f0-\u31ff"  # includes the long-vowel mark ー
# Digits stay inside a kana/kanji run (5月, 2ミリ) because dates and sizes are strong clues;
# Latin words and bare numbers stand alone.
_LATIN = "a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"  # ASCII and accented Latin letters (not × ÷)
_TOKEN = re.compile(f"[{_KANJI}{_HIRAGANA}{_KATAKANA}0-9]+|[{_LATIN}][{_LATIN}0-9]*|[0-9]+")
_KANJI_CHAR = re.compile(f"[{_KANJI}]")
_LATIN_START = re.compile(f"[{_LATIN}]")
_HIRAGANA_ONLY = re.compile(f"^[{_HIRAGANA}]+$")
_STOP_WORDS = frozenset(
    "a an the to of in on at for and or is are was were be been do does did my your our how why what "
    "when where which who with by it its this that these from as i you we can should not no".split()
)

# Weights of the score: coverage of the query's terms and of its trigrams (phrases).
COVERAGE_WEIGHT = 2 / 3
PHRASE_WEIGHT = 1 / 3
# A passage needs at least this many of the query's content characters (see evidence_of) to score:
# a match on one common kanji (出, 削) alone is no evidence.  0 switches the rule off (benchmarks).
MIN_EVIDENCE = 2
# ... but it is a hint for the *order*: when the search page ranks (search_hits(weak_links=True)), a passage
# whose only link to the question is such a character (切 of 切れ in 「のこぎりで真っすぐ切れない原因」
# and 切り in the saw write-up) keeps this share of its score, counted with the question's verb and
# adjective stems as terms (see _stem_kanji).  It is flagged ``evident=False``: the relevance bar, the
# highlighting and "who can teach" never count it (search.engine sets its ``lex`` signal to 0).
# 0 switches the hint off (as after issue 13's first merge); measured in bench/calibrate.py.
WEAK_LINK = 0.5


def normalise(text: str) -> str:
    """NFKC + lower case: the one form both documents and queries are compared in."""
    return unicodedata.normalize("NFKC", text or "").lower()


def _latin_word(word: str) -> str:
    if not word.isascii():  # café -> cafe, Müller -> muller
        word = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    # Light stemming: fold a plural "s" (blisters -> blister) but keep "ss", short words and numbers.
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and not word[-2].isdigit():
        return word[:-1]
    return word


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Runs of the normalised text as (token, is_cjk_run)."""
    out = []
    for m in _TOKEN.finditer(normalise(text)):
        tok = m.group(0)
        out.append((tok, not (_LATIN_START.match(tok) or tok.isdigit())))
    return out


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_terms(text: str) -> str:
    """The terms string stored in chunk_fts.terms for a chunk's text.

    A run's bigrams are written in order and next to each other, so a trigram of
    the text shows up in the terms as two adjacent bigrams ("旋盤 盤加"): the
    phrase part of the score relies on that.
    """
    terms: list[str] = []
    for tok, cjk in _tokens(text):
        if cjk:
            terms.extend(_bigrams(tok))
            if len(tok) > 1:
                terms.extend(_KANJI_CHAR.findall(tok))
        else:
            terms.append(_latin_word(tok))
    return " ".join(terms)


def _is_common(term: str) -> bool:
    return term in _STOP_WORDS or (len(term) == 2 and bool(_HIRAGANA_ONLY.match(term)))


# Hiragana that can follow a one-character noun as a particle (錆と傷, 軸を, 刃の).  Any other
# hiragana after a lone kanji is taken as its ending (削る, 出る, 長い): the kanji is then the stem
# of a verb or adjective, whose evidence is the two-character term it forms with its ending.
_PARTICLES = frozenset("をがはにでとのへもやかよ")


def _lone_kanji(run: str) -> list[str]:
    """One-character words of a run: kanji standing alone between kana and followed by a particle or
    the end of the run (錆 and 傷 in 錆と傷, 軸 in 軸を), not verb or adjective stems (削 in 削る)."""
    out = []
    for i, ch in enumerate(run):
        if _KANJI_CHAR.match(ch) and not any(0 <= j < len(run) and _KANJI_CHAR.match(run[j]) for j in (i - 1, i + 1)):
            if i + 1 == len(run) or run[i + 1] in _PARTICLES:
                out.append(ch)
    return out


def _stem_kanji(run: str) -> list[str]:
    """The other lone kanji of a run: verb and adjective stems (削 of 削る, 切 of 切れ), which
    _lone_kanji leaves out.  Only the weak-link hint uses them (WEAK_LINK)."""
    words = set(_lone_kanji(run))
    return [
        ch
        for i, ch in enumerate(run)
        if _KANJI_CHAR.match(ch)
        and ch not in words
        and not any(0 <= j < len(run) and _KANJI_CHAR.match(run[j]) for j in (i - 1, i + 1))
    ]


def stem_terms(query: str) -> list[str]:
    """The question's verb and adjective stems that are not already among its query_terms."""
    terms = set(query_terms(query))
    out = [ch for tok, cjk in _tokens(query) if cjk and len(tok) > 1 for ch in _stem_kanji(tok)]
    return [t for t in dict.fromkeys(out) if t not in terms]


_CONTENT_CHAR = re.compile(f"[{_KANJI}{_KATAKANA}0-9]")


def evidence_of(terms: Iterable[str]) -> int:
    """How many distinct content characters the terms hold: kanji, katakana and digits count one
    each (hiragana none: particles and endings); a Latin word, and a one-character word of the
    question (錆 of 錆と傷, 軸 of 軸を: see _lone_kanji), count two, i.e. enough alone.

    Why: one common character shared by a question and a passage through a two-character term
    (出 of 出る, 削 of 削る) is not evidence that the passage answers it; two (旋盤, or 軸 and
    削る) are.  Used by the score and the highlighting."""
    chars: set[str] = set()
    for t in terms:
        chars.update(_evidence_keys(t))
    return len(chars)


def _evidence_keys(term: str) -> tuple[str, ...]:
    """What one term adds to evidence_of: its content characters, or two keys for a word that is enough alone."""
    if (_LATIN_START.match(term) and len(term) > 1) or (len(term) == 1 and _CONTENT_CHAR.match(term)):
        return (term, term + "\0")
    return tuple(_CONTENT_CHAR.findall(term))


def evidence_needed(terms: Sequence[str]) -> int:
    """The evidence a passage must show for the query terms: two characters, or all a shorter query has."""
    return min(MIN_EVIDENCE, evidence_of(terms))


def query_terms(query: str) -> list[str]:
    """Distinct terms a query is searched with, in order of appearance.

    Bigrams and Latin words, without pure-hiragana bigrams and English stop words
    (unless nothing else is left), plus lone kanji (one-character words);
    a one-character query is its own term.
    """
    terms: list[str] = []
    for tok, cjk in _tokens(query):
        if cjk:
            terms.extend(_bigrams(tok))
            if len(tok) > 1:
                terms.extend(_lone_kanji(tok))
        else:
            terms.append(_latin_word(tok))
    terms = list(dict.fromkeys(terms))
    content = [t for t in terms if not _is_common(t)]
    return content or terms


def _query_phrases(query: str) -> list[str]:
    """The query's character trigrams, written as the two adjacent bigrams they index as."""
    out: list[str] = []
    for tok, cjk in _tokens(query):
        if cjk:
            out.extend(f"{tok[i : i + 2]} {tok[i + 1 : i + 3]}" for i in range(len(tok) - 2))
    return list(dict.fromkeys(out))


def add_chunks(conn: sqlite3.Connection, rows: Iterable[tuple[int, str]]) -> int:
    """Index (chunk_id, text) rows; replaces any earlier entry of the same id.  Caller commits."""
    texts = [(int(cid), text) for cid, text in rows]
    rows = [(cid, index_terms(text)) for cid, text in texts]
    if not rows:
        return 0
    delete_chunks(conn, [cid for cid, _ in rows])
    conn.executemany("INSERT INTO chunk_fts(rowid, terms) VALUES (?, ?)", rows)
    count_terms(conn, [terms for _, terms in rows], +1)
    reading.add_chunks(conn, [(cid, text) for cid, text in texts])
    return len(rows)


def delete_chunks(conn: sqlite3.Connection, chunk_ids: Sequence[int]) -> None:
    """Remove chunks from the lexical index.  Caller commits."""
    ids = [int(c) for c in chunk_ids]
    reading.delete_chunks(conn, ids)
    old: list[str] = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ",".join("?" * len(part))
        old += [r[0] for r in conn.execute(f"SELECT terms FROM chunk_fts WHERE rowid IN ({marks})", part)]
    if not old:
        return
    conn.executemany("DELETE FROM chunk_fts WHERE rowid = ?", [(c,) for c in ids])
    count_terms(conn, old, -1)


def count_terms(conn: sqlite3.Connection, term_strings: Sequence[str], sign: int, table: str = "lexical_df") -> None:
    """Add (sign=+1) or take away (-1) these chunks' terms in lexical_df (or the reading channel's
    reading_df), and their number under ''."""
    counts = Counter()
    for terms in term_strings:
        counts.update(set(terms.split()))
    counts[""] = len(term_strings)
    conn.executemany(
        f"INSERT INTO {table}(term, df) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
        [(t, sign * c) for t, c in counts.items()],
    )
    if sign < 0:
        conn.executemany(f"DELETE FROM {table} WHERE term = ? AND df <= 0 AND term != ''", [(t,) for t in counts if t])


def rebuild(conn: sqlite3.Connection, batch: int = 2000, rows: sqlite3.Cursor | None = None) -> int:
    """Re-fill chunk_fts and lexical_df (after a change of analysis).  Returns the count.

    rows: a cursor over (chunk_id, indexed text); default the chunks' own text.  The store
    passes title + text (search.store.INDEXED_ROWS_SQL), what add_chunks was given."""
    cur = rows if rows is not None else conn.execute("SELECT id, text FROM chunks ORDER BY id")
    total = refill(conn, cur, index_terms, fts="chunk_fts", df="lexical_df", batch=batch)
    conn.execute("INSERT INTO chunk_fts(chunk_fts) VALUES ('optimize')")
    reading.rebuild(conn)
    return total


def refill(conn: sqlite3.Connection, rows: sqlite3.Cursor, analyse, *, fts: str, df: str, batch: int = 2000) -> int:
    """Empty the FTS table ``fts`` and its document-frequency table ``df``, then fill both from ``rows``
    ((chunk_id, text) pairs) analysed by ``analyse`` (text -> space-separated terms).  One loop for the
    character index and the reading index (search/reading.py).  Returns the count; caller commits."""
    conn.execute(f"DELETE FROM {fts}")
    conn.execute(f"DELETE FROM {df}")
    total = 0
    counts: Counter = Counter()
    while part := [(int(r[0]), analyse(r[1])) for r in rows.fetchmany(batch)]:
        conn.executemany(f"INSERT INTO {fts}(rowid, terms) VALUES (?, ?)", part)
        for _, terms in part:
            counts.update(set(terms.split()))
        total += len(part)
    counts[""] = total
    conn.executemany(f"INSERT INTO {df}(term, df) VALUES (?, ?)", counts.items())
    return total


# Candidate generation reads at most about this many postings (rows of the rarest query
# terms): it keeps a search over 100k chunks within a few milliseconds.  The rarest
# terms carry the most evidence; the others still count in the coverage score.
MAX_POSTINGS = 10_000


@dataclass(frozen=True)
class LexicalHit:
    chunk_id: int
    score: float  # COVERAGE_WEIGHT * coverage + PHRASE_WEIGHT * phrase, in [0, 1]
    coverage: float  # idf-weighted share of the query's terms the chunk contains
    phrase: float  # share of the query's character trigrams the chunk contains
    evident: bool = True  # False: only a weak link (one shared character), kept for the order alone (WEAK_LINK)


def doc_frequencies(
    conn: sqlite3.Connection, terms: Sequence[str], table: str = "lexical_df"
) -> tuple[dict[str, int], int]:
    """(chunks holding each term, chunks indexed), from lexical_df: one indexed lookup.

    The table is kept exact by add_chunks / delete_chunks / rebuild (migration 007);
    counting postings in FTS5 at search time took 170 ms a query at 1M chunks."""
    wanted = list(dict.fromkeys(terms)) + [""]
    marks = ",".join("?" * len(wanted))
    found = dict(conn.execute(f"SELECT term, df FROM {table} WHERE term IN ({marks})", wanted).fetchall())
    n = int(found.pop("", 0) or 0)
    return {t: max(0, int(found.get(t, 0))) for t in terms}, n


def visible_frequencies(
    conn: sqlite3.Connection, df: dict[str, int], n: int, within: Iterable[int], fts: str = "chunk_fts"
) -> tuple[dict[str, int], int]:
    """The same statistics counted over the chunks of the recordings ``within`` only.

    Why: with the whole index's counts, a score told whether a guessed word occurs in recordings
    the searcher cannot open (issue 16, defect 9).  The chunks outside are counted and taken away.
    How, and why so: the hidden chunks' ids are listed once and each query term's postings are
    checked against that list inside SQLite (a join to ``chunks`` per posting read the wide chunk
    rows: 0.8 s a search on the reading index at 100k chunks with a tenth hidden; now 0.18 s the first
    time).  Both are kept per knowledge base, index generation and visible set (:class:`HiddenCounts`),
    so the searches of one shift, who see the same recordings, count each term once."""
    import json

    scope = json.dumps(sorted({int(i) for i in within}))
    entry = HIDDEN.entry(conn, scope)
    hidden_n = entry.hidden_count(conn, fts, n)
    if not hidden_n:
        return df, n
    out = {}
    for t, count in df.items():
        if count > 0:
            count = max(0, count - entry.term_count(conn, fts, n, t))
        out[t] = count
    return out, max(0, n - hidden_n)


class HiddenCounts:
    """What :func:`visible_frequencies` counted, per knowledge base (its file), index generation and
    visible set: the hidden chunks' ids, how many of them each index holds, and how many hold each term.

    Why it is safe to keep: every write to the chunks and their terms bumps the index generation in
    its transaction (search.store), and a change of who sees what changes the visible set; an index's
    size is part of the key too (the reading index is filled once without a new generation), and so
    is the database file's inode (a restored backup).  An in-memory database keeps nothing.  Bounded:
    ``max_sets`` visible sets (the least recently used go), ``max_terms`` terms each."""

    def __init__(self, max_sets: int = 16, max_terms: int = 20_000):
        import threading
        from collections import OrderedDict

        self.max_sets, self.max_terms = max_sets, max_terms
        self._sets: OrderedDict[tuple, _HiddenSet] = OrderedDict()
        self._lock = threading.Lock()

    def entry(self, conn: sqlite3.Connection, scope: str) -> "_HiddenSet":
        import hashlib
        import os

        from kb import db

        path = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
        if not path:  # an in-memory database: nothing names it for a later search, so nothing is kept
            return _HiddenSet(conn, scope, self.max_terms)
        try:
            inode = os.stat(path).st_ino  # a restored or re-created file is another knowledge base
        except OSError:
            inode = 0
        digest = hashlib.blake2b(scope.encode(), digest_size=16).digest()
        key = (path, inode, db.get_generation(conn), digest)
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
                return found
        made = _HiddenSet(conn, scope, self.max_terms)  # outside the lock: other searches go on meanwhile
        with self._lock:
            found = self._sets.setdefault(key, made)
            self._sets.move_to_end(key)
            while len(self._sets) > self.max_sets:
                self._sets.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()


class _HiddenSet:
    def __init__(self, conn: sqlite3.Connection, scope: str, max_terms: int):
        import json

        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM chunks WHERE recording_id NOT IN (SELECT value FROM json_each(?)) ORDER BY id",
                (scope,),
            )
        ]
        self.ids = json.dumps(ids)
        self.count = len(ids)
        self.max_terms = max_terms
        self._per_index: dict[tuple[str, int], dict] = {}  # (fts, its size) -> {"n": hidden, "terms": {}}

    def _index(self, conn: sqlite3.Connection, fts: str, size: int) -> dict:
        found = self._per_index.get((fts, size))
        if found is None:
            if not self.count:
                hidden = 0
            elif fts == "chunk_fts":  # every chunk has its terms here
                hidden = self.count
            else:  # the reading index holds the spoken chunks only
                hidden = conn.execute(
                    f"SELECT count(*) FROM {fts} WHERE rowid IN (SELECT value FROM json_each(?))", (self.ids,)
                ).fetchone()[0]
            found = self._per_index.setdefault((fts, size), {"n": hidden, "terms": {}})
        return found

    def hidden_count(self, conn: sqlite3.Connection, fts: str, size: int) -> int:
        return self._index(conn, fts, size)["n"]

    def term_count(self, conn: sqlite3.Connection, fts: str, size: int, term: str) -> int:
        terms = self._index(conn, fts, size)["terms"]
        found = terms.get(term)
        if found is None:
            # the term's postings once (MATERIALIZED: not one index lookup per hidden id), each looked up
            # in the hidden ids, which SQLite holds as a temporary index for the statement
            found = conn.execute(
                f"WITH m AS MATERIALIZED (SELECT rowid AS r FROM {fts} WHERE {fts} MATCH ?) "
                "SELECT count(*) FROM m WHERE r IN (SELECT value FROM json_each(?))",
                ('"' + term.replace('"', '""') + '"', self.ids),
            ).fetchone()[0]
            if len(terms) >= self.max_terms:
                terms.clear()
            terms[term] = found
        return found


HIDDEN = HiddenCounts()


def idf(df: int, n: int) -> float:
    # The idf FTS5's bm25 uses, floored so that a term in most chunks still counts a little.
    return max(0.05, math.log((n - df + 0.5) / (df + 0.5)))


def select_terms(df: dict[str, int], max_postings: int) -> list[str]:
    """The rarest present terms whose postings add up to max_postings (the rarest one always)."""
    chosen, total = [], 0
    for t in sorted((t for t in df if df[t] > 0), key=lambda t: df[t]):
        if chosen and total + df[t] > max_postings:
            break
        chosen.append(t)
        total += df[t]
    return chosen


def candidates(conn: sqlite3.Connection, weights: dict[str, float], k: int, fts: str = "chunk_fts") -> list[int]:
    """Top k rowids by the summed weight of the given terms they contain (all in SQL)."""
    parts = " UNION ALL ".join(f"SELECT rowid, ? AS w FROM {fts} WHERE {fts} MATCH ?" for _ in weights)
    args: list = []
    for t, w in weights.items():
        args += [w, '"' + t.replace('"', '""') + '"']
    sql = f"SELECT rowid FROM ({parts}) GROUP BY rowid ORDER BY sum(w) DESC, rowid LIMIT ?"
    return [int(r[0]) for r in conn.execute(sql, args + [int(k)])]


def search_hits(
    conn: sqlite3.Connection,
    query: str,
    k: int = 100,
    max_postings: int = MAX_POSTINGS,
    within: Iterable[int] | None = None,
    reading_match: bool = False,
    weak_links: bool = False,
) -> list[LexicalHit]:
    """Best k chunks for a query with the parts of their score, best first.

    ``within``: the recordings the searcher may see (None: all); the term statistics are then theirs alone,
    so a score says nothing about the others.  Chunks outside may still be among the candidates (the
    caller filters them).
    ``reading_match``: spoken passages are also matched on the question's reading (search/reading.py);
    a passage keeps the better of its character and its reading score.
    ``weak_links``: also the passages whose only link is one shared character, at WEAK_LINK of their
    score and flagged ``evident=False`` (for ranking only; see WEAK_LINK)."""
    hits = _character_hits(conn, query, k, max_postings, within, weak_links)
    if not reading_match:
        return hits
    spoken = reading.search_hits(conn, query, k, max_postings, within)
    if not spoken:
        return hits
    best = {h.chunk_id: h for h in hits}
    for h in spoken:
        if h.chunk_id not in best or h.score > best[h.chunk_id].score or not best[h.chunk_id].evident:
            best[h.chunk_id] = h
    return sorted(best.values(), key=lambda h: -h.score)[:k]


def _character_hits(
    conn: sqlite3.Connection,
    query: str,
    k: int,
    max_postings: int,
    within: Iterable[int] | None,
    weak_links: bool = False,
) -> list[LexicalHit]:
    terms = query_terms(query)
    if not terms or k <= 0:
        return []
    weak = WEAK_LINK if weak_links and MIN_EVIDENCE else 0.0
    stems = stem_terms(query) if weak else []
    df, indexed = doc_frequencies(conn, terms + stems)
    if within is not None:
        df, indexed = visible_frequencies(conn, df, indexed, within)
    n = max(indexed, max(df.values()))
    weight = {t: idf(df[t], n) for t in terms}
    stem_weight = {t: idf(df[t], n) for t in stems}
    selected = select_terms(df, max_postings)
    if not selected:
        return []
    rowids = candidates(conn, {t: weight.get(t) or stem_weight[t] for t in selected}, k)
    if not rowids:
        return []
    return _score(conn, rowids, terms, weight, stem_weight, _query_phrases(query), weak)


def _score(conn, rowids, terms, weight, stem_weight, phrases, weak) -> list[LexicalHit]:
    """Score the candidates, all at once (search/matching.py: the per-passage Python loop held the GIL).

    A passage's coverage is the idf-weighted share of the query's terms it holds, its phrase part the
    share of the query's trigrams it holds as adjacent bigrams.  Without evidence (evidence_of) it is
    dropped, or with ``weak`` kept as a weak link: its stems count too and the score is cut to ``weak``."""
    import numpy as np

    from search import matching

    stems = list(stem_weight)
    parts = [(p[:2], p[3:]) for p in phrases]
    vocab = list(dict.fromkeys([*terms, *stems, *(t for pair in parts for t in pair)]))
    column = {t: j for j, t in enumerate(vocab)}
    held, adjacent = matching.presence(
        matching.stored_terms(conn, rowids, "chunk_fts"), vocab, [(column[a], column[b]) for a, b in parts]
    )
    term_held = held[:, : len(terms)]
    covered = matching.ordered_sums(term_held, [weight[t] for t in terms])
    total = sum(weight.values())
    evident = np.ones(len(rowids), dtype=bool)
    needed = evidence_needed(terms)
    if needed:
        of_term = [_evidence_keys(t) for t in terms]
        keys = list(dict.fromkeys(key for found in of_term for key in found))
        has_key = np.array([[key in found for key in keys] for found in of_term], dtype=bool)
        evident = np.count_nonzero(term_held @ has_key, axis=1) >= needed
    coverage = covered / total
    keep = evident
    if weak:  # a weak link: its stems count too, and the score is cut to WEAK_LINK of it
        stem_covered = matching.ordered_sums(held[:, len(terms) : len(terms) + len(stems)], list(stem_weight.values()))
        linked = (covered + stem_covered) / (total + sum(stem_weight.values()))
        coverage = np.where(evident, coverage, linked)
        keep = evident | (linked != 0)
    phrase = np.count_nonzero(adjacent, axis=1) / len(phrases) if phrases else coverage
    score = COVERAGE_WEIGHT * coverage + PHRASE_WEIGHT * phrase
    score = np.where(evident, score, weak * score)
    kept = np.flatnonzero(keep)
    kept = kept[np.argsort(-score[kept], kind="stable")]  # stable: equal scores keep the candidate order
    return [
        LexicalHit(rowids[i], float(score[i]), float(coverage[i]), float(phrase[i]), bool(evident[i]))
        for i in kept.tolist()
    ]


def search(
    conn: sqlite3.Connection, query: str, k: int = 100, within: Iterable[int] | None = None, reading_match: bool = False
) -> list[tuple[int, float]]:
    """Best k chunks for a query as (chunk_id, score), best first; score in [0, 1], higher = better."""
    return [(h.chunk_id, h.score) for h in search_hits(conn, query, k, within=within, reading_match=reading_match)]


_CONTENT_RUN = re.compile(f"[{_KANJI}0-9]+|[{_KATAKANA}]{{2,}}")


def _highlight_pieces(tok: str) -> list[str]:
    """Content words inside a Japanese run: runs of two or more kanji (or digits) and katakana words,
    a lone kanji with its first kana when that is an ending (抑え of 抑える), a lone kanji followed by
    a particle or nothing on its own (軸 of 軸を): never a verb stem alone (出 of 出る)."""
    out = []
    for m in _CONTENT_RUN.finditer(tok):
        piece, end = m.group(0), m.end()
        if piece.isdigit():
            continue
        if len(piece) > 1:
            out.append(piece)
        elif end == len(tok) or tok[end] in _PARTICLES:
            out.append(piece)
        elif _HIRAGANA_ONLY.match(tok[end]):
            out.append(piece + tok[end])
    return out


def highlight_terms(query: str) -> list[str]:
    """Surface strings to mark in a snippet, longest first, stop words left out.

    Whole runs so that 旋盤加工 is marked as one piece, and, inside a Japanese
    question's run, its content words (_highlight_pieces): 旋盤のびびりを抑えるには as a
    whole appears nowhere, but 旋盤 and 抑え do.  Hiragana-only pieces are left out
    (mostly particles and endings: marking を or には everywhere is noise), and so is a
    verb stem alone (出 of 出る).  search.engine.mark also marks nothing in a passage
    that shares only one content character with the question (lexical.evidence_of)."""
    seen: dict[str, None] = {}
    for tok, cjk in _tokens(query):
        if tok in _STOP_WORDS:
            continue
        seen.setdefault(tok, None)
        if cjk:
            for piece in _highlight_pieces(tok):
                seen.setdefault(piece, None)
    return sorted(seen, key=len, reverse=True)
