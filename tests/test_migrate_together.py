"""Several processes opening a new knowledge base at once (the server processes of `kb serve`, a worker
started beside it) bring the schema up to date once, and every one of them opens it (kb.db.migrate)."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest

from helpers.config import make_config


def _open(home: str, start, results) -> None:
    from kb.home import open_db

    start.wait()
    try:
        conn = open_db(make_config(home), create=True)
        results.put(("ok", conn.execute("PRAGMA user_version").fetchone()[0]))
        conn.close()
    except Exception as e:  # noqa: BLE001 - reported to the test, which names it
        results.put(("failed", repr(e)))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
@pytest.mark.parametrize("attempt", range(10))
def test_processes_opening_a_new_knowledge_base_together_all_open_it(tmp_path, attempt):
    """Forked, as `kb serve`'s server processes are: with everything imported they reach the database
    within a millisecond of each other.  Without the migration lock most runs had one fail ("table
    meisters already exists", "duplicate column name"); without the wait for WAL mode about one in
    ten ("database is locked", kb.db._use_wal)."""
    import kb.home  # noqa: F401 - imported before the fork, so the processes start level
    from kb.db import _migrations

    home = str(tmp_path / "kb")
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=_open, args=(home, start, results)) for _ in range(4)]
    for process in processes:
        process.start()
    start.set()
    answers = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=120)
    latest = _migrations()[-1][0]
    assert answers == [("ok", latest)] * 4
    conn = sqlite3.connect(tmp_path / "kb" / "kb.sqlite3")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meisters'").fetchone()[0] == 1


def test_an_up_to_date_database_takes_no_lock(tmp_path):
    from kb.home import open_db

    config = make_config(tmp_path / "kb")
    open_db(config, create=True).close()
    lock = config.db_path.with_name(config.db_path.name + ".migrating")
    lock.unlink()
    open_db(config).close()
    assert not lock.exists()
