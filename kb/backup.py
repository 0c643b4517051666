"""Backups of a knowledge base while it runs, and restoring one into an empty home.

A workshop's knowledge base is years of its meisters' work on one PC, so a
backup must be safe to take at any moment (uploads and searches going on) and a
restore must never produce a half-working knowledge base.

Layout of a backup folder (DEST)::

    DEST/files/ab/<sha256>          every stored file once, named by its content
    DEST/snapshots/<UTC time>/      one folder per backup
        kb.sqlite3                  the database, copied with SQLite's online backup API
        index/vectors.faiss, index/manifest.json   (only when they match the database, see below)
        settings.json               the settings in force (models decide what the stored vectors mean)
        MANIFEST.json               every file of the snapshot with its size and sha256,
                                    and every stored file (home path -> sha256, size)
        MANIFEST.sha256             sha256 of MANIFEST.json (a damaged manifest is detected)
    DEST/LATEST                     name of the newest complete snapshot

Why this shape:

* Incremental: stored files (originals, browser copies) go into ``files/`` under
  their sha256; a file already there is not copied again.  Originals already
  carry their sha256 in their name, so an unchanged original is not even read.
* Consistent: the database is copied in one step of the online backup API, which
  reads one committed state while others keep writing (WAL mode).  Originals are
  copied before that copy (every recording in it finds its file; one uploaded
  meanwhile is copied after), browser copies after it.
* The vector index (FAISS) is a cache of the embeddings stored in the database.
  It is kept in the snapshot only when its manifest names exactly the
  database copy's generation and chunk count and the copied file matches the
  manifest's checksum; otherwise (a write landed between the two copies, tried
  three times) the snapshot has no index, and restore rebuilds it from the
  embeddings in the database -- no re-embedding, and never an index that
  disagrees with the database.  The word index (FTS5) lives inside the database.
* Complete or nothing: a snapshot is written under ``<name>.partial`` and renamed
  only when everything is in place; restore checks every checksum before it
  writes anything, and refuses a damaged, partial or incomplete backup.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from kb import db
from kb.errors import KBError
from kb.home import fsync_file, sha256_file
from kb.settings import SETTINGS, Config

FORMAT = 1
MANIFEST = "MANIFEST.json"
MANIFEST_SUM = "MANIFEST.sha256"
LATEST = "LATEST"
DB_NAME = "kb.sqlite3"
INDEX_FILES = ("vectors.faiss", "manifest.json")  # search/vector_index.py: INDEX_FILE, MANIFEST_FILE
LAST_BACKUP_KEY = "last_backup"  # meta row: JSON of the last successful backup
# Settings whose values decide what the stored data means (the vectors come from these models).
DATA_SETTINGS = ("embed_model", "second_embed_model")
INDEX_TRIES = 3

Log = Callable[[str], None]


class BackupError(KBError):
    """A backup or restore that cannot go on; the message says why (and lists the problems)."""


@dataclass
class BackupResult:
    snapshot: Path
    files_total: int = 0
    files_copied: int = 0
    bytes_copied: int = 0
    index: str = "copied"  # 'copied' | 'rebuild on restore' | 'none'
    generation: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _copy_hashing(src: Path, dest: Path) -> tuple[str, int]:
    """Copy src to dest (through a temp file, fsynced, renamed); returns (sha256, size) of what was copied."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
    h, size = hashlib.sha256(), 0
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while chunk := fin.read(1 << 20):
                h.update(chunk)
                fout.write(chunk)
                size += len(chunk)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return h.hexdigest(), size


def _blob(dest: Path, sha: str) -> Path:
    return dest / "files" / sha[:2] / sha


# ----------------------------------------------------------------------------------- backup


