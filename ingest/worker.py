"""Background processing: `kb worker`, and the worker thread of `kb serve`.

A worker loops: hand back the jobs of workers that died (:func:`queue.reclaim_stale`),
claim the oldest waiting job (:func:`queue.claim_next`, one atomic UPDATE), run
its stages (:mod:`ingest.stages`) while a heartbeat thread renews the claim, and
record how it ended.  `kb ingest` runs the very same stages inline through
:func:`execute`, so a file behaves the same whichever way it came in.

What happens when things go wrong:

* the file itself is bad (:class:`kb.errors.InputError`, ``MediaError``,
  ``DocumentError``): the job fails at once, with its one-line reason on the
  recording and the job; :func:`ingest.queue.retry` queues it again;
* anything else (disk full, a crash inside a library): tried again after
  ``job_retry_seconds``, ``job_max_attempts`` tries in all, then failed with the
  last reason;
* the worker is asked to stop (Ctrl+C, service stop, `kb serve` shutting down):
  the job is handed back and continues later from its last saved stage; this
  try does not count;
* the worker dies (kill -9, power cut): its claim stays behind; the next worker
  sees that the process is gone (same machine) or that its heartbeat is older
  than ``job_lease_seconds``, and takes the job over from its last saved stage.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ingest import queue
from ingest.stages import ClaimLost, Interrupted, JobRunner, WorkerStore, one_line, write_embedded
from kb.settings import Config

log = logging.getLogger("kb.worker")


@dataclass
class JobOutcome:
    """How one run of a job ended.  status: done | failed | retry | stopped | lost."""

    job_id: int
    recording_id: int | None
    status: str
    message: str = ""
    title: str | None = None

    def line(self) -> str:
        """One line for a terminal."""
        head = {
            "done": "done    ",
            "failed": "FAILED  ",
            "retry": "retry   ",
            "stopped": "stopped ",
            "lost": "dropped ",
        }[self.status]
        what = f"#{self.recording_id}" if self.recording_id is not None else f"job {self.job_id}"
        if self.status == "done":
            return f"{head} {what} {self.title or ''}".rstrip()
        return f"{head} {what} {self.message}".rstrip()


def _permanent(e: BaseException) -> bool:
    """Errors that say the file (or the setup) is wrong: trying again would fail the same way."""
    from ingest.documents import DocumentError
    from kb.errors import KBError, is_disk_full
    from media.errors import MediaError  # RecognizerError is one

    if is_disk_full(e):  # the machine's condition, not the file's: tried again later
        return False
    return isinstance(e, (KBError, MediaError, DocumentError))


class Heartbeat:
    """Renews a job's claim every ``interval`` seconds from its own thread and connection.

    Why a thread: a single Whisper call can run for minutes between progress
    reports.  ``lost`` is set when the claim is found gone (taken over, cancelled)."""

    def __init__(self, config: Config, job_id: int, claim_id: str, interval: float):
        self.config = config
        self.job_id = job_id
        self.claim_id = claim_id
        self.interval = max(0.05, float(interval))
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Heartbeat":
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.job_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _beat(self) -> None:
        from kb import db

        conn = db.connect(self.config.db_path)
        try:
            while not self._stop.wait(self.interval):
                try:
                    with conn:
                        n = conn.execute(
                            "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND claimed_by = ?",
                            (time.time(), self.job_id, self.claim_id),
                        ).rowcount
                except sqlite3.Error as e:  # busy for longer than the timeout: try at the next beat
                    log.warning("heartbeat of job %s: %s", self.job_id, e)
                    continue
                if n == 0:
                    self.lost.set()
                    return
        finally:
            conn.close()


def heartbeat_interval(config: Config) -> float:
    return min(10.0, config.get("job_lease_seconds") / 4)


def execute(
    config: Config,
    conn: sqlite3.Connection,
    stores,
    job_id: int,
    claim: queue.Claim,
    *,
    retry_errors: bool = True,
    recognizer=None,
    should_stop: Callable[[], bool] | None = None,
    progress=None,
) -> JobOutcome:
    """Run a job this caller has claimed, from its checkpoint to the end, and record how it ended.

    ``stores``: :class:`ingest.stages.FixedStore` or :class:`ingest.stages.WorkerStore`.
    ``retry_errors`` False (`kb ingest`): any error fails the job at once, as the
    person is waiting for the answer."""
    row = conn.execute("SELECT recording_id, payload FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return JobOutcome(job_id, None, "lost", "the job was removed")
    rec_id = row["recording_id"]
    stop = should_stop or (lambda: False)
    with Heartbeat(config, job_id, claim.worker_id, heartbeat_interval(config)) as beat:

        def check_stop() -> bool:
            if beat.lost.is_set():
                raise ClaimLost(f"job {job_id} was taken over or cancelled")
            return stop()

        runner = JobRunner(
            config,
            conn,
            stores,
            job_id,
            claim.worker_id,
            recognizer=recognizer,
            should_stop=check_stop,
            progress=progress,
        )
        try:
            rec = runner.run()
        except ClaimLost as e:
            log.info("job %s: %s", job_id, e)
            return JobOutcome(job_id, rec_id, "lost", str(e))
        except Interrupted:
            _release(conn, job_id, claim.worker_id)
            return JobOutcome(job_id, rec_id, "stopped", queue.MSG_PAUSED)
        except Exception as e:  # one job's failure never stops the worker
            if conn.in_transaction:  # nothing half-written is committed with the failure
                conn.rollback()
            reason = _reason(config, conn, rec_id, row["payload"], e)
            if _is_disk_full(e):
                reason = f"{queue.MSG_DISK_FULL} ({reason})"
            if not _permanent(e):
                log.warning("job %s failed: %s", job_id, reason, exc_info=True)
            _note_problem(conn, job_id, e)
            return _after_error(
                config, conn, stores, job_id, claim.worker_id, rec_id, reason, retry=retry_errors and not _permanent(e)
            )
    return JobOutcome(job_id, rec_id, "done", "", rec.get("title"))


def _reason(config: Config, conn: sqlite3.Connection, rec_id: int, payload: str, e: BaseException) -> str:
    """The error as one line naming the file as its owner knows it, not by its stored name."""
    import json

    text = one_line(e)
    rec = conn.execute("SELECT source_name, stored_path FROM recordings WHERE id = ?", (rec_id,)).fetchone()
    try:
        shown = json.loads(payload or "{}").get("shown")
    except (ValueError, AttributeError):
        shown = None
    shown = shown or (rec["source_name"] if rec else "") or "this file"
    if rec is not None and rec["stored_path"]:
        stored = config.home / rec["stored_path"]
        text = text.replace(str(stored), shown).replace(stored.name, Path(shown).name)
    if not text.startswith(shown) and shown not in text:
        text = f"{shown}: {text}"
    return text


def problem_of(e: BaseException) -> dict | None:
    """A stable code (and its values) for what went wrong, so pages can say it in the reader's language
    (web.problems); None when the error has no code (the English reason is shown as it is)."""
    from kb.errors import is_disk_full

    if is_disk_full(e):
        return {"code": "disk_full", "params": {}}
    code = getattr(e, "code", None)
    if isinstance(code, str) and code:
        params = getattr(e, "params", None) or {}
        return {"code": code, "params": {k: v for k, v in params.items() if isinstance(v, (str, int, float))}}
    return None


def _note_problem(conn: sqlite3.Connection, job_id: int, e: BaseException | None, problem: dict | None = None) -> None:
    """Keep the problem's code in the job (``problem``: one already named, e.g. by a remote worker)."""
    import json

    problem = problem_of(e) if e is not None else problem
    try:
        with conn:
            conn.execute(
                "UPDATE jobs SET payload = json_set(CASE WHEN json_valid(payload) THEN payload ELSE '{}' END,"
                " '$.problem', json(?)) WHERE id = ?",
                (json.dumps(problem, ensure_ascii=False), job_id),
            )
    except sqlite3.Error:  # the failure itself is recorded below; the code only helps the page say it
        log.warning("could not record the problem code of job %s", job_id, exc_info=True)


