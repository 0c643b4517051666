"""A lock on a file that other processes of this machine respect (fcntl on Linux/macOS, msvcrt on
Windows), for the few moments two processes must not overlap: writing the vector index
(search.store.index_write_lock) and bringing the database schema up to date (kb.db.migrate).

Why a file and not SQLite: the index lives outside the database, and a migration must decide whether to
run at all before it can begin a transaction (Python's executescript commits any transaction it finds).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def file_lock(path: Path, shared: bool = False) -> Iterator[None]:
    """Hold ``path`` (created if missing) locked until the block ends; ``shared``: with other shared
    holders, never with an exclusive one (Windows has no shared mode: there every holder is alone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        try:
            import fcntl
        except ImportError:
            import msvcrt

            while True:
                try:
                    f.seek(0)
                    msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
            return
        fcntl.flock(f.fileno(), fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