class _Blobs:
    """The content-addressed file store of a backup folder, filled incrementally."""

    def __init__(self, dest: Path, result: BackupResult, previous: dict):
        self.dest = dest
        self.result = result
        self.entries: dict[str, dict] = {}  # home-relative path -> {sha256, size}
        self.damaged: set[str] = set()
        # Files that are not named by their content are hashed again only when size or mtime changed.
        self.previous = previous

    def add_named(self, home: Path, rel: str, sha: str) -> bool:
        """An original, whose name carries its sha256: copied only when the store lacks it."""
        src = home / rel
        blob = _blob(self.dest, sha)
        if rel in self.damaged:
            return True
        if blob.is_file():
            self.entries[rel] = {"sha256": sha, "size": blob.stat().st_size}
            return True
        if not src.is_file():
            return False
        tmp = blob.with_name(f"{sha}.{uuid.uuid4().hex[:8]}.new")
        got, size = _copy_hashing(src, tmp)
        if got != sha:
            tmp.unlink(missing_ok=True)
            self.damaged.add(rel)
            self.result.problems.append(f"{rel}: content differs from its sha256 (damaged file), not backed up")
            return True
        os.replace(tmp, blob)
        self.entries[rel] = {"sha256": sha, "size": size}
        self.result.files_copied += 1
        self.result.bytes_copied += size
        return True

    def add_file(self, home: Path, rel: str) -> None:
        """Any other stored file (a browser copy): hashed (unless unchanged since the last backup), copied if new."""
        src = home / rel
        try:
            st = src.stat()
        except FileNotFoundError:
            return  # removed meanwhile (its recording was deleted)
        before = self.previous.get(rel)
        if (
            before
            and before.get("size") == st.st_size
            and before.get("mtime_ns") == st.st_mtime_ns
            and _blob(self.dest, before["sha256"]).is_file()
        ):
            self.entries[rel] = dict(before)
            return
        tmp = self.dest / "files" / f".incoming.{uuid.uuid4().hex}"
        sha, size = _copy_hashing(src, tmp)
        blob = _blob(self.dest, sha)
        if blob.is_file():
            tmp.unlink()
        else:
            blob.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, blob)
            self.result.files_copied += 1
            self.result.bytes_copied += size
        self.entries[rel] = {"sha256": sha, "size": size, "mtime_ns": st.st_mtime_ns}


def _original_paths(conn: sqlite3.Connection) -> dict[str, str]:
    """home-relative path -> sha256 of every recording's stored original."""
    rows = conn.execute("SELECT stored_path, sha256 FROM recordings WHERE stored_path IS NOT NULL").fetchall()
    return {r[0]: r[1] for r in rows}


def _browser_copies(config: Config) -> list[str]:
    """media/<id>/web.mp4: costly to make again (a transcode), so they are backed up.  Thumbnails are not
    (cut again in a moment when first shown)."""
    media = config.media_dir
    if not media.is_dir():
        return []
    return sorted(p.relative_to(config.home).as_posix() for p in media.glob("*/web.mp4") if p.is_file())


def _snapshot_db(live: sqlite3.Connection, target: Path) -> int:
    """Copy the live database with SQLite's online backup API, in one step (one consistent state)."""
    target.unlink(missing_ok=True)
    out = sqlite3.connect(str(target))
    try:
        live.backup(out, pages=-1)
        out.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        generation = db.get_generation(out)
    finally:
        out.close()
    fsync_file(target)
    return generation


def _copy_index(config: Config, snap_db: Path, target: Path) -> bool:
    """Copy the saved vector index when it matches the database copy exactly (see the module docstring)."""
    folder = config.index_dir
    manifest_path, index_path = folder / INDEX_FILES[1], folder / INDEX_FILES[0]
    try:
        before = manifest_path.read_bytes()
        manifest = json.loads(before)
    except (OSError, ValueError):
        return False
    conn = sqlite3.connect(f"file:{snap_db}?mode=ro", uri=True)
    try:
        generation = db.get_generation(conn)
        count = conn.execute(
            "SELECT COUNT(*) FROM chunks WHERE embed_fingerprint = ?", (manifest.get("fingerprint"),)
        ).fetchone()[0]
    finally:
        conn.close()
    if manifest.get("generation") != generation or manifest.get("count") != count:
        return False
    target.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(index_path, target / INDEX_FILES[0])
        after = manifest_path.read_bytes()
    except OSError:
        return False
    crc = 0
    with open(target / INDEX_FILES[0], "rb") as f:
        while chunk := f.read(8 << 20):
            crc = zlib.crc32(chunk, crc)
    if (
        after != before
        or crc != manifest.get("crc32")
        or (target / INDEX_FILES[0]).stat().st_size != manifest.get("file_size")
    ):
        shutil.rmtree(target, ignore_errors=True)
        return False
    (target / INDEX_FILES[1]).write_bytes(before)
    return True


def _settings() -> dict:
    return {s.name: s.default for s in SETTINGS}


