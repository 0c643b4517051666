"""Which of a question's terms and phrases each candidate passage holds: all candidates at once, in numpy.

Why: the word search (search/lexical.py) and the reading search (search/reading.py) used to score their
candidates one by one in Python: split each passage's stored terms into a set, test every term and
every phrase of the question against it.  That held the GIL for most of a word search's own time
(30 ms of CPU a search over 10k chunks, 300 candidates per channel), and one process runs such work
one thread at a time however many searches it serves (issue 17, docs/benchmarks.md).  Here the
stored terms of all candidates are read as UTF-8 bytes (no decoding into str), cut at the spaces and
looked up in the question's vocabulary with array operations, so the Python work per search no
longer grows with the candidates' length.

Exact, not approximate: a stored terms string is index_terms' output, terms joined by single spaces.
A term of up to 8 bytes (every Japanese term: a bigram or a kanji is at most 6) is compared as its
bytes packed into one integer, a longer one (a Latin word or number over 8 letters) byte by byte.
So a passage holds a term exactly when ``term in text.split()``, and a phrase "AB BC" exactly when
``" AB BC "`` is in ``f" {text} "``: the tests compare every hit with the loops this replaced.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence

# _MASK[n]: the first n bytes of a little-endian 8-byte word, i.e. a term of n bytes packed (0: none,
# 9: a term too long to pack, compared byte by byte).
_MASK = [(1 << (8 * n)) - 1 for n in range(9)] + [0]
_EMPTY = (1 << 64) - 1  # no term's packed key: 0xff bytes never occur in UTF-8
_MULTIPLIER = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)


def stored_terms(conn: sqlite3.Connection, rowids: Sequence[int], fts: str) -> list[bytes]:
    """The stored terms of these rows of ``fts`` (chunk_fts, chunk_reading), as UTF-8 bytes, in order."""
    marks = ",".join("?" * len(rowids))
    sql = f"SELECT rowid, CAST(terms AS BLOB) FROM {fts} WHERE rowid IN ({marks})"
    stored = dict(conn.execute(sql, list(rowids)))
    return [stored.get(r) or b"" for r in rowids]


def _lookup_table(keys: list[int]):
    """(multiplier, shift, table): table[(key * multiplier) >> shift] is 1 + the index of each of these
    keys in the list, 0 elsewhere, with no two keys in one slot; None when no multiplier separates them."""
    import numpy as np

    bits = max(8, (4 * len(keys)).bit_length() + 2)
    for multiplier in _MULTIPLIER:
        slots = [((key * multiplier) & _EMPTY) >> (64 - bits) for key in keys]
        if len(set(slots)) == len(slots):
            table = np.zeros(1 << bits, dtype=np.int64)
            table[slots] = np.arange(1, len(keys) + 1)
            return np.uint64(multiplier), np.uint64(64 - bits), table
    return None


def presence(texts: Sequence[bytes], vocab: Sequence[str], pairs: Sequence[tuple[int, int]]):
    """(held, adjacent): boolean arrays, held[i, j] when texts[i] holds the term vocab[j], adjacent[i, p]
    when it holds vocab[a] immediately followed by vocab[b], for pairs[p] = (a, b).  vocab: distinct
    non-empty terms."""
    import numpy as np

    n, v = len(texts), len(vocab)
    held = np.zeros((n, v), dtype=bool)
    adjacent = np.zeros((n, len(pairs)), dtype=bool)
    if not n or not v:
        return held, adjacent
    raw = b" ".join([*texts, bytes(8)])  # a space ends the last term; 8 bytes more for the packed reads
    buf = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(buf[: len(raw) - 8] == 32)
    starts = np.empty_like(ends)
    starts[0] = 0
    np.add(ends[:-1], 1, out=starts[1:])
    lengths = ends - starts
    # Every term's first 8 bytes as one integer (an unaligned read at its start), cut to its length.
    words = np.ndarray((len(raw) - 7,), dtype="<u8", buffer=raw, strides=(1,))
    keys = words[starts]
    keys &= np.take(np.array(_MASK, dtype=np.uint64), lengths, mode="clip")

    encoded = [t.encode() for t in vocab]
    short = [j for j, b in enumerate(encoded) if len(b) <= 8]
    packed = [int.from_bytes(encoded[j], "little") for j in short]
    lookup = _lookup_table(packed) if short else None
    if lookup:
        multiplier, shift, table = lookup
        slot = table[(keys * multiplier) >> shift]
        hit = np.flatnonzero(np.array([_EMPTY, *packed], dtype=np.uint64)[slot] == keys)
        ids = np.array([-1, *short])[slot[hit]]
    elif short:  # keys no multiplier separates (not met in practice): a binary search
        order = np.argsort(np.array(packed, dtype=np.uint64))
        sorted_keys = np.array(packed, dtype=np.uint64)[order]
        pos = np.minimum(np.searchsorted(sorted_keys, keys), len(short) - 1)
        hit = np.flatnonzero(sorted_keys[pos] == keys)
        ids = np.array(short)[order[pos[hit]]]
    else:
        hit, ids = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    long = [(j, b) for j, b in enumerate(encoded) if len(b) > 8]
    for j, b in long:
        same = np.flatnonzero(lengths == len(b))
        block = buf[starts[same][:, None] + np.arange(len(b))]
        same = same[(block == np.frombuffer(b, dtype=np.uint8)).all(axis=1)]
        hit, ids = np.concatenate((hit, same)), np.concatenate((ids, np.full(len(same), j)))
    if long:  # back in text order
        order = np.argsort(hit, kind="stable")
        hit, ids = hit[order], ids[order]
    # the text each found term is in: texts[i] starts after the i separators and the texts before it
    text_starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
    owner = np.searchsorted(text_starts, starts[hit], side="right") - 1
    held[owner, ids] = True

    if pairs:  # two found terms in a row, in one text
        follows = np.flatnonzero((hit[1:] == hit[:-1] + 1) & (owner[1:] == owner[:-1]))
        codes = ids[follows] * v + ids[follows + 1]
        wanted = np.array([a * v + b for a, b in pairs], dtype=np.int64)
        order = np.argsort(wanted)
        pos = np.minimum(np.searchsorted(wanted[order], codes), len(pairs) - 1)
        match = wanted[order][pos] == codes
        adjacent[owner[follows[match]], order[pos[match]]] = True
    return held, adjacent


def ordered_sums(held, weights: Sequence[float], compensated: bool | None = None):
    """Per row, the sum of the weights of the columns held, added in column order the way Python's
    ``sum()`` over a generator adds them: bit for bit the scores of the loops this module replaced.
    Python 3.12's sum() compensates rounding (Neumaier); 3.11's adds plainly."""
    import numpy as np

    if compensated is None:
        compensated = sys.version_info >= (3, 12)
    parts = np.where(held, np.asarray(weights, dtype=np.float64), 0.0)
    if not parts.shape[1]:
        return np.zeros(len(parts))
    if not compensated:
        return np.cumsum(parts, axis=1)[:, -1]  # cumsum adds left to right, one column after another
    total = np.zeros(len(parts))
    comp = np.zeros(len(parts))
    for x in parts.T:
        t = total + x
        comp += np.where(np.abs(total) >= np.abs(x), (total - t) + x, (x - t) + total)
        total = t
    return np.where((comp != 0) & np.isfinite(comp), total + comp, total)
