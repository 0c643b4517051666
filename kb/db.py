"""SQLite access: one connection helper and numbered migrations.

SQLite is the source of truth of the knowledge base.  WAL mode lets the web
app read while a worker writes; foreign keys are on so deleting a recording
removes its segments, chunks and jobs in the same transaction.
"""

from __future__ import annotations

import sqlite3
import time
from importlib import resources
from pathlib import Path

from kb.filelock import file_lock

MIGRATIONS_PACKAGE = "kb.migrations"

# "Now" as every timestamp column holds it: UTC, ISO 8601 to the second ("2026-03-01T09:30:00Z"), text
# that sorts in time order.  The migrations' column defaults write the same (SQL cannot import this).
NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
# A minute before now: a "last used" stamp is written at most once a minute.
MINUTE_AGO_SQL = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 minute')"


def connect(path: str | Path, *, readonly: bool = False, query_only: bool = False) -> sqlite3.Connection:
    """Open the database with the pragmas every caller needs.  ``readonly``: opened read-only (mode=ro);
    ``query_only``: opened as usual (WAL) but refusing every write (the search threads' connections)."""
    path = str(path)
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30)
    else:
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    if not readonly:
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
    if query_only:
        conn.execute("PRAGMA query_only = ON")
    return conn


def _use_wal(conn: sqlite3.Connection, patience: float = 30.0) -> None:
    """Put the database in WAL mode (kept in the file: a no-op once done).  Switching needs the database
    alone, and SQLite answers "locked" at once instead of waiting: when several processes create the
    same new knowledge base together (`kb serve`'s server processes), the others are still writing its
    first tables, so try again until ``patience`` seconds have passed."""
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if e.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _migrations() -> list[tuple[int, str, str]]:
    out = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            out.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration newer than the database's user_version.  Returns the names applied.

    Several processes may open a new or older knowledge base at the same moment (`kb serve`'s server
    processes, a worker started beside it): the first to come takes a lock beside the database file
    and migrates, the others wait and then find nothing left to do."""
    migrations = _migrations()
    if conn.execute("PRAGMA user_version").fetchone()[0] >= migrations[-1][0]:
        return []
    path = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
    if not path:  # an in-memory database: no other process can see it
        return _apply(conn, migrations)
    with file_lock(Path(path + ".migrating")):
        return _apply(conn, migrations)


def _apply(conn: sqlite3.Connection, migrations: list[tuple[int, str, str]]) -> list[str]:
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    applied = []
    for number, name, sql in migrations:
        if number <= current:
            continue
        if sql.lstrip().startswith(FOREIGN_KEYS_OFF):
            _migrate_rebuilding(conn, number, name, sql)
        else:
            # executescript commits first; BEGIN/COMMIT make the script and the version bump one transaction.
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        applied.append(name)
    return applied


# First line of a migration that rebuilds a table others refer to (SQLite's "12 steps"): dropping the
# old table with foreign keys on would delete every row that refers to it.
FOREIGN_KEYS_OFF = "-- kb:foreign_keys=off"


def _migrate_rebuilding(conn: sqlite3.Connection, number: int, name: str, sql: str) -> None:
    """Run a migration with foreign keys off (they cannot be switched inside a transaction), then check
    every foreign key before committing; any dangling reference cancels the whole migration."""
    conn.commit()
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.executescript(f"BEGIN;\n{sql}\n")
        problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            conn.rollback()
            raise sqlite3.IntegrityError(
                f"migration {name}: {len(problems)} foreign key(s) would dangle (first: {tuple(problems[0])})"
            )
        conn.execute(f"PRAGMA user_version = {number}")
        conn.commit()
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def bump_generation(conn: sqlite3.Connection) -> int:
    """Increase the index generation (call inside the transaction that changes chunks)."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    return get_generation(conn)


def get_generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0
