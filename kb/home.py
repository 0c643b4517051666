"""KB_HOME: the one folder that holds a knowledge base (database, indexes, originals, derived media)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

from kb import db
from kb.errors import KBError
from kb.settings import Config


def init_home(config: Config) -> sqlite3.Connection:
    """Create the folders and the database (idempotent) and bring the schema up to date."""
    for folder in (config.home, config.index_dir, config.media_dir, config.originals_dir):
        folder.mkdir(parents=True, exist_ok=True)
    conn = db.connect(config.db_path)
    db.migrate(conn)
    return conn


def open_db(config: Config, create: bool = False) -> sqlite3.Connection:
    """Open an existing knowledge base (or create it when asked)."""
    if not config.db_path.exists():
        if create:
            return init_home(config)
        raise KBError(f"no knowledge base at {config.home} (run `kb init`, or pass --home / set KB_HOME)")
    conn = db.connect(config.db_path)
    db.migrate(conn)
    return conn


def fsync_file(path: Path) -> None:
    """Force a written file's bytes to disk (before an os.replace makes it the one that counts: the vector
    index's files, a backup's copies)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path, bufsize: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB pieces (stored originals, backups and checks all name files by it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(bufsize):
            h.update(chunk)
    return h.hexdigest()
