"""The processing queue: a file becomes a recording and a job row; a worker does the rest.

Why a queue in SQLite: processing a video takes minutes on a workshop PC (speech
recognition), far too long for a web request, and it must survive a power cut.
:func:`submit_file` only checks and stores the file and writes two rows, in well
under a second; `kb worker`, or the worker thread of `kb serve`, picks the job
up (ingest/worker.py).  The database is the queue: nothing else to install.

Checks, each a one-line :class:`kb.errors.InputError` that keeps nothing:
empty files, files over ``max_upload_bytes``, and the type -- read from the
content by :mod:`ingest.detect` (magic bytes, container structure), never from
the name, so a text file called clip.mp4, a playlist or a program is refused;
a video or sound file must also open in ffmpeg (:func:`media.ffmpeg.probe`), so
a damaged one is refused at once instead of failing later in the queue.
The original is stored as ``KB_HOME/originals/<sha[:2]>/<sha256>.<format>``, a
generated name outside every folder the web server serves; the name it came
with (Japanese included) is kept only as metadata (``recordings.source_name``).

Claims: a worker takes a job with one UPDATE that only succeeds while nobody
holds it (SQLite runs a statement atomically under its write lock), so two
workers -- threads or processes -- never run the same job.  A claim names the
process (pid, host) and is renewed by a heartbeat; :func:`reclaim_stale` hands
back the jobs of processes that died (same host: the pid is gone) or stopped
reporting (heartbeat older than ``job_lease_seconds``), and fails a job that
keeps dying after ``job_max_attempts`` tries.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import time
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from kb import recordings
from kb.db import NOW_SQL
from kb.errors import InputError
from kb.home import sha256_file
from kb.recordings import RecordingMeta
from kb.settings import Config

STAGES = ("queued", "extracting", "transcribing", "embedding", "indexing", "done", "failed")
WORK_STAGES = ("extracting", "transcribing", "embedding", "indexing")
FINISHED = ("done", "failed")

# Job messages: English source texts of the gettext catalogue (pages show them translated).
MSG_WAITING = "Waiting for a worker"
MSG_RESUMING = "Interrupted; continues from the last saved step"
MSG_PAUSED = "Paused; continues from the last saved step"
MSG_RETRYING = "A problem occurred; it will be tried again shortly"
# claimed_host of a job a transcription worker on another machine has started (ingest/dispatch.py)
REMOTE_PREFIX = "remote/"
MSG_DISK_FULL = "Not enough storage space"
MSG_DISK_FULL_RETRY = "Not enough storage space; it will be tried again later"


@dataclass
class Submitted:
    """What became of a submitted file.  status: 'queued' (a job will process it) or 'exists'."""

    recording_id: int
    job_id: int | None
    status: str
    message: str = ""
    title: str | None = None


@dataclass(frozen=True)
class Claim:
    """Who holds a job: a unique name, and the process behind it (to tell when it has died)."""

    worker_id: str
    pid: int
    host: str

    @classmethod
    def mine(cls, label: str = "worker") -> "Claim":
        host = socket.gethostname()
        return cls(f"{label}:{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}", os.getpid(), host)


@dataclass
class CheckedFile:
    path: Path
    size: int
    sha256: str
    kind: str  # video | audio | document
    format: str


# ---------------------------------------------------------------- checks and storage


sha256_of = sha256_file  # the name callers here have always used


def check_file(config: Config, path: str | os.PathLike, shown: str) -> CheckedFile:
    """Size and type checks; ``shown`` is how messages name the file.

    Each refusal is an InputError whose message is the English line the command line prints
    (``clip.mp4: empty file (0 bytes)``) and whose ``code`` and params (``name``, ``detail``: the
    technical reason) let the web pages say it in plain words in the reader's language (web.problems)."""
    from ingest.detect import detect, refusal_code

    path = Path(path)
    try:
        if not path.is_file():
            raise _refused(shown, "no such file", code="file_missing")
        size = path.stat().st_size
        if size == 0:
            raise _refused(shown, "empty file (0 bytes)", code="empty_file")
        limit = config.get("max_upload_bytes")
        if size > limit:
            raise _refused(shown, f"file is larger than the limit of {limit} bytes", code="file_too_large", limit=limit)
        detected = detect(path)
        if detected.kind not in ("video", "audio", "document", "subtitle"):
            code, params = refusal_code(detected)
            raise _refused(shown, detected.reason or "unsupported file type", code=code, **params)
        if detected.kind in ("video", "audio"):
            _probe(config, path, shown)
        sha = sha256_of(path)
    except OSError as e:
        raise _refused(shown, f"cannot be read ({e.strerror or e})", code="unreadable") from None
    kind = "document" if detected.kind == "subtitle" else detected.kind
    return CheckedFile(path, size, sha, kind, detected.format)


