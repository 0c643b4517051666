"""Handing transcription jobs to workers on other machines, through a Redis queue (RQ).

Only used when the ``queue`` setting names a Redis server; without it `kb serve`
runs its one in-process worker and needs no Redis at all (ingest/worker.py).

Who decides what (why the server keeps the say): the job table in the server's
SQLite stays the one truth about every job.  Redis only carries messages
("job 12, attempt remote:3f9a..., please"), so losing Redis loses no work.

* :class:`Dispatcher` (a thread of `kb serve`) routes each new job: a video or
  sound file whose original browsers can play goes to the remote workers; the
  rest -- documents, subtitles, re-embedding after an edit, videos that need a
  browser copy -- are light or need the server's disk, and stay with the
  server's own worker thread (route ``local``).
* For a remote job it *claims* the job in SQLite under a fresh attempt name and
  puts a message naming that attempt on the RQ queue.  While the message waits
  in Redis the lease is kept alive; once a worker starts it, the worker's
  heartbeats over HTTP keep it alive (web/views/api_worker.py).
* A worker that dies (kill -9, network cut, machine gone) stops sending
  heartbeats; after ``job_lease_seconds`` :func:`ingest.queue.reclaim_stale`
  hands the job back and the dispatcher sends it again under a *new* attempt
  name -- to whichever worker is free.  Its old attempt can no longer write
  anything: the server applies a result only for the attempt that holds the job
  (ingest/results.py), so a late result is discarded and no passage is written
  twice.  A job that keeps dying fails after ``job_max_attempts`` tries.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

from ingest import queue
from kb.settings import Config

log = logging.getLogger("kb.dispatch")

QUEUE_NAME = "takumi-kb-transcribe"
REMOTE_HOST = "remote"  # claimed_host of an attempt no worker has started yet
REMOTE_PREFIX = queue.REMOTE_PREFIX  # claimed_host once a worker started it: remote/<worker name>
MSG_WAITING_REMOTE = queue.MSG_WAITING  # the studio shows the same words as for the built-in worker


def redis_url(config: Config) -> str | None:
    """The ``queue`` setting: a redis:// (or rediss://, unix://) address, or None for the in-process worker."""
    url = config.get("queue").strip()
    if not url or url.lower() in ("local", "none", "sqlite"):
        return None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"queue = {url!r}: expected redis://host:6379/0 (or empty for the built-in worker)")
    return url


def connect_redis(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)


def remote_route(config: Config, conn, job) -> bool:
    """Whether a queued job goes to the remote workers (see the module docstring)."""
    from media import ffmpeg

    payload = queue._payload(job)
    if job["completed_stage"] is not None or payload.get("subtitle"):
        return False
    rec = conn.execute(
        "SELECT kind, format, stored_path FROM recordings WHERE id = ?", (job["recording_id"],)
    ).fetchone()
    if rec is None or rec["kind"] not in ("video", "audio") or not rec["stored_path"]:
        return False
    try:
        info = ffmpeg.probe(
            config.home / rec["stored_path"], timeout=60, binary=ffmpeg.ffmpeg_binary(config.get("ffmpeg"))
        )
    except (ffmpeg.MediaError, OSError):
        return False  # the local worker gives the one clear error
    return info.has_audio and ffmpeg.browser_playable(info, rec["format"])


def claim_for_remote(conn) -> tuple[dict, str] | None:
    """Claim the oldest waiting job routed 'remote' under a fresh attempt name: (job id and recording id,
    attempt), or None.  Only that attempt can then report on the job or hand back its result."""
    attempt = f"remote:{uuid.uuid4().hex}"
    with conn:
        job = conn.execute(
            "UPDATE jobs SET claimed_by = ?, claimed_pid = NULL, claimed_host = ?, heartbeat_at = ?,"
            f" attempts = attempts + 1, message = ?, started_at = COALESCE(started_at, {queue.NOW_SQL}),"
            f" updated_at = {queue.NOW_SQL}"
            " WHERE id = (SELECT id FROM jobs WHERE claimed_by IS NULL AND stage NOT IN ('done', 'failed')"
            "             AND not_before <= ? AND json_extract(payload, '$.route') = 'remote' ORDER BY id LIMIT 1)"
            "   AND claimed_by IS NULL RETURNING id, recording_id",
            (attempt, REMOTE_HOST, time.time(), MSG_WAITING_REMOTE, time.time()),
        ).fetchone()
        if job is None:
            return None
        conn.execute(
            "UPDATE recordings SET status = 'processing' WHERE id = ? AND status != 'done'", (job["recording_id"],)
        )
    return {"id": job["id"], "recording_id": job["recording_id"]}, attempt


def start_remote(conn, job_id: int, attempt: str, worker_name: str, message: str) -> bool:
    """A worker on another machine begins attempt ``attempt`` of the job: its name becomes the job's host
    (remote/<name>), its stage 'extracting' with ``message``.  False when the attempt was superseded."""
    with conn:
        return (
            conn.execute(
                "UPDATE jobs SET claimed_host = ?, heartbeat_at = ?, stage = 'extracting', progress = 0, message = ?"
                " WHERE id = ? AND claimed_by = ?",
                (REMOTE_PREFIX + worker_name, time.time(), message, job_id, attempt),
            ).rowcount
            > 0
        )


