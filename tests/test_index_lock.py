"""Every writer of the vector index takes the one cross-process lock (search.store.index_write_lock):
`kb delete`, `kb reindex` and the save at the end of a `kb ingest` batch wait while another process
(a worker, the web app) holds it, then do their write.

Why a real second process and the kernel's lock table: the lock is an flock on a file, and the
property is that a different process waits for it.  /proc/locks shows a waiting request ("->"), so
the test knows the command is blocked on this lock -- not merely slow -- without timing anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers.config import make_config

pytestmark = pytest.mark.skipif(not Path("/proc/locks").is_file(), reason="needs Linux's /proc/locks")

NEVER = 300  # seconds: a failure detector for a process that never reaches the lock, not a speed check
MODELS = {"embed_model": "hash", "second_embed_model": "none"}


@pytest.fixture
def kb_one(tmp_path):
    """A knowledge base (hash embedder) holding one written recording; its config and the recording's id."""
    from ingest.pipeline import Ingestor
    from kb.home import init_home

    config = make_config(tmp_path / "kb", **MODELS)
    conn = init_home(config)
    try:
        rec_id = Ingestor(config, conn).ingest_text("旋盤の段取り", "主軸を止めてから刃物を交換する。").recording_id
    finally:
        conn.close()
    return config, rec_id


def _kb(config, *args) -> subprocess.Popen:
    env = dict(os.environ, KB_HOME=str(config.home), **{f"KB_{k.upper()}": v for k, v in MODELS.items()})
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "kb"), *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _waits_for_lock(config, pid: int) -> bool:
    """True when process ``pid`` has a blocked request on the index lock file in /proc/locks."""
    from search.store import LOCK_FILE

    inode = os.stat(config.index_dir / LOCK_FILE).st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields:
            fields = fields[fields.index("->") + 1 :]
            if fields[3] == str(pid) and fields[4].rsplit(":", 1)[-1] == str(inode):
                return True
    return False


def _until_waiting(config, pid: int, alive) -> None:
    deadline = time.monotonic() + NEVER
    while not _waits_for_lock(config, pid):
        assert alive(), "the writer finished without waiting for the index lock"
        assert time.monotonic() < deadline, "the writer never asked for the index lock"
        time.sleep(0.05)


def _recording_exists(config, rec_id: int) -> bool:
    from kb import db

    conn = db.connect(config.db_path)
    try:
        return conn.execute("SELECT 1 FROM recordings WHERE id = ?", (rec_id,)).fetchone() is not None
    finally:
        conn.close()


def _generation(config) -> int:
    from kb import db

    conn = db.connect(config.db_path)
    try:
        return db.get_generation(conn)
    finally:
        conn.close()


def test_kb_delete_waits_for_the_index_writer(kb_one):
    from search.store import index_write_lock

    config, rec_id = kb_one
    with index_write_lock(config):  # another process is writing the index
        proc = _kb(config, "delete", str(rec_id))
        _until_waiting(config, proc.pid, lambda: proc.poll() is None)
        assert _recording_exists(config, rec_id)  # nothing deleted while the other writer holds the lock
    out, err = proc.communicate(timeout=NEVER)
    assert proc.returncode == 0, err
    assert f"deleted #{rec_id}" in out and not _recording_exists(config, rec_id)


def test_kb_reindex_waits_for_the_index_writer(kb_one):
    from search.store import index_write_lock

    config, _ = kb_one
    before = _generation(config)
    with index_write_lock(config):
        proc = _kb(config, "reindex")
        _until_waiting(config, proc.pid, lambda: proc.poll() is None)
        assert _generation(config) == before
    out, err = proc.communicate(timeout=NEVER)
    assert proc.returncode == 0, err
    assert "index rebuilt: 1 chunks" in out and _generation(config) == before + 1
    # the rebuild removed the index files but not the lock file the waiting writers hold
    from search.store import LOCK_FILE

    assert (config.index_dir / LOCK_FILE).is_file()


def test_the_save_at_the_end_of_an_ingest_batch_waits_for_the_index_writer(kb_one):
    """`kb ingest` defers the index save to the end of its batch (SearchStore.batch); that save takes the
    lock.  A thread of this process stands in for `kb ingest`: flock makes a second open file wait even in
    the same process, and /proc/locks names this process."""
    from kb import db
    from search.store import SearchStore, index_write_lock

    config, rec_id = kb_one
    done: list[int] = []

    def ingest_batch():
        conn = db.connect(config.db_path)
        try:
            store = SearchStore(config, conn)
            store.index  # noqa: B018 - opened before the batch, as `kb ingest` has it
            with store.batch():
                done.append(store.delete_recording(rec_id))  # changes the index; the save is deferred
        finally:
            conn.close()

    with index_write_lock(config):
        worker = threading.Thread(target=ingest_batch)
        worker.start()
        _until_waiting(config, os.getpid(), worker.is_alive)
        assert done == [1] and _saved_generation(config) < _generation(config)  # the save waits
    worker.join(NEVER)
    assert not worker.is_alive() and _saved_generation(config) == _generation(config)


def _saved_generation(config) -> int:
    import json

    from search.vector_index import MANIFEST_FILE

    return json.loads((config.index_dir / MANIFEST_FILE).read_text(encoding="utf-8"))["generation"]