def _refused(shown: str, reason: str, *, code: str, **params) -> InputError:
    """The InputError of a refused file: ``<name>: <reason>`` for the command line, a code for the pages."""
    return InputError(f"{shown}: {reason}", code=code, name=shown, detail=reason, **params)


def _probe(config: Config, path: Path, shown: str) -> None:
    """ffmpeg must be able to open a video or sound file (a damaged one is refused now, not later)."""
    from media import ffmpeg

    try:
        info = ffmpeg.probe(
            path, timeout=min(60.0, config.get("ffmpeg_timeout")), binary=ffmpeg.ffmpeg_binary(config.get("ffmpeg"))
        )
    except ffmpeg.MediaError as e:
        raise _refused(shown, e.reason, code=e.code or "damaged_media") from None
    if not (info.has_audio or info.has_video):
        raise _refused(shown, "no audio or video stream", code="no_streams")


def store_original(config: Config, checked: CheckedFile, move: bool = False, *, own_copy: bool = False) -> str:
    """Put the file under its generated name (atomically); returns its path relative to KB_HOME.

    ``own_copy``: a name of its own even when the same content is stored already (a second recording of
    the same file, stored separately because the first is hidden from its uploader)."""
    suffix = f"-{uuid.uuid4().hex[:12]}" if own_copy else ""
    rel = Path("originals") / checked.sha256[:2] / f"{checked.sha256}{suffix}.{checked.format}"
    dest = config.home / rel
    if dest.is_file():
        if move:
            checked.path.unlink(missing_ok=True)
        return rel.as_posix()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + f".{uuid.uuid4().hex[:8]}.part")
    try:
        if move:
            shutil.move(checked.path, tmp)
        else:
            shutil.copyfile(checked.path, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return rel.as_posix()


def work_dir(config: Config, recording_id: int) -> Path:
    """Private scratch folder of a recording's processing (never served; removed when done)."""
    return config.home / "work" / str(int(recording_id))


# ---------------------------------------------------------------- submitting


def submit_file(
    config: Config,
    conn: sqlite3.Connection,
    path: str | os.PathLike,
    source_name: str,
    meta: RecordingMeta,
    hotwords: Sequence[str] = (),
    *,
    move: bool = False,
    viewer=None,
) -> Submitted:
    """Check and store a file, create its recording (status 'pending') and a queued job.

    ``source_name`` is the name the file came with (kept as metadata, default title);
    ``hotwords`` are extra terms for speech recognition besides the organisation's
    glossary; ``move`` moves the file instead of copying it (an upload's temporary
    file).  The same content twice gives status 'exists' with the first recording;
    content that failed before is queued again under its first recording.  ``viewer`` (the uploader;
    None = the command line, which sees everything): only recordings they may see count as the same
    content; a copy of a recording hidden from them becomes a recording of its own."""
    return enqueue(config, conn, Path(path), source_name, meta, hotwords, move=move, viewer=viewer)


def enqueue(
    config: Config,
    conn: sqlite3.Connection,
    path: Path,
    source_name: str,
    meta: RecordingMeta,
    hotwords: Sequence[str] = (),
    *,
    move: bool = False,
    shown: str | None = None,
    claim: Claim | None = None,
    companion: Path | None = None,
    viewer=None,
) -> Submitted:
    """:func:`submit_file` with the options of the inline pipeline (`kb ingest`): ``shown`` names the file
    in messages, ``claim`` creates the job already held by the caller (no worker takes it meanwhile), and
    ``companion`` is a subtitle file to use as the transcript."""
    source_name = unicodedata.normalize("NFC", Path(source_name or path.name).name)
    shown = shown or source_name
    checked = check_file(config, path, shown)
    payload = {
        "language": meta.language,
        "hotwords": [h for h in hotwords if h and h.strip()],
        "shown": shown,
        "title_given": bool(meta.title),
    }
    existing = recordings.find_by_sha256(conn, checked.sha256, viewer)
    if existing is not None:
        return _enqueue_existing(
            config, conn, dict(existing), checked, payload, move=move, claim=claim, companion=companion
        )
    title = meta.title or Path(source_name).stem or source_name
    hidden_twin = viewer is not None and recordings.find_by_sha256(conn, checked.sha256) is not None
    stored = store_original(config, checked, move=move, own_copy=hidden_twin)
    with conn:
        rec_id = recordings.create(
            conn,
            title=title,
            kind=checked.kind,
            fmt=checked.format,
            source_name=source_name,
            sha256=checked.sha256,
            size_bytes=checked.size,
            meta=meta,
            stored_path=stored,
            status="processing" if claim else "pending",
            title_from_filename=not meta.title,
        )
        payload.update(_keep_companion(config, rec_id, companion, checked.kind))
        job_id = insert_job(conn, rec_id, payload, claim)
    return Submitted(rec_id, job_id, "queued", "", title)


def _enqueue_existing(
    config,
    conn,
    rec: dict,
    checked: CheckedFile,
    payload: dict,
    *,
    move: bool,
    claim: Claim | None,
    companion: Path | None,
) -> Submitted:
    rec_id, title = rec["id"], rec["title"]
    job = latest_job(conn, rec_id)
    if rec["status"] == "done":
        if move:
            checked.path.unlink(missing_ok=True)
        return Submitted(
            rec_id, job["id"] if job else None, "exists", f"already in the knowledge base as recording {rec_id}", title
        )
    if job is not None and job["stage"] not in FINISHED:
        if move:
            checked.path.unlink(missing_ok=True)
        if claim is not None:
            reclaim_stale(config, conn)
            if claim_job(conn, job["id"], claim):
                return Submitted(rec_id, job["id"], "queued", "", title)
        return Submitted(rec_id, job["id"], "exists", f"already waiting to be processed as recording {rec_id}", title)
    # It failed (or was interrupted by an earlier version): process the same row again, with this file.
    stored = store_original(config, checked, move=move)
    with conn:
        conn.execute(
            f"UPDATE recordings SET stored_path = ?, status = ?, error = NULL, updated_at = {NOW_SQL} WHERE id = ?",
            (stored, "processing" if claim else "pending", rec_id),
        )
        payload.update(_keep_companion(config, rec_id, companion, checked.kind))
        if job is not None:
            payload = {**_payload(job), **{k: v for k, v in payload.items() if v not in (None, [], "")}}
            payload.pop("route", None)  # routed afresh (ingest/dispatch.py)
            payload.pop("rq_job", None)
            _requeue(conn, job["id"], payload, claim)
            job_id = job["id"]
        else:
            job_id = insert_job(conn, rec_id, payload, claim)
    return Submitted(rec_id, job_id, "queued", "", title)


def _keep_companion(config: Config, rec_id: int, companion: Path | None, kind: str) -> dict:
    """Copy a video's subtitle file into the work folder (the original's folder may be gone on resume)."""
    if companion is None or kind not in ("video", "audio"):
        return {}
    dest = work_dir(config, rec_id) / ("companion" + companion.suffix.lower())
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(companion, dest)
    return {"subtitle": dest.relative_to(config.home).as_posix(), "subtitle_name": companion.name}


def insert_job(
    conn: sqlite3.Connection, rec_id: int, payload: dict, claim: Claim | None = None, completed_stage: str | None = None
) -> int:
    """A new queued job (call inside a transaction); held by ``claim`` from the start when given."""
    held = (claim.worker_id, claim.pid, claim.host, time.time()) if claim else (None, None, None, None)
    cur = conn.execute(
        "INSERT INTO jobs(recording_id, kind, stage, progress, message, attempts, payload, completed_stage,"
        " claimed_by, claimed_pid, claimed_host, heartbeat_at, started_at)"
        f" VALUES (?, 'ingest', 'queued', 0, ?, ?, ?, ?, ?, ?, ?, ?, CASE WHEN ? THEN {NOW_SQL} END)",
        (
            rec_id,
            MSG_WAITING,
            1 if claim else 0,
            json.dumps(payload, ensure_ascii=False),
            completed_stage,
            *held,
            bool(claim),
        ),
    )
    return int(cur.lastrowid)


def _requeue(conn: sqlite3.Connection, job_id: int, payload: dict | None, claim: Claim | None) -> None:
    held = (claim.worker_id, claim.pid, claim.host, time.time()) if claim else (None, None, None, None)
    conn.execute(
        "UPDATE jobs SET stage = 'queued', progress = 0, message = ?, error = NULL, attempts = ?,"
        " payload = COALESCE(?, payload), claimed_by = ?, claimed_pid = ?, claimed_host = ?, heartbeat_at = ?,"
        f" not_before = 0, finished_at = NULL, updated_at = {NOW_SQL} WHERE id = ?",
        (
            MSG_WAITING,
            1 if claim else 0,
            json.dumps(payload, ensure_ascii=False) if payload is not None else None,
            *held,
            job_id,
        ),
    )


# ---------------------------------------------------------------- retry, replace, states


def retry(conn: sqlite3.Connection, recording_id: int) -> Submitted:
    """Queue a failed recording again; it continues from its last saved step.

    A recording that is waiting or being processed stays as it is (status 'queued');
    one that is done is left alone (status 'exists')."""
    rec = recordings.get(conn, recording_id)
    job = latest_job(conn, recording_id)
    if job is not None and job["stage"] not in FINISHED:
        return Submitted(recording_id, job["id"], "queued", "already waiting or being processed", rec["title"])
    if rec["status"] == "done":
        return Submitted(recording_id, job["id"] if job else None, "exists", "already processed", rec["title"])
    if not rec.get("stored_path"):
        raise _refused(rec["source_name"], "the original file was not kept; add it again", code="original_missing")
    with conn:
        if job is not None:
            _requeue(conn, job["id"], None, None)
            job_id = job["id"]
        else:
            job_id = insert_job(conn, recording_id, {"shown": rec["source_name"]})
        conn.execute(
            f"UPDATE recordings SET status = 'pending', error = NULL, updated_at = {NOW_SQL} WHERE id = ?",
            (recording_id,),
        )
    return Submitted(recording_id, job_id, "queued", "", rec["title"])


def replace_file(
    config: Config,
    conn: sqlite3.Connection,
    recording_id: int,
    path: str | os.PathLike,
    source_name: str,
    *,
    move: bool = False,
    viewer=None,
) -> Submitted:
    """Process a recording again from a new file, under the same id (title, meister, tags, visibility kept).

    The recording leaves search until the new file is processed; the old original,
    browser copy and thumbnails are removed.  A job still running for the old file
    is cancelled (its worker stops at its next step).  The same file again only
    re-queues a recording that failed; a file that is another recording is refused."""
    rec = recordings.get(conn, recording_id)
    source_name = unicodedata.normalize("NFC", Path(source_name or Path(path).name).name)
    checked = check_file(config, path, source_name)
    if checked.sha256 == rec["sha256"]:
        if move:
            checked.path.unlink(missing_ok=True)
        if rec["status"] == "done":
            return Submitted(recording_id, None, "exists", "the same file as before", rec["title"])
        return retry(conn, recording_id)
    other = recordings.find_by_sha256(conn, checked.sha256, viewer)  # only one the replacer can see
    if other is not None and other["id"] != recording_id:
        raise _refused(
            source_name,
            f"this file is already in the knowledge base as recording {other['id']}",
            code="already_recording",
            id=other["id"],
        )
    hidden_twin = recordings.find_by_sha256(conn, checked.sha256) is not None
    old_job = latest_job(conn, recording_id)
    payload = {**(_payload(old_job) if old_job else {}), "shown": source_name}
    for key in ("subtitle", "subtitle_name", "route", "rq_job"):  # the new file is routed afresh
        payload.pop(key, None)
    stored = store_original(config, checked, move=move, own_copy=hidden_twin)
    with conn:
        cancel_active(conn, recording_id, "replaced by a new file")
        conn.execute(
            "UPDATE recordings SET kind = ?, format = ?, source_name = ?, sha256 = ?, size_bytes = ?, stored_path = ?,"
            " status = 'pending', error = NULL, duration = NULL, pages = NULL, transcript_source = NULL,"
            f" playback = NULL, updated_at = {NOW_SQL} WHERE id = ?",
            (checked.kind, checked.format, source_name, checked.sha256, checked.size, stored, recording_id),
        )
        job_id = insert_job(conn, recording_id, payload)
    if rec.get("stored_path") and rec["stored_path"] != stored:
        (config.home / rec["stored_path"]).unlink(missing_ok=True)
    shutil.rmtree(config.media_dir / str(int(recording_id)), ignore_errors=True)
    shutil.rmtree(work_dir(config, recording_id), ignore_errors=True)
    return Submitted(recording_id, job_id, "queued", "", rec["title"])


def cancel_active(conn: sqlite3.Connection, recording_id: int, reason: str) -> None:
    """End a recording's unfinished job (call inside a transaction).  Its worker, if any, finds its claim
    gone at its next step and stops without writing anything more."""
    conn.execute(
        "UPDATE jobs SET stage = 'failed', error = ?, message = ?, claimed_by = NULL, claimed_pid = NULL,"
        f" claimed_host = NULL, heartbeat_at = NULL, finished_at = {NOW_SQL}, updated_at = {NOW_SQL}"
        " WHERE recording_id = ? AND stage NOT IN ('done', 'failed')",
        (reason, reason, recording_id),
    )


def latest_job(conn: sqlite3.Connection, recording_id: int) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM jobs WHERE recording_id = ? ORDER BY id DESC LIMIT 1", (recording_id,)
    ).fetchone()


