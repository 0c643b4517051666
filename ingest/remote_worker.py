"""A transcription worker on another machine: takes jobs from Redis, talks to the server over HTTP.

`kb worker --queue redis://HOST:6379/0 --server http://kb.local:5000/` (token:
setting ``worker_token``) runs an RQ worker on the dispatcher's queue
(ingest/dispatch.py).  For each message (job id + attempt) :func:`run_job`:

1. asks the server to start the attempt (409: superseded -> dropped at once),
   and gets what to do: the file's format and checksum, language, hot words,
   the title, the embedders the knowledge base searches with;
2. downloads the original into its own scratch folder (no shared disk) and
   checks its sha256;
3. runs the heavy stages with ITS OWN settings -- decoding (ffmpeg), speech
   recognition (whisper_model, whisper_device: a GPU box sets cuda, threads),
   cutting the passages and embedding them with the server's embedders;
4. posts the transcript, passages and vectors; the server verifies and writes
   them (ingest/results.py) -- the worker never touches SQLite or the index.

A heartbeat thread renews the lease every few seconds.  When the worker dies
the heartbeats stop, and the server gives the job to another worker after
``job_lease_seconds``; when the server answers 409 (the attempt was given to
someone else, or the recording was deleted) the worker stops at its next
progress report and sends nothing.  Its scratch folder is emptied after each
job, whatever happened.

Why RQ's SimpleWorker (jobs run in the worker process itself, not in a forked
child): the Whisper model and the embedders stay loaded from one job to the
next, and killing the worker kills its job with it (no orphan that would go on
sending heartbeats).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("kb.remote_worker")


class Superseded(Exception):
    """The server no longer wants this attempt (given to another worker, cancelled, deleted)."""


class ServerError(Exception):
    pass


@dataclass
class Context:
    """What this worker process knows: its settings, the server and its token, its name."""

    config: object
    server: str
    token: str
    name: str

    @property
    def scratch(self) -> Path:
        return self.config.home / "remote-work"


_CONTEXT: Context | None = None


def configure(config, server: str, token: str, name: str | None = None) -> Context:
    """Set this process up as a remote worker (called by `kb worker` before the RQ worker starts)."""
    global _CONTEXT
    if not server.startswith(("http://", "https://")):
        raise ValueError(f"worker_server = {server!r}: expected http(s)://host:port/")
    if not token:
        raise ValueError("a worker token is needed (on the server: kb worker-token create NAME)")
    _CONTEXT = Context(config, server.rstrip("/"), token, name or f"{socket.gethostname()}:{os.getpid()}")
    return _CONTEXT


class Client:
    """The worker API (web/views/api_worker.py) over HTTP(S), with the worker token."""

    def __init__(self, ctx: Context, job_id: int, attempt: str):
        self.ctx, self.job_id, self.attempt = ctx, job_id, attempt

    def _url(self, what: str, **query) -> str:
        q = f"?{urllib.parse.urlencode(query)}" if query else ""
        return f"{self.ctx.server}/api/v1/worker/jobs/{self.job_id}/{what}{q}"

    def _open(self, request: urllib.request.Request, timeout: float):
        request.add_header("Authorization", f"Bearer {self.ctx.token}")
        try:
            return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) only, checked above
        except urllib.error.HTTPError as e:
            try:
                detail = json.loads(e.read() or b"{}").get("error") or e.reason
            except ValueError:
                detail = e.reason
            if e.code in (409, 410):
                raise Superseded(str(detail)) from None
            raise ServerError(f"server answered {e.code}: {detail}") from None

    def post(self, what: str, body: dict, timeout: float = 60) -> dict:
        data = json.dumps({"attempt": self.attempt, **body}, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(
            self._url(what), data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        with self._open(request, timeout) as response:
            return json.loads(response.read() or b"{}")

    def download(self, dest: Path, size_limit: int, sha256: str) -> Path:
        request = urllib.request.Request(self._url("original", attempt=self.attempt))
        h, got = hashlib.sha256(), 0
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self._open(request, 120) as response, open(dest, "wb") as f:
            while block := response.read(1 << 20):
                got += len(block)
                if got > size_limit:
                    raise ServerError("the original is larger than the server said")
                h.update(block)
                f.write(block)
        if h.hexdigest() != sha256:
            raise ServerError("the original arrived damaged (its sha256 differs)")
        return dest


class Beat:
    """Sends the attempt's heartbeat (and its stage and progress) every ``interval`` seconds."""

    def __init__(self, client: Client, interval: float):
        self.client, self.interval = client, interval
        self.stage, self.progress = "extracting", 0.0
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="remote-heartbeat", daemon=True)

    def __enter__(self) -> "Beat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def set(self, stage: str, progress: float) -> None:
        """Called by the stages; raises :class:`Superseded` once the server has said so."""
        self.stage, self.progress = stage, progress
        if self.lost.is_set():
            raise Superseded("the server gave this job to another worker")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.client.post(
                    "heartbeat", {"stage": self.stage, "progress": _overall(self.stage, self.progress)}, timeout=30
                )
            except Superseded:
                self.lost.set()
                return
            except (ServerError, OSError) as e:  # the server away for a moment: the lease allows for it
                log.warning("heartbeat of job %s: %s", self.client.job_id, e)


