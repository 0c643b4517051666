"""`kb check`: is the knowledge base whole?  And `--repair`: rebuild what can be rebuilt.

What is checked, and why each:

* the database: SQLite's ``integrity_check`` (a damaged database cannot be
  repaired here: restore a backup);
* both search indexes hold every passage of the database and nothing else
  (search/integrity.py) -- repairable: they are rebuilt from the database;
* every recording's original is present and has the sha256 it was stored
  with -- not repairable: restore it from a backup or upload it again;
* no leftovers of processing: ``work/<id>`` folders of recordings with no job
  in progress, temporary files of processes that died -- repairable: removed;
* no stored original that no recording names (older than an hour: an upload in
  progress stores its file a moment before its row) -- listed, never removed
  automatically.

In services/ because it checks and repairs the search indexes (search/) under the
index write lock (docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb import db
from kb.settings import Config

RECENT_SECONDS = 3600  # files younger than this may belong to an upload or a save in progress
WORK_GRACE_SECONDS = 600  # a work folder this young may belong to a job being submitted right now

Log = Callable[[str], None]


@dataclass
class Problem:
    area: str  # database | vector index | word index | originals | work files
    text: str
    repairable: bool


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, area: str, text: str, repairable: bool) -> None:
        self.problems.append(Problem(area, text, repairable))

    def summary(self) -> str:
        c = self.counts
        seen = (
            f"{c.get('chunks', 0)} passages in both indexes, {c.get('originals', 0)} originals, "
            f"database {c.get('database', '?')}"
        )
        if self.ok:
            return f"kb check: OK — {seen}" + (f"; repaired: {', '.join(self.repaired)}" if self.repaired else "")
        fixable = sum(p.repairable for p in self.problems)
        hint = f", {fixable} repairable with `kb check --repair`" if fixable else ""
        return f"kb check: {len(self.problems)} problem(s){hint} — {seen}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def check_database(conn: sqlite3.Connection, report: CheckReport) -> bool:
    rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if rows == ["ok"]:
        report.counts["database"] = "ok"
        return True
    report.counts["database"] = "damaged"
    for line in rows[:10]:
        report.add("database", f"integrity check: {line}", False)
    report.add("database", "the database is damaged: restore the last backup (docs/backup.md)", False)
    return False


def check_originals(
    config: Config, conn: sqlite3.Connection, report: CheckReport, hash_files: bool = True
) -> list[Path]:
    """Every recording's original present with its sha256; returns unfinished copies (removable)."""
    home = config.home
    parts = []
    named = set()
    count = 0
    for r in conn.execute("SELECT id, title, stored_path, sha256 FROM recordings WHERE stored_path IS NOT NULL"):
        count += 1
        named.add(r["stored_path"])
        path = (home / r["stored_path"]).resolve()
        shown = f"#{r['id']} {r['title']} ({r['stored_path']})"
        if not path.is_relative_to(home) or not path.is_file():
            report.add(
                "originals", f"{shown}: the original is missing — restore it from a backup or upload it again", False
            )
        elif hash_files and _sha256(path) != r["sha256"]:
            report.add(
                "originals",
                f"{shown}: the original is damaged (its sha256 differs) — restore it from a backup or upload it again",
                False,
            )
    report.counts["originals"] = count
    now = time.time()
    if config.originals_dir.is_dir():
        for path in sorted(config.originals_dir.rglob("*")):
            if not path.is_file() or now - path.stat().st_mtime < RECENT_SECONDS:
                continue
            rel = path.relative_to(home).as_posix()
            if path.name.endswith(".part"):
                report.add("work files", f"{rel}: an unfinished copy left by a stopped upload", True)
                parts.append(path)
            elif rel not in named:
                report.add("originals", f"{rel}: stored, but no recording uses it (check, then remove by hand)", False)
    return parts