def job_states(conn: sqlite3.Connection, recording_ids: Iterable[int]) -> dict[int, dict]:
    """The latest job of each recording: recording id -> dict(stage, progress (0..1), percent, message,
    error, attempts, job_id, completed_stage, active, ahead (jobs waiting before it), updated_at)."""
    ids = list(dict.fromkeys(int(i) for i in recording_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT * FROM jobs WHERE id IN (SELECT MAX(id) FROM jobs WHERE recording_id IN ({marks})"
        " GROUP BY recording_id)",
        ids,
    ).fetchall()
    waiting = [
        r[0] for r in conn.execute("SELECT id FROM jobs WHERE stage = 'queued' AND claimed_by IS NULL ORDER BY id")
    ]
    out = {}
    for r in rows:
        active = r["stage"] not in FINISHED
        ahead = sum(1 for j in waiting if j < r["id"]) if active and r["claimed_by"] is None else 0
        out[r["recording_id"]] = {
            "stage": r["stage"],
            "progress": float(r["progress"] or 0.0),
            "percent": int(round(100 * float(r["progress"] or 0.0))),
            "message": r["message"],
            "error": r["error"],
            "attempts": r["attempts"],
            "job_id": r["id"],
            "completed_stage": r["completed_stage"],
            "active": active,
            "ahead": ahead,
            "updated_at": r["updated_at"],
            "worker": _remote_worker(r["claimed_host"]) if active else None,
            "problem": _payload(r).get("problem"),
        }
    return out


def _remote_worker(claimed_host: str | None) -> str | None:
    """The name of the transcription worker on another machine processing a job (None: this server)."""
    if claimed_host and claimed_host.startswith(REMOTE_PREFIX):
        return claimed_host[len(REMOTE_PREFIX) :]
    return None


def _payload(job: sqlite3.Row) -> dict:
    try:
        data = json.loads(job["payload"] or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------- claims


def claim_next(conn: sqlite3.Connection, claim: Claim, route: str | None = None) -> sqlite3.Row | None:
    """Take the oldest job nobody holds (one atomic UPDATE); None when there is none.

    ``route``: only jobs the dispatcher routed so (ingest/dispatch.py: 'local' when transcription
    workers on other machines take the rest); None: any job (the default, no Redis)."""
    only = " AND json_extract(payload, '$.route') = ?" if route else ""
    extra = (route,) if route else ()
    waiting = conn.execute(
        "SELECT 1 FROM jobs WHERE claimed_by IS NULL AND stage NOT IN ('done', 'failed')"
        f" AND not_before <= ?{only} LIMIT 1",
        (time.time(), *extra),
    ).fetchone()
    if waiting is None:  # the usual case when idle: no write lock taken every poll
        return None
    with conn:
        row = conn.execute(
            "UPDATE jobs SET claimed_by = ?, claimed_pid = ?, claimed_host = ?, heartbeat_at = ?,"
            f" attempts = attempts + 1, started_at = COALESCE(started_at, {NOW_SQL}), updated_at = {NOW_SQL}"
            " WHERE id = (SELECT id FROM jobs WHERE claimed_by IS NULL AND stage NOT IN ('done', 'failed')"
            f"             AND not_before <= ?{only} ORDER BY id LIMIT 1)"
            "   AND claimed_by IS NULL RETURNING *",
            (claim.worker_id, claim.pid, claim.host, time.time(), time.time(), *extra),
        ).fetchone()
        if row is not None:
            conn.execute(
                "UPDATE recordings SET status = 'processing' WHERE id = ? AND status != 'done'", (row["recording_id"],)
            )
    return row


def claim_job(conn: sqlite3.Connection, job_id: int, claim: Claim) -> bool:
    """Take one particular unfinished job if nobody holds it."""
    with conn:
        row = conn.execute(
            "UPDATE jobs SET claimed_by = ?, claimed_pid = ?, claimed_host = ?, heartbeat_at = ?,"
            f" attempts = attempts + 1, started_at = COALESCE(started_at, {NOW_SQL}), updated_at = {NOW_SQL}"
            " WHERE id = ? AND claimed_by IS NULL AND stage NOT IN ('done', 'failed') RETURNING recording_id",
            (claim.worker_id, claim.pid, claim.host, time.time(), job_id),
        ).fetchone()
        if row is not None:
            conn.execute("UPDATE recordings SET status = 'processing' WHERE id = ?", (row[0],))
    return row is not None


def pid_alive(pid: int | None) -> bool:
    """Whether a process of this machine still runs (a zombie -- killed, not yet reaped -- counts as gone)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def reclaim_stale(config: Config, conn: sqlite3.Connection, now: float | None = None) -> list[int]:
    """Release the jobs of workers that died or stopped reporting; fail those tried too often.

    Returns the ids of the jobs released or failed."""
    now = time.time() if now is None else now
    lease = config.get("job_lease_seconds")
    max_attempts = config.get("job_max_attempts")
    host = socket.gethostname()
    handled = []
    rows = conn.execute(
        "SELECT * FROM jobs WHERE claimed_by IS NOT NULL AND stage NOT IN ('done', 'failed')"
    ).fetchall()
    for job in rows:
        expired = job["heartbeat_at"] is None or job["heartbeat_at"] < now - lease
        dead = job["claimed_host"] == host and not pid_alive(job["claimed_pid"])
        if not (expired or dead):
            continue
        with conn:
            if job["attempts"] >= max_attempts:
                where = job["stage"] if job["stage"] != "queued" else "the start"
                reason = (
                    f"{_payload(job).get('shown') or 'this file'}: processing stopped {job['attempts']} times "
                    f"during {where} (the worker was stopped or the computer restarted); retry to try again"
                )
                n = conn.execute(
                    "UPDATE jobs SET stage = 'failed', error = ?, message = ?, claimed_by = NULL, claimed_pid = NULL,"
                    f" claimed_host = NULL, heartbeat_at = NULL, finished_at = {NOW_SQL}, updated_at = {NOW_SQL}"
                    " WHERE id = ? AND claimed_by = ?",
                    (reason, reason, job["id"], job["claimed_by"]),
                ).rowcount
                if n:  # a searchable recording whose re-embedding job died stays as it was
                    conn.execute(
                        f"UPDATE recordings SET status = 'failed', error = ?, updated_at = {NOW_SQL}"
                        " WHERE id = ? AND status != 'done'",
                        (reason, job["recording_id"]),
                    )
            else:
                n = conn.execute(
                    "UPDATE jobs SET claimed_by = NULL, claimed_pid = NULL, claimed_host = NULL, heartbeat_at = NULL,"
                    f" message = ?, updated_at = {NOW_SQL} WHERE id = ? AND claimed_by = ?",
                    (MSG_RESUMING, job["id"], job["claimed_by"]),
                ).rowcount
                if n:
                    conn.execute(
                        "UPDATE recordings SET status = 'pending' WHERE id = ? AND status = 'processing'",
                        (job["recording_id"],),
                    )
        if n:
            handled.append(job["id"])
    return handled