def backup(config: Config, dest: str | os.PathLike, *, log: Log | None = None, keep: int = 0) -> BackupResult:
    """Back up the knowledge base of ``config`` into the folder ``dest`` (created when missing).

    Returns what was done; ``result.problems`` lists what could not be backed up (then the
    snapshot is still written, marked incomplete, and restore refuses it).  ``keep`` > 0
    removes all but the newest ``keep`` complete snapshots afterwards."""
    say = log or (lambda _m: None)
    dest = Path(dest).expanduser().resolve()
    home = config.home
    if not config.db_path.is_file():
        raise BackupError(f"no knowledge base at {home}")
    if dest == home or dest.is_relative_to(home) or home.is_relative_to(dest):
        raise BackupError(f"{dest}: the backup must be kept outside the knowledge base folder {home}")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "snapshots").mkdir(exist_ok=True)
    with _only_backup(dest):
        try:
            return _backup(config, dest, say, keep)
        except sqlite3.DatabaseError as e:
            raise BackupError(
                f"{config.db_path}: the database is damaged ({e}); no backup was made. "
                "Run `kb check`, and restore the last good backup (docs/backup.md)"
            ) from None


@contextlib.contextmanager
def _only_backup(dest: Path):
    """One backup into a folder at a time (two at once could prune each other's new files)."""
    with open(dest / ".lock", "a+b") as f:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; the scheduler runs one backup at a time
            yield
            return
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BackupError(f"{dest}: another backup into this folder is running") from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _backup(config: Config, dest: Path, say: Log, keep: int) -> BackupResult:
    home = config.home
    name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    work = dest / "snapshots" / f"{name}.partial"
    work.mkdir()
    result = BackupResult(snapshot=dest / "snapshots" / name)
    if os.stat(dest).st_dev == os.stat(home).st_dev:
        result.warnings.append(
            f"{dest} is on the same disk as the knowledge base: a disk failure would take "
            "both; keep the backup on another disk (docs/backup.md)"
        )
    previous = _previous_files(dest)
    blobs = _Blobs(dest, result, previous)
    live = db.connect(config.db_path)
    try:
        # 1. originals known now (before the database copy: every recording in it will find its file)
        say("copying new originals")
        for rel, sha in _original_paths(live).items():
            blobs.add_named(home, rel, sha)
        # 2. the database and, when it matches, the vector index
        say("copying the database")
        index_kept = False
        for _ in range(INDEX_TRIES):
            result.generation = _snapshot_db(live, work / DB_NAME)
            if _copy_index(config, work / DB_NAME, work / "index"):
                index_kept = True
                break
            time.sleep(0.5)  # the index file is saved just after the database commit
        result.index = "copied" if index_kept else "rebuild on restore"
        snap = sqlite3.connect(f"file:{work / DB_NAME}?mode=ro", uri=True)
        try:  # a copy of a damaged database would only look like a backup
            verdict = [r[0] for r in snap.execute("PRAGMA integrity_check")]  # as kb check does
        except sqlite3.DatabaseError as e:
            verdict = [str(e)]
        finally:
            snap.close()
        if verdict != ["ok"]:
            raise BackupError(
                f"{config.db_path}: the database is damaged ({verdict[0]}); no backup was made. "
                "Run `kb check`, and restore the last good backup (docs/backup.md)"
            )
        # 3. originals the copy names that were uploaded meanwhile; then browser copies
        snap = sqlite3.connect(f"file:{work / DB_NAME}?mode=ro", uri=True)
        try:
            needed = _original_paths(snap)
        finally:
            snap.close()
        for rel, sha in needed.items():
            if rel not in blobs.entries and not blobs.add_named(home, rel, sha):
                result.problems.append(f"{rel}: missing from the knowledge base (run `kb check`)")
        say("copying browser copies of videos")
        for rel in _browser_copies(config):
            blobs.add_file(home, rel)
        (work / "settings.json").write_text(
            json.dumps(
                {"values": {k: v for k, v in config.values.items() if k != "home"}, "defaults": _settings()},
                ensure_ascii=False,
                indent=2,
            ),
            encoding="utf-8",
        )
        files = {}
        for path in sorted(p for p in work.rglob("*") if p.is_file()):
            files[path.relative_to(work).as_posix()] = {"sha256": sha256_file(path), "size": path.stat().st_size}
        stored = {rel: blobs.entries[rel] for rel in sorted(blobs.entries) if rel in needed or rel.startswith("media/")}
        result.files_total = len(stored)
        manifest = {
            "format": FORMAT,
            "created_at": _now(),
            "home": str(home),
            "generation": result.generation,
            "complete": not result.problems,
            "problems": result.problems,
            "index": result.index,
            "files": files,
            "stored": stored,
            "settings": {k: config.values.get(k) for k in DATA_SETTINGS},
        }
        body = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
        (work / MANIFEST).write_bytes(body)
        (work / MANIFEST_SUM).write_text(hashlib.sha256(body).hexdigest() + "\n", encoding="ascii")
        for path in work.rglob("*"):
            if path.is_file():
                fsync_file(path)
        os.replace(work, result.snapshot)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        live.close()
        raise
    if result.ok:
        _write_latest(dest, name)
        record_backup(
            live,
            {
                "at": manifest["created_at"],
                "dest": str(dest),
                "snapshot": name,
                "files": result.files_total,
                "copied": result.files_copied,
                "bytes_copied": result.bytes_copied,
                "index": result.index,
            },
        )
        if keep > 0:
            prune(dest, keep)
    live.close()
    return result