def _is_disk_full(e: BaseException) -> bool:
    from kb.errors import is_disk_full

    return is_disk_full(e)


def _after_error(config, conn, stores, job_id, claim_id, rec_id, reason, *, retry: bool) -> JobOutcome:
    attempts = conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if retry and attempts is not None and attempts[0] < config.get("job_max_attempts"):
        delay = config.get("job_retry_seconds")
        message = queue.MSG_DISK_FULL_RETRY if reason.startswith(queue.MSG_DISK_FULL) else queue.MSG_RETRYING
        with conn:
            n = conn.execute(
                "UPDATE jobs SET claimed_by = NULL, claimed_pid = NULL, claimed_host = NULL, heartbeat_at = NULL,"
                f" error = ?, message = ?, not_before = ?, updated_at = {queue.NOW_SQL} WHERE id = ? AND claimed_by = ?",
                (reason, message, time.time() + delay, job_id, claim_id),
            ).rowcount
            if n:
                conn.execute(
                    "UPDATE recordings SET status = 'pending' WHERE id = ? AND status = 'processing'", (rec_id,)
                )
        return JobOutcome(job_id, rec_id, "retry" if n else "lost", reason)
    with conn:
        n = conn.execute(
            "UPDATE jobs SET stage = 'failed', error = ?, message = ?, claimed_by = NULL, claimed_pid = NULL,"
            f" claimed_host = NULL, heartbeat_at = NULL, finished_at = {queue.NOW_SQL}, updated_at = {queue.NOW_SQL}"
            " WHERE id = ? AND claimed_by = ?",
            (reason, reason, job_id, claim_id),
        ).rowcount
        # A recording that is already searchable (a job that only embeds it again, e.g. after a new
        # title) stays as it was; the job shows the failure.
        hidden = (
            n
            and conn.execute(
                f"UPDATE recordings SET status = 'failed', error = ?, updated_at = {queue.NOW_SQL}"
                " WHERE id = ? AND status != 'done'",
                (reason, rec_id),
            ).rowcount
        )
    if hidden:
        _clear_chunks(config, conn, stores, rec_id)
    if n:  # the work files (extracted audio, ...) of a failed job only fill the disk (issue 16, defect 5)
        import shutil

        shutil.rmtree(queue.work_dir(config, rec_id), ignore_errors=True)
    return JobOutcome(job_id, rec_id, "failed" if n else "lost", reason)