_OVERALL = {"extracting": (0.0, 0.1), "transcribing": (0.1, 0.8), "embedding": (0.8, 0.95)}


def _overall(stage: str, fraction: float) -> float:
    lo, hi = _OVERALL[stage]
    return round(lo + (hi - lo) * max(0.0, min(1.0, fraction)), 4)


def run_job(job_id: int, attempt: str) -> str:
    """The RQ job: process one attempt of one job (see the module docstring).  Returns how it ended."""
    ctx = _CONTEXT
    if ctx is None:
        raise RuntimeError("this process is not set up as a remote worker (kb worker --queue ... --server ...)")
    client = Client(ctx, int(job_id), str(attempt))
    folder = ctx.scratch / f"job-{int(job_id)}-{attempt.split(':')[-1][:12]}"
    spec: dict = {}
    # Heartbeats from the first moment to the last: the server may take a while to answer "start" (loading
    # its embedders once) or to apply the result, and the lease must not run out meanwhile.
    try:
        with Beat(client, 1.0) as beat:
            spec = client.post("start", {"worker": ctx.name})
            beat.interval = float(spec.get("heartbeat_seconds") or 10)
            result = process(ctx, client, spec, folder, beat)
            beat.set("embedding", 1.0)
            client.post("result", result, timeout=600)
        log.info("job %s done (%d passages)", job_id, len(result["chunks"]))
        return "done"
    except Superseded as e:
        log.info("job %s %s: dropped (%s)", job_id, attempt, e)
        return "superseded"
    except Exception as e:  # noqa: BLE001 - say why to the server, which decides about another try
        from ingest.documents import DocumentError
        from ingest.stages import one_line
        from ingest.worker import problem_of
        from kb.errors import InputError
        from media.errors import MediaError

        # The file's own fault fails the job; anything else (this machine's setup, a crash) lets another try.
        permanent = isinstance(e, (InputError, MediaError, DocumentError))
        reason = f"{spec.get('shown') or 'this file'}: {one_line(e)}"
        log.warning("job %s failed: %s", job_id, reason, exc_info=not permanent)
        try:
            client.post("failed", {"reason": reason, "permanent": permanent, "problem": problem_of(e)})
        except (Superseded, ServerError, OSError):
            pass  # the lease runs out and the job is tried again
        return "failed"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def process(ctx: Context, client: Client, spec: dict, folder: Path, beat: Beat) -> dict:
    """Download, decode, transcribe, cut and embed: the result to post (nothing is written anywhere else)."""
    from ingest.chunking import chunk_transcript
    from ingest.results import encode_vectors
    from ingest.stages import _segment_rows, read_wav, recognizer_for, with_vocabulary
    from kb.errors import InputError
    from media import ffmpeg
    from search.store import indexed_text

    config = ctx.config
    original = client.download(folder / f"original.{spec['format']}", int(spec["size_bytes"]), spec["sha256"])
    beat.set("extracting", 0.3)
    binary, timeout = ffmpeg.ffmpeg_binary(config.get("ffmpeg")), config.get("ffmpeg_timeout")
    info = ffmpeg.probe(original, timeout=timeout, binary=binary)
    wav = ffmpeg.extract_audio_file(original, folder / "audio.wav", timeout=timeout, binary=binary)
    audio = read_wav(wav)
    beat.set("transcribing", 0.0)
    _test_pause("transcribing", beat)
    recognizer = recognizer_for(config)
    from media.asr import choose_language

    # The server sends the recording's organisation's language (a server before it: this machine's setting).
    language, why = choose_language(
        recognizer,
        audio,
        spec.get("language") or _auto(config.get("language")),
        spec.get("fallback_language") or config.get("fallback_language"),
    )
    # The server sends its built-in vocabulary ranked for this recording (empty when switched off there).
    hotwords = with_vocabulary(config, recognizer, spec.get("hotwords") or [], spec.get("vocabulary") or [], language)
    transcript = recognizer.transcribe(
        audio, language=language, hotwords=hotwords, progress=lambda f: beat.set("transcribing", f)
    )
    rows = _segment_rows(transcript.segments)
    beat.set("embedding", 0.0)
    cut = chunk_transcript(
        rows, min_seconds=float(spec["chunk_min_seconds"]), max_seconds=float(spec["chunk_max_seconds"])
    )
    chunks = [{"text": c.text, "start": c.start, "end": c.end} for c in cut if c.text.strip()]
    if not chunks:
        raise InputError(f"{spec.get('shown')}: no text could be taken from it (nothing was said or written)")
    texts = [indexed_text(spec["title"], c["text"]) for c in chunks]
    emb = _embedder(config, spec["embed_model"], spec["embed_fingerprint"])
    vectors = emb.encode_passages(texts)
    beat.set("embedding", 0.6)
    vectors2 = None
    if spec.get("second_fingerprint"):
        second = _embedder(config, spec["second_embed_model"], spec["second_fingerprint"], threads=1)
        vectors2 = second.encode_passages(texts)
    return {
        "title": spec["title"],
        "segments": rows,
        "chunks": chunks,
        "embed_fingerprint": emb.fingerprint,
        "vectors": encode_vectors(vectors),
        "second_fingerprint": spec.get("second_fingerprint"),
        "vectors2": encode_vectors(vectors2),
        "language": transcript.language,
        "duration": info.duration or transcript.duration,
        "asr": getattr(recognizer, "name", "asr"),
        "warnings": [*(getattr(transcript, "warnings", None) or []), *([why] if why else [])],
        "worker": ctx.name,
    }