def _write_latest(dest: Path, name: str) -> None:
    tmp = dest / f".{LATEST}.{uuid.uuid4().hex[:8]}"
    tmp.write_text(name + "\n", encoding="ascii")
    os.replace(tmp, dest / LATEST)


def _previous_files(dest: Path) -> dict:
    """The stored-file table of the newest complete snapshot (to skip hashing unchanged files)."""
    try:
        name = (dest / LATEST).read_text(encoding="ascii").strip()
        return read_manifest(dest / "snapshots" / name).get("stored", {})
    except (OSError, BackupError):
        return {}


def complete_snapshots(dest: Path) -> list[Path]:
    """Snapshot folders with a manifest that says complete, oldest first."""
    out = []
    for snap in sorted((dest / "snapshots").glob("*")):
        if snap.is_dir() and not snap.name.endswith(".partial"):
            try:
                if read_manifest(snap).get("complete"):
                    out.append(snap)
            except BackupError:
                continue
    return out


def prune(dest: Path, keep: int) -> list[str]:
    """Keep the newest ``keep`` complete snapshots; remove older ones and files no kept snapshot needs."""
    snaps = complete_snapshots(dest)
    gone = snaps[:-keep] if keep > 0 else []
    for snap in gone:
        shutil.rmtree(snap)
    kept = snaps[-keep:] if keep > 0 else snaps
    # incomplete snapshots left by failed runs also keep their files until they are removed by hand
    others = [s for s in (dest / "snapshots").glob("*") if s.is_dir() and s not in kept and s not in gone]
    needed: set[str] = set()
    for snap in kept + others:
        try:
            needed.update(e["sha256"] for e in read_manifest(snap).get("stored", {}).values())
        except BackupError:
            return [s.name for s in gone]  # cannot tell what a damaged snapshot needs: keep every file
    for blob in (dest / "files").glob("*/*"):
        if blob.is_file() and blob.name not in needed:
            blob.unlink()
    return [s.name for s in gone]


# ---------------------------------------------------------------------------- last backup


def record_backup(conn: sqlite3.Connection, info: dict) -> None:
    with conn:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (LAST_BACKUP_KEY, json.dumps(info, ensure_ascii=False)),
        )


def last_backup(conn: sqlite3.Connection) -> dict | None:
    """The last successful backup ({'at': ISO time UTC, 'dest', 'snapshot', ...}) or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (LAST_BACKUP_KEY,)).fetchone()
    if row is None:
        return None
    try:
        info = json.loads(row[0])
        datetime.strptime(info["at"], "%Y-%m-%dT%H:%M:%SZ")
        return info
    except (ValueError, KeyError, TypeError):
        return None


def backup_overdue(conn: sqlite3.Connection, days: int, now: datetime | None = None) -> bool:
    """True when there has been no successful backup for ``days`` days (0 = never warn)."""
    if days <= 0:
        return False
    info = last_backup(conn)
    if info is None:
        return True
    at = datetime.strptime(info["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return ((now or datetime.now(timezone.utc)) - at).total_seconds() > days * 86400


# -------------------------------------------------------------------------------- restore


def read_manifest(snapshot: Path) -> dict:
    """The snapshot's manifest, after checking it against its own checksum."""
    try:
        body = (snapshot / MANIFEST).read_bytes()
        want = (snapshot / MANIFEST_SUM).read_text(encoding="ascii").strip()
    except OSError:
        raise BackupError(f"{snapshot}: no manifest (an unfinished or damaged backup)") from None
    if hashlib.sha256(body).hexdigest() != want:
        raise BackupError(f"{snapshot / MANIFEST}: checksum differs (the manifest is damaged)")
    try:
        manifest = json.loads(body)
    except ValueError:
        raise BackupError(f"{snapshot / MANIFEST}: not readable") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{snapshot / MANIFEST}: unknown backup format")
    return manifest


