"""The ingest pipeline as `kb ingest` runs it: files in, searchable recordings out, right now.

Each file goes through the same path as an upload -- checked and stored by
:mod:`ingest.queue`, then the resumable stages of :mod:`ingest.stages` (extract
-> transcribe -> chunk and embed -> index) -- but run inline by this process,
which holds the job's claim from the start so no background worker takes it
meanwhile.  If `kb ingest` is killed, the job stays behind and a worker (or the
next `kb ingest` of the same file) continues it from its last saved stage.

One file at a time, each in its own failure boundary: a file that cannot be
read gets one clear reason (on its recording, if one was created, and in the
returned result) and the rest of the batch goes on.  Files are identified by
their sha256, so ingesting the same file again duplicates nothing and reports
the existing recording.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ingest import queue
from ingest.queue import sha256_of  # noqa: F401 - kept importable from here
from ingest.stages import guess_language, one_line
from kb import recordings
from kb.errors import InputError
from kb.recordings import RecordingMeta
from kb.settings import Config
from search.store import SearchStore


@dataclass
class IngestResult:
    path: str
    status: str  # added | exists | failed
    recording_id: int | None = None
    message: str = ""
    title: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


Progress = Callable[[str, float], None]  # (stage, fraction 0..1)


def iter_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files named, and files under folders named (recursively, sorted, hidden files skipped).

    Subtitle files are yielded too; the pipeline skips those that sit beside a
    video of the same stem (they become that video's transcript)."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name
        else:
            yield p


def _media_extensions() -> set[str]:
    from ingest.detect import AUDIO_FORMATS, EXTENSIONS, VIDEO_FORMATS

    return {"." + ext for fmt in VIDEO_FORMATS | AUDIO_FORMATS for ext in EXTENSIONS[fmt]}


def companion_subtitle(media: Path) -> Path | None:
    """`same-stem.srt` / `.vtt` beside a video: used as its transcript instead of speech recognition."""
    for ext in (".srt", ".vtt", ".SRT", ".VTT"):
        candidate = media.with_suffix(ext)
        if candidate.is_file():
            return candidate
    return None


def is_companion_subtitle(path: Path) -> bool:
    if path.suffix.lower() not in (".srt", ".vtt"):
        return False
    siblings = {p.suffix.lower() for p in path.parent.glob(glob_escape(path.stem) + ".*")}
    return bool(siblings & _media_extensions())


def glob_escape(text: str) -> str:
    import glob

    return glob.escape(text)


class Ingestor:
    """Ingests files (or raw text) into one knowledge base, inline (see the module docstring)."""

    def __init__(self, config: Config, conn: sqlite3.Connection, store: SearchStore | None = None):
        self.config = config
        self.conn = conn
        self.store = store or SearchStore(config, conn)
        self.claim = queue.Claim.mine("kb-ingest")

    # -- public --------------------------------------------------------------------
    def ingest_paths(
        self,
        paths: Iterable[str | os.PathLike],
        meta: RecordingMeta | None = None,
        on_file: Callable[[IngestResult], None] | None = None,
    ) -> list[IngestResult]:
        files = list(iter_files(paths))
        results = []
        with self.store.batch():
            self._ingest_files(files, meta, on_file, results)
        return results

    def _ingest_files(self, files, meta, on_file, results) -> None:
        for path in files:
            if is_companion_subtitle(path):
                continue  # a video's subtitles: taken with the video
            result = self.ingest_file(path, meta or RecordingMeta())
            results.append(result)
            if on_file:
                on_file(result)

    def ingest_file(
        self, path: str | os.PathLike, meta: RecordingMeta, progress: Progress | None = None
    ) -> IngestResult:
        path = Path(path)
        shown = str(path)
        try:
            submitted = queue.enqueue(
                self.config,
                self.conn,
                path,
                path.name,
                meta,
                shown=shown,
                claim=self.claim,
                companion=companion_subtitle(path) if path.is_file() else None,
            )
        except (InputError, OSError) as e:
            return IngestResult(shown, "failed", message=one_line(e))
        if submitted.status == "exists":
            return IngestResult(shown, "exists", submitted.recording_id, submitted.message, submitted.title)
        return self._run(shown, submitted.recording_id, submitted.job_id, progress)

    def ingest_text(
        self, title: str, text: str, meta: RecordingMeta | None = None, source_name: str | None = None
    ) -> IngestResult:
        """A written recording from text in memory (used by `kb eval` and the demo builder)."""
        meta = meta or RecordingMeta()
        shown = source_name or title
        body = unicodedata.normalize("NFC", text or "").strip()
        if not body:
            return IngestResult(shown, "failed", message=f"{title}: empty text")
        sha = hashlib.sha256(("text\0" + title + "\0" + body).encode("utf-8")).hexdigest()
        existing = recordings.find_by_sha256(self.conn, sha)
        if existing is not None and existing["status"] == "done":
            return IngestResult(shown, "exists", existing["id"], "already present", title)
        with self.conn:
            if existing is not None:
                rec_id = existing["id"]
                queue.cancel_active(self.conn, rec_id, "superseded by the same text added again")
            else:
                rec_id = recordings.create(
                    self.conn,
                    title=title,
                    kind="document",
                    fmt="txt",
                    source_name=source_name or f"{title}.txt",
                    sha256=sha,
                    size_bytes=len(body.encode()),
                    meta=meta,
                    status="processing",
                )
            recordings.replace_segments(self.conn, rec_id, [{"page": None, "text": body}])
            recordings.update(
                self.conn,
                rec_id,
                status="processing",
                error=None,
                transcript_source="text",
                language=meta.language or guess_language(body),
            )
            # The text is already there: the job starts after "transcribing".
            job_id = queue.insert_job(
                self.conn, rec_id, {"shown": shown, "title_given": True}, self.claim, completed_stage="transcribing"
            )
        return self._run(shown, rec_id, job_id, None)

    # -- running a claimed job inline ------------------------------------------------------
    def _run(self, shown: str, rec_id: int, job_id: int, progress: Progress | None) -> IngestResult:
        from ingest.stages import FixedStore
        from ingest.worker import execute

        outcome = execute(
            self.config,
            self.conn,
            FixedStore(self.store),
            job_id,
            self.claim,
            retry_errors=False,
            recognizer=self._recognizer,
            progress=progress,
        )
        title = recordings.get(self.conn, rec_id)["title"] if outcome.status != "lost" else None
        if outcome.status == "done":
            return IngestResult(shown, "added", rec_id, "", title)
        return IngestResult(shown, "failed", rec_id, outcome.message, title)

    def _recognizer(self):
        from ingest.stages import recognizer_for

        return recognizer_for(self.config)
