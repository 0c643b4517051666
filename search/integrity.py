"""Checking that both search indexes hold exactly the database's chunks (for `kb check`).

Why a separate check: the vector index (FAISS) is a cache that repairs itself
when it is opened, and the word index (FTS5) lives in the database; neither can
be seen from the outside.  After a disk fault, a restore or a bug, a person needs
one command that says whether search answers from everything that is stored and
from nothing else.  The check only reads: the saved index file is read without
loading an embedding model; repair is :meth:`search.store.SearchStore.reindex`.
"""

from __future__ import annotations

import json
import sqlite3
import time
import zlib
from pathlib import Path

import numpy as np

from kb import db
from search import lexical
from search.store import INDEXED_ROWS_SQL
from search.vector_index import INDEX_FILE, MANIFEST_FILE

BATCH = 5000


def _read_saved(index_dir: Path, tries: int, wait: float) -> tuple[dict | None, bytes | None, list[str]]:
    """The manifest and the index file's bytes as one saved pair (a save that lands while they are read
    is read again); (None, None, problems) when there is no usable pair."""
    manifest_path, index_path = index_dir / MANIFEST_FILE, index_dir / INDEX_FILE
    for attempt in range(tries):
        try:
            before = manifest_path.read_bytes()
            data = index_path.read_bytes()
            after = manifest_path.read_bytes()
        except FileNotFoundError:
            return None, None, [f"vector index: no saved index in {index_dir}"]
        if before != after and attempt < tries - 1:
            time.sleep(wait)
            continue
        try:
            manifest = json.loads(after)
            manifest["fingerprint"], int(manifest["dim"])
        except (ValueError, KeyError, TypeError) as e:
            return None, None, [f"vector index: {manifest_path} is unreadable ({e})"]
        if len(data) != manifest.get("file_size") or zlib.crc32(data) != manifest.get("crc32"):
            if attempt < tries - 1:  # a save replaces the file first, its manifest a moment later
                time.sleep(wait)
                continue
            return None, None, [f"vector index: {index_path} differs from its manifest's checksum (damaged)"]
        return manifest, data, []
    return None, None, [f"vector index: {index_path} keeps changing (saved again and again); check again later"]


def check_vector_index(
    conn: sqlite3.Connection, index_dir: Path, tries: int = 3, wait: float = 1.0
) -> tuple[list[str], int]:
    """(problems, chunks checked) for the saved vector index against the chunks table.

    The database is read in one read transaction at the generation the index file was saved at; an
    index a little behind is looked at again a moment later (while the server runs, a save follows
    every database commit at once)."""
    total = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    for attempt in range(tries):
        manifest, data, problems = _read_saved(index_dir, tries, wait)
        if manifest is None:
            if not total and problems[0].startswith("vector index: no saved index"):
                return [], 0
            return problems, 0
        conn.execute("BEGIN")
        try:
            generation = db.get_generation(conn)
            if manifest.get("generation") == generation:
                return _compare(conn, manifest, data)
        finally:
            conn.rollback()
        if attempt < tries - 1:
            time.sleep(wait)
    behind = (
        f"vector index: saved at generation {manifest.get('generation')}, the database is at "
        f"{generation} (behind the database)"
    )
    return [behind], 0


def _compare(conn: sqlite3.Connection, manifest: dict, data: bytes) -> tuple[list[str], int]:
    fingerprint, dim = manifest["fingerprint"], int(manifest["dim"])
    problems: list[str] = []
    import faiss

    try:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        storage = faiss.downcast_index(index.index)
        if hasattr(storage, "storage"):  # HNSW: the vectors sit in its flat storage
            storage = faiss.downcast_index(storage.storage)
        vectors = (
            faiss.rev_swig_ptr(storage.get_xb(), index.ntotal * dim).reshape(index.ntotal, dim)
            if index.ntotal
            else np.zeros((0, dim), np.float32)
        )
    except Exception as e:  # noqa: BLE001 - faiss raises RuntimeError with a C++ trace
        return [f"vector index: FAISS cannot read the saved index ({str(e).splitlines()[0]})"], 0
    alive = ids >= 0  # HNSW tombstones are -1
    where = {int(cid): n for n, cid in enumerate(ids) if cid >= 0}
    if int(alive.sum()) != len(where):
        problems.append("vector index: a passage is in it twice")
    other = conn.execute("SELECT COUNT(*) FROM chunks WHERE embed_fingerprint IS NOT ?", (fingerprint,)).fetchone()[0]
    if other:
        problems.append(
            f"vector index: {other} passages were embedded by another model than the index's ({fingerprint})"
        )
    missing = wrong = checked = 0
    last = -1
    while True:
        rows = conn.execute(
            "SELECT id, embedding FROM chunks WHERE embed_fingerprint = ? AND id > ? ORDER BY id LIMIT ?",
            (fingerprint, last, BATCH),
        ).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        for cid, blob in rows:
            checked += 1
            n = where.pop(int(cid), None)
            if n is None:
                missing += 1
            elif (
                blob is None
                or len(blob) != dim * 4
                or not np.array_equal(np.frombuffer(blob, dtype=np.float32), vectors[n])
            ):
                wrong += 1
    if missing:
        problems.append(f"vector index: {missing} passages of the database are missing from it")
    if wrong:
        problems.append(f"vector index: {wrong} passages have another vector there than in the database")
    if where:
        problems.append(f"vector index: {len(where)} entries belong to no passage of the database")
    return problems, checked


