"""The ingest pipeline: detect kind -> extract text or transcribe -> chunk -> embed -> index.

One file at a time, each in its own failure boundary: a file that cannot be
read gets one clear reason (on its recording, if one was created, and in the
returned result) and the rest of the batch goes on.  Files are identified by
their sha256, so ingesting the same file again duplicates nothing and reports
the existing recording.  Each recording has a job row whose stage and progress
say where processing is (the web studio and `kb worker` read the same table).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from kb import recordings
from kb.errors import InputError, KBError
from kb.recordings import RecordingMeta
from kb.settings import Config
from search.store import ChunkIn, SearchStore


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


def sha256_of(path: Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


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


def guess_language(text: str) -> str | None:
    """'ja' when the text is mostly kana/kanji, 'en' when mostly Latin letters."""
    sample = text[:4000]
    cjk = sum(1 for ch in sample if "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff")
    latin = sum(1 for ch in sample if ch.isascii() and ch.isalpha())
    if cjk == 0 and latin == 0:
        return None
    return "ja" if cjk * 3 >= latin else "en"


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
    """Ingests files (or raw text) into one knowledge base."""

    def __init__(self, config: Config, conn: sqlite3.Connection, store: SearchStore | None = None):
        self.config = config
        self.conn = conn
        self.store = store or SearchStore(config, conn)

    # -- public --------------------------------------------------------------------
    def ingest_paths(self, paths: Iterable[str | os.PathLike], meta: RecordingMeta | None = None,
                     on_file: Callable[[IngestResult], None] | None = None) -> list[IngestResult]:
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

    def ingest_file(self, path: str | os.PathLike, meta: RecordingMeta, progress: Progress | None = None) -> IngestResult:
        path = Path(path)
        shown = str(path)
        try:
            if not path.is_file():
                raise InputError(f"{shown}: no such file")
            size = path.stat().st_size
            if size == 0:
                raise InputError(f"{shown}: empty file (0 bytes)")
            limit = self.config.get_int("max_upload_bytes")
            if size > limit:
                raise InputError(f"{shown}: file is larger than the limit of {limit} bytes")
            sha = sha256_of(path)
        except (InputError, OSError) as e:
            return IngestResult(shown, "failed", message=_one_line(e))

        existing = recordings.find_by_sha256(self.conn, sha)
        if existing is not None and existing["status"] == "done":
            return IngestResult(shown, "exists", existing["id"], f"already in the knowledge base as recording {existing['id']}",
                                existing["title"])

        from ingest.detect import detect

        detected = detect(path)
        if detected.kind not in ("video", "audio", "document", "subtitle"):
            return IngestResult(shown, "failed", message=f"{shown}: {detected.reason or 'unsupported file type'}")
        kind = "document" if detected.kind == "subtitle" else detected.kind

        title = meta.title or path.stem
        if existing is not None:  # an earlier attempt failed or was interrupted: process the same row again
            rec_id = existing["id"]
            with self.conn:
                recordings.update(self.conn, rec_id, status="processing", error=None)
        else:
            with self.conn:
                rec_id = recordings.create(
                    self.conn, title=title, kind=kind, fmt=detected.format, source_name=path.name, sha256=sha,
                    size_bytes=size, meta=meta, status="processing")
        job_id = self._start_job(rec_id)
        try:
            stored = self._store_original(path, sha, detected.format)
            with self.conn:
                recordings.update(self.conn, rec_id, stored_path=stored)
            if kind == "document":
                title = self._process_document(rec_id, job_id, path, detected.format, meta, title)
            else:
                self._process_media(rec_id, job_id, path, kind, meta, progress)
            self._finish_job(rec_id, job_id)
            return IngestResult(shown, "added", rec_id, "", title)
        except Exception as e:  # one file's failure never stops the batch
            reason = _one_line(e)
            if not reason.startswith(shown) and shown not in reason:
                reason = f"{shown}: {reason}"
            with self.conn:
                recordings.mark_failed(self.conn, rec_id, reason)
                self._job(job_id, stage="failed", error=reason, message=reason)
            return IngestResult(shown, "failed", rec_id, reason, title)

    def ingest_text(self, title: str, text: str, meta: RecordingMeta | None = None, source_name: str | None = None) -> IngestResult:
        """A written recording from text in memory (used by `kb eval` and the demo builder)."""
        from ingest.chunking import chunk_document
        from ingest.documents import Page

        meta = meta or RecordingMeta()
        body = unicodedata.normalize("NFC", text or "").strip()
        if not body:
            return IngestResult(source_name or title, "failed", message=f"{title}: empty text")
        sha = hashlib.sha256(("text\0" + title + "\0" + body).encode("utf-8")).hexdigest()
        existing = recordings.find_by_sha256(self.conn, sha)
        if existing is not None and existing["status"] == "done":
            return IngestResult(source_name or title, "exists", existing["id"], "already present", title)
        with self.conn:
            rec_id = existing["id"] if existing is not None else recordings.create(
                self.conn, title=title, kind="document", fmt="txt", source_name=source_name or f"{title}.txt",
                sha256=sha, size_bytes=len(body.encode()), meta=meta, status="processing")
        job_id = self._start_job(rec_id)
        pages = [Page(None, body)]
        self._index_document(rec_id, job_id, pages, meta, chunk_document)
        self._finish_job(rec_id, job_id)
        return IngestResult(source_name or title, "added", rec_id, "", title)

    def delete(self, recording_id: int) -> None:
        rec = recordings.get(self.conn, recording_id)
        self.store.delete_recording(recording_id)
        if rec.get("stored_path"):
            (self.config.home / rec["stored_path"]).unlink(missing_ok=True)
        shutil.rmtree(self.config.media_dir / str(recording_id), ignore_errors=True)

    # -- stages ------------------------------------------------------------------------
    def _process_document(self, rec_id: int, job_id: int, path: Path, fmt: str, meta: RecordingMeta, title: str) -> str:
        from ingest.chunking import chunk_document
        from ingest.documents import Page, extract_document

        self._job(job_id, stage="extracting", progress=0.1, message="reading text")
        if fmt in ("srt", "vtt"):
            from media.subtitles import read_subtitle_file

            segs = read_subtitle_file(path)
            if not segs:
                raise InputError(f"{path}: subtitle file has no cues")
            # A lone subtitle file is a transcript without its video: keep its times.
            return self._index_transcript(rec_id, job_id, segs, meta, "subtitles") or title
        doc = extract_document(path, fmt)
        if doc.title and not meta.title:
            title = doc.title
            with self.conn:
                recordings.update(self.conn, rec_id, title=title)
        pages = [p for p in doc.pages if p.text.strip()] or [Page(None, "")]
        with self.conn:
            recordings.update(self.conn, rec_id, pages=max((p.number or 0) for p in pages) or None)
        self._index_document(rec_id, job_id, pages, meta, chunk_document)
        return title

    def _index_document(self, rec_id, job_id, pages, meta, chunk_document) -> None:
        language = meta.language or guess_language(" ".join(p.text for p in pages))
        with self.conn:
            recordings.update(self.conn, rec_id, language=language, transcript_source="text")
            recordings.replace_segments(self.conn, rec_id, [{"page": p.number, "text": p.text} for p in pages])
        chunks = chunk_document(pages)
        self._embed_and_index(rec_id, job_id, [ChunkIn(c.text, None, None, c.page) for c in chunks])

    def _process_media(self, rec_id: int, job_id: int, path: Path, kind: str, meta: RecordingMeta,
                       progress: Progress | None) -> None:
        from media import ffmpeg

        binary = ffmpeg.ffmpeg_binary(self.config.get("ffmpeg"))
        timeout = self.config.get_float("ffmpeg_timeout")
        self._job(job_id, stage="extracting", progress=0.05, message="reading media")
        info = ffmpeg.probe(path, timeout=timeout, binary=binary)
        with self.conn:
            recordings.update(self.conn, rec_id, duration=info.duration)
        subtitle = companion_subtitle(path)
        if subtitle is not None:
            from media.subtitles import read_subtitle_file

            segs = read_subtitle_file(subtitle)
            if segs:
                self._index_transcript(rec_id, job_id, segs, meta, f"subtitles:{subtitle.name}")
                return
        if not info.has_audio:
            raise InputError(f"{path}: no audio stream to transcribe and no subtitle file beside it")
        audio = ffmpeg.load_audio(path, sample_rate=16000, timeout=timeout, binary=binary)
        self._job(job_id, stage="transcribing", progress=0.1, message="speech recognition")
        recognizer = self._recognizer()
        language = meta.language or _auto(self.config.get("language"))

        def on_progress(fraction: float) -> None:
            self._job(job_id, progress=0.1 + 0.7 * max(0.0, min(1.0, fraction)))
            if progress:
                progress("transcribing", fraction)

        transcript = recognizer.transcribe(audio, language=language, hotwords=self._glossary_terms(),
                                           progress=on_progress)
        for w in getattr(transcript, "warnings", []) or []:
            self._job(job_id, message=w)
        with self.conn:
            recordings.update(self.conn, rec_id, language=transcript.language or language,
                              duration=info.duration or transcript.duration)
        self._index_transcript(rec_id, job_id, transcript.segments, meta, f"asr:{recognizer.name}")

    def _index_transcript(self, rec_id: int, job_id: int, segs, meta: RecordingMeta, source: str) -> None:
        from ingest.chunking import chunk_transcript

        rows = [{"start": s.start, "end": s.end, "text": s.text.strip(),
                 "words": [[w.text, w.start, w.end] for w in (getattr(s, "words", None) or [])] or None}
                for s in segs if s.text and s.text.strip()]
        language = meta.language or guess_language(" ".join(r["text"] for r in rows))
        with self.conn:
            recordings.replace_segments(self.conn, rec_id, rows)
            recordings.update(self.conn, rec_id, transcript_source=source,
                              **({"language": language} if language else {}))
        chunks = chunk_transcript(segs, min_seconds=self.config.get_float("chunk_min_seconds"),
                                  max_seconds=self.config.get_float("chunk_max_seconds"))
        self._embed_and_index(rec_id, job_id, [ChunkIn(c.text, c.start, c.end, None) for c in chunks])

    def _embed_and_index(self, rec_id: int, job_id: int, chunks: list[ChunkIn]) -> None:
        chunks = [c for c in chunks if c.text.strip()]
        if not chunks:
            raise InputError("no text could be taken from it (nothing was said or written)")
        self._job(job_id, stage="embedding", progress=0.85, message=f"embedding and indexing {len(chunks)} passages")
        self.store.write_chunks(rec_id, chunks)

    # -- helpers -----------------------------------------------------------------------
    def _recognizer(self):
        from media.asr import load_recognizer

        backend = self.config.get("asr")
        model = self.config.get("openai_whisper_model") if backend == "openai-whisper" else self.config.get("whisper_model")
        return load_recognizer(backend, model, compute_type=self.config.get("whisper_compute_type"),
                               threads=self.config.threads())

    def _glossary_terms(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT term FROM glossary ORDER BY id")]

    def _store_original(self, path: Path, sha: str, fmt: str) -> str:
        """Copy the original under a generated name (the given name is kept only as metadata)."""
        rel = Path("originals") / sha[:2] / f"{sha}.{fmt}"
        dest = self.config.home / rel
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(dest.suffix + ".part")
            shutil.copyfile(path, tmp)
            os.replace(tmp, dest)
        return str(rel)

    def _start_job(self, rec_id: int) -> int:
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO jobs(recording_id, kind, stage, progress, attempts) VALUES (?, 'ingest', 'extracting', 0, 1)",
                (rec_id,))
        return int(cur.lastrowid)

    def _job(self, job_id: int, **fields) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.conn:
            self.conn.execute(f"UPDATE jobs SET {sets}, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?",
                              (*fields.values(), job_id))

    def _finish_job(self, rec_id: int, job_id: int) -> None:
        with self.conn:
            recordings.update(self.conn, rec_id, status="done", error=None)
            self._job(job_id, stage="done", progress=1.0, message="done")


def _auto(value: str) -> str | None:
    return None if not value or value == "auto" else value


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or e.__class__.__name__
    if not isinstance(e, (KBError, OSError)) and e.__class__.__name__ not in ("MediaError", "DocumentError"):
        text = f"{e.__class__.__name__}: {text}"
    return " ".join(text.split())