def _embedder(config, spec: str, fingerprint: str, threads: int | None = None):
    """The embedder the server names, run here; refused when this machine's copy gives other vectors."""
    from search.embedders import load_embedder

    emb = load_embedder(spec, threads=threads or config.threads(), engine=config.get("embed_engine"))
    if emb.fingerprint != fingerprint:
        raise RuntimeError(
            f"this worker's embedder {spec!r} is {emb.fingerprint!r}, the server's {fingerprint!r}: "
            "install the same version on both"
        )
    return emb


def _test_pause(stage: str, beat: Beat) -> None:
    """Test-only (never set in production): KB_TEST_REMOTE_PAUSE=<stage> holds the job at the start of that
    stage, heartbeats going, until the worker is killed -- lets a test kill a worker mid-transcription."""
    import time

    if os.environ.get("KB_TEST_REMOTE_PAUSE") == stage:
        while True:
            beat.set(stage, 0.0)
            time.sleep(0.05)


def _auto(value: str) -> str | None:
    return None if not value or value == "auto" else value


def work(config, redis_url: str, server: str, token: str, *, name: str | None = None, burst: bool = False) -> None:
    """Run the RQ worker until stopped (Ctrl+C / SIGTERM end it after the current job)."""
    from rq import Queue, SimpleWorker

    from ingest.dispatch import QUEUE_NAME, connect_redis

    ctx = configure(config, server, token, name)
    ctx.scratch.mkdir(parents=True, exist_ok=True)
    conn = connect_redis(redis_url)
    worker = SimpleWorker(
        [Queue(QUEUE_NAME, connection=conn)], connection=conn, name=f"kb-{ctx.name}".replace(" ", "_")[:100]
    )
    worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)