def check_lexical_index(conn: sqlite3.Connection) -> tuple[list[str], int]:
    """(problems, chunks checked): FTS5's own integrity check, one row per chunk and nothing extra, each
    row's terms those of its chunk's text (recordings still being processed are skipped: their new
    terms are being written), and the document-frequency table's total."""
    problems = []
    try:
        conn.execute("INSERT INTO chunk_fts(chunk_fts) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as e:
        problems.append(f"word index: FTS5 integrity check failed ({e})")
    finally:
        conn.rollback()  # the statement opened a transaction: never hold the database while reading on
    conn.execute("BEGIN")  # one consistent state for every read below, while the server writes on
    try:
        return _compare_lexical(conn, problems)
    finally:
        conn.rollback()


def _compare_lexical(conn: sqlite3.Connection, problems: list[str]) -> tuple[list[str], int]:
    busy = {r[0] for r in conn.execute("SELECT DISTINCT recording_id FROM jobs WHERE stage NOT IN ('done', 'failed')")}
    fts = conn.execute("SELECT rowid, terms FROM chunk_fts ORDER BY rowid")
    chunks = conn.execute(INDEXED_ROWS_SQL.replace("SELECT c.id,", "SELECT c.id, c.recording_id,") + " ORDER BY c.id")
    missing = wrong = extra = checked = 0
    f = fts.fetchone()
    for cid, rec_id, text in iter(chunks.fetchone, None):
        while f is not None and f[0] < cid:
            extra += 1
            f = fts.fetchone()
        checked += 1
        if f is None or f[0] != cid:
            missing += 1
            continue
        if rec_id not in busy and f[1] != lexical.index_terms(text):
            wrong += 1
        f = fts.fetchone()
    while f is not None:
        extra += 1
        f = fts.fetchone()
    if missing:
        problems.append(f"word index: {missing} passages of the database are missing from it")
    if wrong:
        problems.append(f"word index: {wrong} passages have other words there than in the database")
    if extra:
        problems.append(f"word index: {extra} entries belong to no passage of the database")
    total = conn.execute("SELECT df FROM lexical_df WHERE term = ''").fetchone()
    rows = conn.execute("SELECT COUNT(*) FROM chunk_fts").fetchone()[0]
    if total is not None and total[0] != rows:
        problems.append(f"word index: its word statistics count {total[0]} passages, it holds {rows}")
    _compare_reading(conn, problems, busy)
    return problems, checked


def _compare_reading(conn: sqlite3.Connection, problems: list[str], busy: set[int]) -> None:
    """The reading index (search/reading.py) holds exactly the spoken passages, and its statistics count them."""
    from search import reading

    if reading.pending(conn):
        return  # filled when a search store next opens (search.store); search does not use it until then
    in_work = _busy_chunks(conn, busy)  # recordings being processed: their rows are being rewritten
    spoken = {
        r[0]
        for r in conn.execute(
            "SELECT c.id FROM chunks c JOIN recordings r ON r.id = c.recording_id "
            f"WHERE r.kind IN {reading.SPOKEN_KINDS}"
        )
    } - in_work
    read = {r[0] for r in conn.execute("SELECT rowid FROM chunk_reading")}
    missing, extra = len(spoken - read), len(read - spoken - in_work)
    if missing:
        problems.append(f"reading index: {missing} spoken passages are missing from it")
    if extra:
        problems.append(f"reading index: {extra} entries belong to no spoken passage of the database")
    total = conn.execute("SELECT df FROM reading_df WHERE term = ''").fetchone()
    if total is not None and total[0] != len(read):
        problems.append(f"reading index: its statistics count {total[0]} passages, it holds {len(read)}")


def _busy_chunks(conn: sqlite3.Connection, busy: set[int]) -> set[int]:
    if not busy:
        return set()
    marks = ",".join("?" * len(busy))
    return {r[0] for r in conn.execute(f"SELECT id FROM chunks WHERE recording_id IN ({marks})", list(busy))}