class Dispatcher:
    """Routes new jobs and sends remote ones to the RQ queue (one loop; see the module docstring)."""

    def __init__(self, config: Config, url: str, *, poll_seconds: float = 1.0):
        from rq import Queue

        from kb.home import open_db

        self.config = config
        self.poll_seconds = poll_seconds
        self.redis = connect_redis(url)
        self.rq = Queue(QUEUE_NAME, connection=self.redis)
        self.conn = open_db(config, create=True)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kb-dispatch", daemon=True)

    def start(self) -> "Dispatcher":
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
        return not self.thread.is_alive()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - Redis away for a moment, the database busy: next round
                log.exception("dispatcher: error (trying again)")
            self.stop_event.wait(self.poll_seconds)

    def run_once(self) -> list[int]:
        """One round: hand back dead attempts, route new jobs, keep waiting messages alive, send new ones.
        Returns the ids of the jobs sent."""
        for job_id in queue.reclaim_stale(self.config, self.conn):
            log.info("job %s handed back: its worker stopped reporting", job_id)
        self.route_new()
        self.keep_waiting_alive()
        sent = []
        while (job_id := self.send_next()) is not None:
            sent.append(job_id)
        return sent

    def route_new(self) -> None:
        rows = self.conn.execute(
            "SELECT * FROM jobs WHERE claimed_by IS NULL AND stage NOT IN ('done', 'failed')"
            " AND json_extract(payload, '$.route') IS NULL ORDER BY id"
        ).fetchall()
        for job in rows:
            route = "remote" if remote_route(self.config, self.conn, job) else "local"
            with self.conn:
                self.conn.execute(
                    "UPDATE jobs SET payload = json_set(payload, '$.route', ?) WHERE id = ? AND claimed_by IS NULL",
                    (route, job["id"]),
                )

    def send_next(self) -> int | None:
        """Claim the oldest waiting remote job under a new attempt name and put its message on the queue."""
        claimed = claim_for_remote(self.conn)
        if claimed is None:
            return None
        job, attempt = claimed
        lease = self.config.get("job_lease_seconds")
        try:
            message = self.rq.enqueue_call(
                "ingest.remote_worker.run_job",
                kwargs={"job_id": job["id"], "attempt": attempt},
                job_id=f"kb-job-{job['id']}-{attempt.split(':')[1][:12]}",
                timeout=int(self.config.get("ffmpeg_timeout")) * 4,
                result_ttl=3600,
                failure_ttl=24 * 3600,
                ttl=None,
            )
        except Exception:
            # Redis unreachable: hand the job back at once, and this try does not count (an hour without
            # Redis must not fail the uploads waiting meanwhile).
            with self.conn:
                self.conn.execute(
                    "UPDATE jobs SET claimed_by = NULL, claimed_host = NULL, heartbeat_at = NULL,"
                    " attempts = MAX(attempts - 1, 0) WHERE id = ? AND claimed_by = ?",
                    (job["id"], attempt),
                )
            raise
        with self.conn:
            self.conn.execute(
                "UPDATE jobs SET payload = json_set(payload, '$.rq_job', ?) WHERE id = ? AND claimed_by = ?",
                (message.id, job["id"], attempt),
            )
        log.info("job %s sent to the transcription workers as %s (lease %.0f s)", job["id"], attempt, lease)
        return int(job["id"])

    def keep_waiting_alive(self) -> None:
        """Renew the lease of attempts whose message still waits in Redis (no worker free yet: not dead).

        A message that Redis lost (restarted without saving) is not renewed: its lease runs out and the
        job is sent again."""
        from rq.job import Job, JobStatus

        rows = self.conn.execute(
            "SELECT id, claimed_by, payload FROM jobs WHERE claimed_host = ? AND stage NOT IN ('done', 'failed')",
            (REMOTE_HOST,),
        ).fetchall()
        for row in rows:
            rq_id = json.loads(row["payload"] or "{}").get("rq_job")
            if not rq_id:
                continue
            try:
                status = Job.fetch(rq_id, connection=self.redis).get_status()
            except Exception:  # noqa: BLE001 - no such message any more
                continue
            if status == JobStatus.QUEUED:
                with self.conn:
                    self.conn.execute(
                        "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND claimed_by = ?",
                        (time.time(), row["id"], row["claimed_by"]),
                    )


class RemoteProcessing:
    """What `kb serve` runs when the ``queue`` setting names Redis: the dispatcher, and one worker thread
    of its own for the jobs routed ``local`` (documents, subtitles, re-embedding, browser copies)."""

    def __init__(self, config: Config, url: str):
        from ingest.worker import BackgroundWorker

        self.dispatcher = Dispatcher(config, url)
        self.local = BackgroundWorker(config, route="local")

    def start(self) -> "RemoteProcessing":
        self.dispatcher.start()
        self.local.start()
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        a = self.dispatcher.stop(timeout)
        return self.local.stop(timeout) and a