def _orphans(config: Config, conn: sqlite3.Connection) -> list[Path]:
    """Leftovers of processing: work folders of recordings with no job in progress, temp files of dead
    processes (index saves) and unfinished copies of originals."""
    out = []
    active = {
        r[0] for r in conn.execute("SELECT DISTINCT recording_id FROM jobs WHERE stage NOT IN ('done', 'failed')")
    }
    # A failed job can be tried again: the subtitle file that came with its video is kept for that.
    failed = {
        r[0]
        for r in conn.execute(
            "SELECT j.recording_id FROM jobs j WHERE j.stage = 'failed' AND j.id = "
            "(SELECT MAX(id) FROM jobs WHERE recording_id = j.recording_id)"
        )
    }
    work = config.home / "work"
    now = time.time()
    if work.is_dir():
        for entry in sorted(work.iterdir()):
            rec_id = int(entry.name) if entry.name.isdigit() else None
            # A submission makes its work folder a moment before its job row is committed.
            if rec_id in active or now - entry.stat().st_mtime < WORK_GRACE_SECONDS:
                continue
            if rec_id in failed and entry.is_dir():
                out += [p for p in sorted(entry.iterdir()) if not p.name.startswith("companion.")]
            else:
                out.append(entry)
    if config.index_dir.is_dir():
        for tmp in config.index_dir.glob(".*.tmp"):
            try:
                os.kill(int(tmp.name.split(".")[-3]), 0)
            except ProcessLookupError:
                out.append(tmp)
            except (ValueError, IndexError, OSError):
                continue
    return out


def check_work_files(config: Config, conn: sqlite3.Connection, report: CheckReport) -> list[Path]:
    found = _orphans(config, conn)
    for path in found:
        report.add("work files", f"{path.relative_to(config.home).as_posix()}: left over from processing", True)
    return found


def check_indexes(config: Config, conn: sqlite3.Connection, report: CheckReport) -> None:
    from search.integrity import check_lexical_index, check_vector_index

    problems, checked = check_lexical_index(conn)
    for text in problems:
        report.add("word index", text, True)
    for text in check_vector_index(conn, config.index_dir)[0]:
        report.add("vector index", text, True)
    report.counts["chunks"] = checked


def run_check(
    config: Config, *, repair: bool = False, hash_originals: bool = True, log: Log | None = None
) -> CheckReport:
    """Check everything (see the module docstring); with ``repair``, rebuild what can be, then check again."""
    say = log or (lambda _m: None)
    report = CheckReport()
    try:
        conn = db.connect(config.db_path)
    except sqlite3.DatabaseError as e:
        report.counts["database"] = "damaged"
        report.add(
            "database", f"{config.db_path}: cannot be opened ({e}) — restore the last backup (docs/backup.md)", False
        )
        return report
    try:
        say("checking the database")
        try:
            intact = check_database(conn, report)
        except sqlite3.DatabaseError as e:
            report.counts["database"] = "damaged"
            report.add("database", f"integrity check failed ({e}) — restore the last backup (docs/backup.md)", False)
            intact = False
        if not intact:
            return report  # nothing else can be trusted on a damaged database
        say("checking the search indexes")
        check_indexes(config, conn, report)
        say("checking the originals")
        parts = check_originals(config, conn, report, hash_files=hash_originals)
        orphans = check_work_files(config, conn, report) + parts
        if not repair or not any(p.repairable for p in report.problems):
            return report
        repaired = _repair(config, conn, report, orphans, say)
    finally:
        conn.close()
    # Repair never touches originals: their verdict stands, without reading every file a second time.
    again = run_check(config, repair=False, hash_originals=False)
    again.problems = [p for p in again.problems if p.area != "originals"] + [
        p for p in report.problems if p.area == "originals"
    ]
    again.repaired = repaired
    return again


def _repair(config: Config, conn: sqlite3.Connection, report: CheckReport, orphans: list[Path], say: Log) -> list[str]:
    done = []
    if any(p.area in ("vector index", "word index") and p.repairable for p in report.problems):
        say("rebuilding the search indexes from the database")
        from search.store import SearchStore, index_write_lock

        with index_write_lock(config):
            SearchStore(config, conn).reindex()
        done.append("search indexes rebuilt")
    for path in orphans:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if orphans:
        done.append(f"{len(orphans)} leftover work files removed")
    return done