def find_snapshot(src: str | os.PathLike) -> Path:
    """SRC is a backup folder (its newest complete snapshot is used) or one snapshot folder."""
    src = Path(src).expanduser().resolve()
    if (src / MANIFEST).is_file() or (src / MANIFEST_SUM).is_file() or (src / DB_NAME).is_file():
        return src
    if not src.is_dir():
        raise BackupError(f"{src}: no such backup folder")
    latest = src / LATEST
    if latest.is_file():
        snap = src / "snapshots" / latest.read_text(encoding="ascii").strip()
        if snap.is_dir():
            return snap
    snaps = complete_snapshots(src) if (src / "snapshots").is_dir() else []
    if not snaps:
        raise BackupError(f"{src}: holds no complete backup")
    return snaps[-1]


def verify(snapshot: Path, log: Log | None = None) -> dict:
    """Check everything a restore needs: the manifest, every file's size and sha256.  Raises BackupError
    listing every problem; returns the manifest when all is well."""
    say = log or (lambda _m: None)
    manifest = read_manifest(snapshot)
    problems = []
    if not manifest.get("complete"):
        problems += [f"the backup is incomplete: {p}" for p in manifest.get("problems") or ["(no reason given)"]]
    if DB_NAME not in manifest.get("files", {}):
        problems.append("the manifest lists no database")
    say("checking the snapshot's files")
    for rel, entry in manifest.get("files", {}).items():
        problems += _check_file(snapshot / rel, rel, entry)
    backup_root = snapshot.parent.parent
    say(f"checking {len(manifest.get('stored', {}))} stored files")
    for rel, entry in manifest.get("stored", {}).items():
        problems += _check_file(_blob(backup_root, entry["sha256"]), rel, entry)
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise BackupError(f"{snapshot}: damaged or partial backup, nothing restored:\n  " + "\n  ".join(shown))
    return manifest


def _check_file(path: Path, rel: str, entry: dict) -> list[str]:
    if not path.is_file():
        return [f"{rel}: missing from the backup"]
    if path.stat().st_size != entry.get("size"):
        return [f"{rel}: size {path.stat().st_size} bytes, the manifest says {entry.get('size')}"]
    if sha256_file(path) != entry.get("sha256"):
        return [f"{rel}: checksum differs (damaged)"]
    return []


def _is_empty_home(home: Path) -> bool:
    return not home.exists() or (home.is_dir() and not any(home.iterdir()))


def restore(config: Config, src: str | os.PathLike, *, log: Log | None = None) -> dict:
    """Restore the backup ``src`` into ``config.home``, which must be empty or absent.

    Everything is verified before anything is written; the files are assembled in a
    temporary folder beside the home and moved into place at the end, so a failed
    restore leaves no half-restored knowledge base.  Returns the manifest."""
    say = log or (lambda _m: None)
    home = config.home
    if not _is_empty_home(home):
        raise BackupError(f"{home}: not empty; restore only into a new, empty folder (--home)")
    snapshot = find_snapshot(src)
    manifest = verify(snapshot, log=say)
    home.parent.mkdir(parents=True, exist_ok=True)
    tmp = home.parent / f".{home.name}.restoring-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        say("copying the database and the index")
        for rel in manifest["files"]:
            if rel == DB_NAME or rel.startswith("index/"):
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                got, _ = _copy_hashing(snapshot / rel, tmp / rel)
                if got != manifest["files"][rel]["sha256"]:
                    raise BackupError(f"{snapshot / rel}: changed while it was restored")
        say(f"copying {len(manifest['stored'])} stored files")
        root = snapshot.parent.parent
        for rel, entry in manifest["stored"].items():
            target = (tmp / rel).resolve()
            if not target.is_relative_to(tmp.resolve()):
                raise BackupError(f"{rel}: a path outside the knowledge base in the manifest")
            got, _ = _copy_hashing(_blob(root, entry["sha256"]), target)
            if got != entry["sha256"]:
                raise BackupError(f"{rel}: changed while it was restored")
        for folder in ("index", "media", "originals"):
            (tmp / folder).mkdir(exist_ok=True)
        conn = db.connect(tmp / DB_NAME)
        try:
            db.migrate(conn)  # a backup made by an older version is brought up to date
            record_backup(
                conn, {"at": manifest["created_at"], "snapshot": snapshot.name, "dest": str(root), "restored": _now()}
            )
        finally:
            conn.close()
        if home.exists():
            home.rmdir()
        os.replace(tmp, home)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def settings_differences(config: Config, manifest: dict) -> list[str]:
    """Settings that decide what the stored vectors mean, where this machine differs from the backup's."""
    out = []
    for name in DATA_SETTINGS:
        was = (manifest.get("settings") or {}).get(name)
        if was is not None and was != config.values.get(name):
            out.append(
                f"KB_{name.upper()} was {was!r} when the backup was made, here it is {config.values.get(name)!r}"
            )
    return out