def _clear_chunks(config: Config, conn: sqlite3.Connection, stores, rec_id: int) -> None:
    """A failed recording keeps no chunks (e.g. those of the file it was replacing)."""
    if conn.execute("SELECT 1 FROM chunks WHERE recording_id = ? LIMIT 1", (rec_id,)).fetchone() is None:
        return
    try:
        write_embedded(config, stores, rec_id, [])
    except Exception:  # noqa: BLE001 - the failure is already recorded; search skips failed recordings anyway
        log.warning("could not remove the chunks of failed recording %s", rec_id, exc_info=True)


def _release(conn: sqlite3.Connection, job_id: int, claim_id: str) -> None:
    """Hand a job back untouched after a stop; this try does not count."""
    with conn:
        row = conn.execute(
            "UPDATE jobs SET claimed_by = NULL, claimed_pid = NULL, claimed_host = NULL, heartbeat_at = NULL,"
            f" attempts = MAX(attempts - 1, 0), message = ?, updated_at = {queue.NOW_SQL}"
            " WHERE id = ? AND claimed_by = ? RETURNING recording_id",
            (queue.MSG_PAUSED, job_id, claim_id),
        ).fetchone()
        if row is not None:
            conn.execute("UPDATE recordings SET status = 'pending' WHERE id = ? AND status = 'processing'", (row[0],))


class Worker:
    """Claims and runs jobs of one knowledge base, one at a time.

    Several workers (threads or processes) may share a knowledge base: a job is
    only ever run by the one that claimed it."""

    def __init__(
        self,
        config: Config,
        *,
        label: str = "worker",
        on_event: Callable[[str], None] | None = None,
        route: str | None = None,
    ):
        self.config = config
        self.route = route  # 'local': only the jobs left to the server when remote workers take the rest
        self.claim = queue.Claim.mine(label)
        self.on_event = on_event
        self._conn: sqlite3.Connection | None = None
        self._stores: WorkerStore | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            from kb.home import open_db

            self._conn = open_db(self.config, create=True)
        return self._conn

    def run_once(self, stop_event: threading.Event | None = None) -> JobOutcome | None:
        """Run the next waiting job to its end; None when no job is waiting."""
        for job_id in queue.reclaim_stale(self.config, self.conn):
            log.info("job %s handed back: its worker stopped reporting", job_id)
        row = queue.claim_next(self.conn, self.claim, self.route)
        if row is None:
            return None
        self._emit(f"started  job {row['id']} (#{row['recording_id']}, try {row['attempts']})")
        if self._stores is None:
            self._stores = WorkerStore(self.config, self.conn)
        outcome = execute(
            self.config,
            self.conn,
            self._stores,
            row["id"],
            self.claim,
            should_stop=stop_event.is_set if stop_event is not None else None,
        )
        self._emit(outcome.line())
        return outcome

    def run_until_empty(self, stop_event: threading.Event | None = None) -> list[JobOutcome]:
        """Run jobs until none is waiting (jobs scheduled for a later retry are left)."""
        outcomes = []
        while stop_event is None or not stop_event.is_set():
            outcome = self.run_once(stop_event)
            if outcome is None:
                break
            outcomes.append(outcome)
        return outcomes

    def run_forever(self, stop_event: threading.Event, poll_seconds: float = 2.0) -> None:
        """Run jobs until ``stop_event`` is set, looking at an empty queue every ``poll_seconds``."""
        while not stop_event.is_set():
            try:
                outcome = self.run_once(stop_event)
            except Exception:  # noqa: BLE001 - e.g. the database busy for longer than its timeout
                log.exception("worker: error between jobs")
                outcome = None
            if outcome is None:
                stop_event.wait(poll_seconds)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._stores = None

    def _emit(self, line: str) -> None:
        log.info("%s", line)
        if self.on_event is not None:
            self.on_event(line)


class BackgroundWorker:
    """One worker in a daemon thread (what `kb serve` runs beside the web server)."""

    def __init__(self, config: Config, poll_seconds: float = 2.0, route: str | None = None):
        self.config = config
        self.poll_seconds = poll_seconds
        self.route = route
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kb-worker", daemon=True)

    def start(self) -> "BackgroundWorker":
        self.thread.start()
        return self

    def _run(self) -> None:
        lower_priority()
        worker = Worker(self.config, label="serve", route=self.route)
        try:
            worker.run_forever(self.stop_event, self.poll_seconds)
        finally:
            worker.close()

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the worker to stop (a running job is handed back at its next progress report); True when it has."""
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
        return not self.thread.is_alive()


def lower_priority(step: int = 10) -> None:
    """Run the calling thread (and the threads it starts, e.g. Whisper's) below the web server.

    Why: on a two-core workshop PC a transcription would otherwise slow every
    search and page view while it runs.  Linux gives each thread its own nice
    value; elsewhere this does nothing."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + step))
    except (AttributeError, OSError):
        pass
