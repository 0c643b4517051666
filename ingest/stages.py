"""The stages of processing one recording, each resumable from the last saved one.

  extracting    probe the original; a 16 kHz mono WAV into KB_HOME/work/<id>/
                (private, never served); an H.264/AAC MP4 copy when browsers
                cannot play the original (KB_HOME/media/<id>/web.mp4).
                Documents and subtitle files: their text goes straight to the
                segments table, which also completes "transcribing".
  transcribing  speech recognition of the WAV -> the segments table.
  embedding     chunks cut from the saved segments, embedded (outside every
                lock: minutes for a large document), then written with their
                lexical terms under the index write lock (write_embedded:
                one transaction that replaces the recording's chunks).
  indexing      the vector index is brought level with SQLite; the recording
                becomes 'done' -- only now does search return it.

Why checkpoints: a power cut or a killed worker must lose at most the stage it
was in.  Each stage's results are saved together with ``jobs.completed_stage``
(one transaction where possible), and a stage always *replaces* what an earlier,
interrupted run of it left, never appends -- so redoing a stage is always safe
and a resumed job ends exactly as an uninterrupted one would.

Why every job write checks the claim: a worker that lost its job (its lease ran
out while the machine was suspended, the job was cancelled, or the recording
replaced or deleted) must stop at its next step without writing anything more;
:class:`ClaimLost` says so.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ingest import queue
from kb import recordings
from kb.errors import InputError
from kb.settings import Config
from search.store import index_write_lock

# Job messages: English source texts of the gettext catalogue (pages show them translated).
MSG_READING = "Reading the file"
MSG_TEXT = "Reading the text"
MSG_AUDIO = "Extracting the audio"
MSG_COPY = "Making a copy that browsers can play"
MSG_ASR = "Recognising speech"
MSG_EMBED = "Preparing the passages for search"
MSG_INDEX = "Updating the search index"
MSG_DONE = "Done"
MSG_INCOMPLETE = "Done, but the transcript looks incomplete"

# Share of the job's progress bar each stage ends at.
_ENDS = {"extracting": 0.1, "transcribing": 0.8, "embedding": 0.95, "indexing": 1.0}
_NEXT = {None: "extracting", "extracting": "transcribing", "transcribing": "embedding", "embedding": "indexing"}

Progress = Callable[[str, float], None]  # (stage, fraction of that stage 0..1)


class ClaimLost(Exception):
    """The job is no longer this worker's (taken over, cancelled, replaced or deleted): stop, write nothing."""


class Interrupted(Exception):
    """A stop was asked for (the worker is shutting down): the job waits and resumes from its checkpoint."""


@dataclass
class JobRow:
    id: int
    recording_id: int
    stage: str
    completed_stage: str | None
    payload: dict
    attempts: int


def guess_language(text: str) -> str | None:
    """'ja' when the text is mostly kana/kanji, 'en' when mostly Latin letters."""
    sample = text[:4000]
    cjk = sum(1 for ch in sample if "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff")
    latin = sum(1 for ch in sample if ch.isascii() and ch.isalpha())
    if cjk == 0 and latin == 0:
        return None
    return "ja" if cjk * 3 >= latin else "en"


def one_line(e: BaseException) -> str:
    """An exception as one line; the class name is added where the message alone would puzzle."""
    text = str(e).strip() or e.__class__.__name__
    from kb.errors import KBError

    if not isinstance(e, (KBError, OSError)) and e.__class__.__name__ not in (
        "MediaError",
        "DocumentError",
        "RecognizerError",
    ):
        text = f"{e.__class__.__name__}: {text}"
    return " ".join(text.split())


def write_embedded(config: Config, stores, recording_id: int, chunks) -> list[int]:
    """Apply a finished batch -- chunks whose vectors are already computed (SearchStore.embed_chunks),
    or none to clear a recording -- under the index write lock.

    Why a function of its own: this is the only place a worker holds the lock, and it must hold it
    for the transaction and the index update alone, never for embedding (issue 16: a large document
    embedded under the lock made the web's transcript saves and deletes wait for minutes, and every
    search queued behind them).  Returns the new chunk ids."""
    with index_write_lock(config):
        ids = stores.for_write().write_chunks(recording_id, chunks)
        stores.written()
    return ids


def recognizer_for(config: Config):
    """The speech recogniser the settings name (loaded once per process: media.asr caches it)."""
    from media.asr import load_recognizer

    backend = config.get("asr")
    model = config.get("openai_whisper_model") if backend == "openai-whisper" else config.get("whisper_model")
    return load_recognizer(
        backend,
        model,
        compute_type=config.get("whisper_compute_type"),
        threads=config.threads(),
        beam_size=config.get("whisper_beam_size"),
        compression_ratio_threshold=config.get("whisper_compression_ratio_threshold"),
        device=config.get("whisper_device"),
        model_dir=config.get("model_dir"),
        prompts={"ja": config.get("whisper_prompt_ja")},
        max_letters_per_second=config.get("asr_max_letters_per_second"),
    )


def default_vocabulary(config: Config, rec: dict) -> list[str]:
    """The built-in shop-floor words for this recording, its trade first (empty when the setting
    asr_default_vocabulary is off); given to Whisper only when it decodes Japanese."""
    if not config.get("asr_default_vocabulary"):
        return []
    from kb import shop_vocabulary

    return shop_vocabulary.ranked(technique=rec.get("technique"), tags=rec.get("tags") or (), title=rec.get("title"))


def with_vocabulary(config: Config, recognizer, hotwords: list[str], vocabulary: list[str], language) -> list[str]:
    """The hotwords, then the built-in words that fit asr_vocabulary_tokens, when decoding Japanese."""
    if language != "ja" or not vocabulary:
        return hotwords
    from media.asr import add_vocabulary

    return add_vocabulary(
        hotwords, vocabulary, config.get("asr_vocabulary_tokens"), getattr(recognizer, "count_tokens", None)
    )


class FixedStore:
    """The caller's own search store, used as it is (`kb ingest`: one store for a whole batch, whose
    index is saved once at the end)."""

    def __init__(self, store):
        self.store = store

    def for_write(self):
        return self.store

    def for_embedding(self):
        return self.store

    def written(self) -> None:
        pass


class WorkerStore:
    """A worker's search store, kept from job to job and reopened when another process wrote meanwhile.

    Why: reopening for every job would be safe but slow (the index file is
    read each time); keeping one store forever would write from a stale
    in-memory index after another worker or `kb ingest` changed it.  The index
    generation in SQLite tells which case it is.  Use under
    :func:`index_write_lock`."""

    def __init__(self, config: Config, conn: sqlite3.Connection):
        self.config = config
        self.conn = conn
        self.store = None
        self._synced: int | None = None

    def for_write(self):
        """A store whose in-memory index matches SQLite now, its index opened before any new write
        (opened after one, it would find the saved file behind and rebuild it)."""
        from kb import db
        from search.store import SearchStore

        if self.store is None or self._synced != db.get_generation(self.conn):
            self.store = SearchStore(self.config, self.conn)  # embedders are cached per process
            self.store.index  # noqa: B018
            self._synced = db.get_generation(self.conn)
        return self.store

    def for_embedding(self):
        """A store to compute vectors with, outside the lock: only its embedders are used (cached per
        process), never its index, so it need not be current."""
        from search.store import SearchStore

        return self.store if self.store is not None else SearchStore(self.config, self.conn)

    def written(self) -> None:
        """Call after this store wrote (still under the lock): its index is the current one."""
        from kb import db

        self._synced = db.get_generation(self.conn)


class JobRunner:
    """Runs one claimed job from its checkpoint to the end (see the module docstring).

    ``recognizer`` makes the speech recognizer (default: the configured one);
    ``should_stop`` is polled at every progress report (True: raise
    :class:`Interrupted`); ``progress`` receives (stage, fraction) for a
    terminal progress bar."""

    def __init__(
        self,
        config: Config,
        conn: sqlite3.Connection,
        stores,
        job_id: int,
        claim_id: str,
        *,
        recognizer: Callable[[], object] | None = None,
        should_stop: Callable[[], bool] | None = None,
        progress: Progress | None = None,
    ):
        self.config = config
        self.conn = conn
        self.stores = stores  # FixedStore or WorkerStore
        self.job_id = job_id
        self.claim_id = claim_id
        self._recognizer = recognizer or self._default_recognizer
        self._should_stop = should_stop or (lambda: False)
        self._progress = progress
        self._last_write = 0.0
        self._last_fraction = 0.0

    # -- driving ---------------------------------------------------------------------
    def run(self) -> dict:
        """Run the remaining stages; returns the recording as it ends (status 'done')."""
        while True:
            job = self.job()
            step = _NEXT.get(job.completed_stage, "indexing")
            rec = self._recording(job)
            getattr(self, "_" + step)(job, rec)
            if step == "indexing":
                return recordings.get(self.conn, job.recording_id)
            _test_hooks(self, step)

    def job(self) -> JobRow:
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (self.job_id,)).fetchone()
        if row is None or row["claimed_by"] != self.claim_id or row["stage"] in queue.FINISHED:
            raise ClaimLost(f"job {self.job_id} is no longer held by this worker")
        try:
            payload = json.loads(row["payload"] or "{}")
        except ValueError:
            payload = {}
        return JobRow(
            row["id"],
            row["recording_id"],
            row["stage"],
            row["completed_stage"],
            payload if isinstance(payload, dict) else {},
            row["attempts"],
        )

    def _recording(self, job: JobRow) -> dict:
        from kb.errors import NotFound

        try:
            return recordings.get(self.conn, job.recording_id)
        except NotFound:
            raise ClaimLost(f"recording {job.recording_id} was deleted") from None

    def report(self, stage: str | None = None, fraction: float | None = None, message: str | None = None) -> None:
        """Stage, progress (``fraction`` of the current stage) and message on the job row; checks stop and claim.

        Progress alone is written at most twice a second (Whisper reports every segment) unless it moved
        5 % or more: Whisper hands over a 30 s window's segments in one burst and then decodes the next
        window for many seconds, so a burst's last value must not be dropped (the bar would lag a window)."""
        if self._should_stop():
            raise Interrupted("stop requested")
        now = time.monotonic()
        if (
            stage is None
            and message is None
            and now - self._last_write < 0.5
            and (fraction is None or abs(fraction - self._last_fraction) < 0.05)
        ):
            return
        self._last_write = now
        if fraction is not None:
            self._last_fraction = fraction
        sets, args = [], []
        if stage is not None:
            sets.append("stage = ?")
            args.append(stage)
        if fraction is not None:
            current = stage or self.conn.execute("SELECT stage FROM jobs WHERE id = ?", (self.job_id,)).fetchone()[0]
            sets.append("progress = ?")
            args.append(self._overall(current, fraction))
            if self._progress:
                self._progress(current, fraction)
        if message is not None:
            sets.append("message = ?")
            args.append(message)
        if sets:
            with self.conn:
                self._update_job(", ".join(sets), args)

    @staticmethod
    def _overall(stage: str, fraction: float) -> float:
        end = _ENDS.get(stage, 0.0)
        start = max([v for v in _ENDS.values() if v < end], default=0.0)
        return round(start + (end - start) * max(0.0, min(1.0, fraction)), 4)

    def _update_job(self, sets: str, args: list) -> None:
        """Update this job if it is still ours (call inside a transaction), else raise ClaimLost."""
        n = self.conn.execute(
            f"UPDATE jobs SET {sets}, updated_at = {queue.NOW_SQL} WHERE id = ? AND claimed_by = ?"
            " AND stage NOT IN ('done', 'failed')",
            (*args, self.job_id, self.claim_id),
        ).rowcount
        if n == 0:
            raise ClaimLost(f"job {self.job_id} is no longer held by this worker")

    def _checkpoint(self, completed: str) -> None:
        """Record a completed stage (inside the transaction that saved its results)."""
        self._update_job("completed_stage = ?, progress = ?", [completed, _ENDS[completed]])

    def _warn(self, warnings: list[str]) -> None:
        """Keep warnings on the job (inside a transaction); the finished job shows them instead of 'Done'."""
        merged = list(dict.fromkeys([*(self.job().payload.get("warnings") or []), *warnings]))
        if warnings:
            self._update_job(
                "payload = json_set(payload, '$.warnings', json(?))", [json.dumps(merged, ensure_ascii=False)]
            )

    # -- helpers ---------------------------------------------------------------------
    def source(self, rec: dict) -> Path:
        shown = rec["source_name"]
        if not rec.get("stored_path"):
            raise InputError(f"{shown}: the original file was not kept; add it again", code="original_missing")
        path = (self.config.home / rec["stored_path"]).resolve()
        if not path.is_relative_to(self.config.home) or not path.is_file():
            raise InputError(
                f"{shown}: the stored original is missing ({rec['stored_path']}); add the file again",
                code="original_missing",
            )
        return path

    def work(self, rec_id: int) -> Path:
        folder = queue.work_dir(self.config, rec_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _ffmpeg(self) -> tuple[str, float]:
        from media import ffmpeg

        return ffmpeg.ffmpeg_binary(self.config.get("ffmpeg")), self.config.get("ffmpeg_timeout")

    def _default_recognizer(self):
        return recognizer_for(self.config)

    def _recognizer_for(self, job: JobRow):
        """The configured recogniser, or the model a re-processing asked for (kb.speech_checks checked it)."""
        model = job.payload.get("whisper_model")
        if model:
            from kb.settings import Config

            return recognizer_for(Config({**self.config.values, "asr": "faster-whisper", "whisper_model": model}))
        return self._recognizer()

    def hotwords(self, job: JobRow, rec: dict) -> list[str]:
        """The job's own terms, then the organisation's glossary, most relevant to this recording first
        (the global one before glossaries had owners); media.asr keeps what fits Whisper's prompt."""
        from kb import glossary

        per_org = getattr(glossary, "hotwords_for", None)
        if per_org is not None:
            terms = per_org(
                self.conn,
                rec.get("organisation_id"),
                technique=rec.get("technique"),
                tags=rec.get("tags") or (),
                title=rec.get("title"),
            )
        else:
            terms = [r[0] for r in self.conn.execute("SELECT term FROM glossary ORDER BY id")]
        return list(dict.fromkeys([*job.payload.get("hotwords", []), *terms]))

    def fallback_language(self, rec: dict) -> str | None:
        """The language a short clip of unsure detection is transcribed in: its organisation's own
        (migration 015), else the setting fallback_language."""
        from kb.users import organisation_language

        return organisation_language(self.conn, rec.get("organisation_id"), self.config.get("fallback_language"))

    # -- stages ----------------------------------------------------------------------
    def _extracting(self, job: JobRow, rec: dict) -> None:
        self.report("extracting", 0.0, MSG_READING)
        source = self.source(rec)
        if rec["kind"] == "document":
            self._extract_text(job, rec, source)
        else:
            self._extract_media(job, rec, source)

    def _extract_text(self, job: JobRow, rec: dict, source: Path) -> None:
        from ingest.documents import DocumentLimits, Page, extract_document

        self.report(message=MSG_TEXT)
        if rec["format"] in ("srt", "vtt"):
            from media.subtitles import read_subtitle_file

            segs = read_subtitle_file(source)
            if not segs:
                raise InputError(f"{rec['source_name']}: subtitle file has no cues", code="no_subtitle_cues")
            # A lone subtitle file is a transcript without its video: keep its times.
            self._save_transcript(job, rec, _segment_rows(segs), "subtitles")
            return
        doc = extract_document(source, rec["format"], DocumentLimits.from_config(self.config))
        pages = [p for p in doc.pages if p.text.strip()] or [Page(None, "")]
        fields = {"pages": max((p.number or 0) for p in pages) or None, "transcript_source": "text"}
        if doc.title and not job.payload.get("title_given"):
            fields["title"] = doc.title
        language = job.payload.get("language") or guess_language(" ".join(p.text for p in pages))
        with self.conn:
            recordings.replace_segments(self.conn, rec["id"], [{"page": p.number, "text": p.text} for p in pages])
            recordings.update(self.conn, rec["id"], language=language, **fields)
            self._checkpoint("transcribing")

    def _extract_media(self, job: JobRow, rec: dict, source: Path) -> None:
        from media import ffmpeg

        binary, timeout = self._ffmpeg()
        info = ffmpeg.probe(source, timeout=timeout, binary=binary)
        with self.conn:
            recordings.update(self.conn, rec["id"], duration=info.duration)
        subtitle = job.payload.get("subtitle")
        if subtitle:
            from media.subtitles import read_subtitle_file

            segs = read_subtitle_file(self.config.home / subtitle)
            if segs:
                playback = self._browser_copy(rec, source, info)
                self._save_transcript(
                    job,
                    rec,
                    _segment_rows(segs),
                    f"subtitles:{job.payload.get('subtitle_name') or 'subtitles'}",
                    playback=playback,
                    duration=info.duration,
                )
                return
        if not info.has_audio:
            raise InputError(
                f"{job.payload.get('shown') or rec['source_name']}: no audio stream to transcribe "
                "and no subtitle file beside it",
                code="no_audio",
            )
        self.report(fraction=0.2, message=MSG_AUDIO)
        ffmpeg.extract_audio_file(source, self.work(rec["id"]) / "audio.wav", timeout=timeout, binary=binary)
        playback = self._browser_copy(rec, source, info)
        with self.conn:
            recordings.update(self.conn, rec["id"], playback=playback)
            self._checkpoint("extracting")

    def _browser_copy(self, rec: dict, source: Path, info) -> str:
        """'original' when browsers play the file as it is; else make media/<id>/web.mp4 and say 'copy'
        ('none' when that fails: the recording is still searchable, only not playable)."""
        from media import ffmpeg

        if ffmpeg.browser_playable(info, rec["format"]):
            return "original"
        dest = self.config.media_dir / str(int(rec["id"])) / "web.mp4"
        if dest.is_file():
            return "copy"  # made by an earlier, interrupted run (written atomically: complete)
        self.report(fraction=0.5, message=MSG_COPY)
        binary, timeout = self._ffmpeg()
        try:
            ffmpeg.make_web_mp4(source, dest, timeout=timeout, binary=binary)
        except ffmpeg.MediaError as e:
            with self.conn:
                self._warn([f"no copy that browsers can play: {e.reason}"])
            return "none"
        return "copy"

    def _transcribing(self, job: JobRow, rec: dict) -> None:
        wav = queue.work_dir(self.config, rec["id"]) / "audio.wav"
        if not wav.is_file():  # the work folder was cleared: extract again
            with self.conn:
                self._update_job("completed_stage = NULL", [])
            return
        self.report("transcribing", 0.0, MSG_ASR)
        audio = read_wav(wav)
        recognizer = self._recognizer_for(job)
        from media.asr import choose_language
        from media.speechcheck import check_transcript

        language, why = choose_language(
            recognizer,
            audio,
            job.payload.get("language") or _auto(self.config.get("language")),
            self.fallback_language(rec),
        )
        hotwords = with_vocabulary(
            self.config, recognizer, self.hotwords(job, rec), default_vocabulary(self.config, rec), language
        )
        transcript = recognizer.transcribe(
            audio, language=language, hotwords=hotwords, progress=lambda f: self.report(fraction=f)
        )
        warnings = list(getattr(transcript, "warnings", None) or [])
        duration = rec.get("duration") or transcript.duration
        check = check_transcript(audio, transcript.text, self.config.get("transcript_min_chars_per_minute"))
        self._save_transcript(
            job,
            rec,
            _segment_rows(transcript.segments),
            f"asr:{getattr(recognizer, 'name', 'asr')}",
            duration=duration,
            detected=transcript.language,
            warnings=warnings,
            check={
                **check.as_dict(),
                "model": getattr(recognizer, "model_id", None),
                "language": transcript.language,
                "language_note": why,
            },
        )

    def _save_transcript(
        self,
        job: JobRow,
        rec: dict,
        rows: list[dict],
        source: str,
        *,
        playback: str | None = None,
        duration: float | None = None,
        detected: str | None = None,
        warnings: list[str] | None = None,
        check: dict | None = None,
    ) -> None:
        """Timed lines -> segments table, in one transaction with the checkpoint (replaces, never appends)."""
        language = job.payload.get("language") or guess_language(" ".join(r["text"] for r in rows)) or detected
        fields = {"transcript_source": source}
        if playback is not None:
            fields["playback"] = playback
        if language:
            fields["language"] = language
        if duration is not None:
            fields["duration"] = duration
        with self.conn:
            recordings.replace_segments(self.conn, rec["id"], rows)
            recordings.update(self.conn, rec["id"], **fields)
            self._warn(warnings or [])
            # What media.speechcheck found (or nothing, for subtitles and text): kb.speech_checks reads it.
            self._update_job(
                "payload = json_set(payload, '$.transcript_check', json(?))",
                [json.dumps(check, ensure_ascii=False) if check else "null"],
            )
            self._checkpoint("transcribing")

    def _embedding(self, job: JobRow, rec: dict) -> None:
        from ingest.chunking import chunks_for

        self.report("embedding", 0.0, MSG_EMBED)
        chunks = chunks_for(self.config, recordings.segments(self.conn, rec["id"]))
        if not chunks:
            warnings = list(job.payload.get("warnings") or [])
            errors: list[str] = []
            if rec["kind"] in ("video", "audio"):  # cut short or damaged?  ffmpeg says so when decoding it all
                from media import ffmpeg

                binary, timeout = self._ffmpeg()
                try:
                    errors = ffmpeg.decode_errors(self.source(rec), timeout, binary=binary)
                except (ffmpeg.MediaError, OSError):
                    errors = []
            shown = job.payload.get("shown") or rec["source_name"]
            raise nothing_taken(shown, warnings + errors, damaged_if_any=bool(errors))
        self.job()  # still ours?  (write_chunks replaces the recording's chunks, so a repeat is harmless)
        embedded = self.stores.for_embedding().embed_chunks(rec["id"], chunks)  # no lock held: the slow part
        self.job()
        write_embedded(self.config, self.stores, rec["id"], embedded)
        with self.conn:
            self._checkpoint("embedding")

    def _indexing(self, job: JobRow, rec: dict) -> None:
        self.report("indexing", 0.0, MSG_INDEX)
        with index_write_lock(self.config):
            # Opening the index rebuilds it from SQLite if a crash left the saved one behind.
            self.stores.for_write().index  # noqa: B018
        warnings = self.job().payload.get("warnings") or []
        with self.conn:
            self._update_job(
                "stage = 'done', progress = 1, completed_stage = 'indexing', error = NULL, message = ?,"
                " claimed_by = NULL, claimed_pid = NULL, claimed_host = NULL, heartbeat_at = NULL,"
                f" finished_at = {queue.NOW_SQL}",
                ["; ".join(warnings) or (MSG_INCOMPLETE if _incomplete(self.job()) else MSG_DONE)],
            )
            recordings.update(self.conn, rec["id"], status="done", error=None)
        shutil.rmtree(queue.work_dir(self.config, rec["id"]), ignore_errors=True)


# What ffmpeg says about a file that is cut short or damaged (a truncated MP4 is accepted, then yields
# no sound at all).
_DAMAGED_MEDIA = (
    "invalid nal unit size",
    "moov atom not found",
    "invalid data found",
    "partial file",
    "truncat",
    "error while decoding",
    "corrupt",
    "stream ends prematurely",
    "end of file",
)


def nothing_taken(shown: str, warnings: list[str], *, damaged_if_any: bool = False) -> InputError:
    """The error for a file that gave no text: a damaged one says so (issue 16, defect 16: a truncated MP4
    said "nothing was said or written" while ffmpeg's warnings said "Invalid NAL unit size").
    ``damaged_if_any``: the last warnings are ffmpeg's decoding errors, each a sign of damage."""
    damaged = next((w for w in warnings if any(m in str(w).lower() for m in _DAMAGED_MEDIA)), None)
    if damaged is None and damaged_if_any and warnings:
        damaged = warnings[-1]
    if damaged:
        return InputError(
            f"{shown}: the file is damaged or cut short, so nothing could be heard in it "
            f"({str(damaged)[:120]}); add the complete file again",
            code="damaged_media",
        )
    return InputError(f"{shown}: no text could be taken from it (nothing was said or written)", code="no_text")


def _segment_rows(segs) -> list[dict]:
    return [
        {
            "start": s.start,
            "end": s.end,
            "text": unicodedata.normalize("NFC", s.text.strip()),
            "words": [[w.text, w.start, w.end] for w in (getattr(s, "words", None) or [])] or None,
        }
        for s in segs
        if s.text and s.text.strip()
    ]


def read_wav(path: Path) -> np.ndarray:
    """The 16-bit mono WAV written by the extracting stage as float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise InputError(f"{path.name}: unexpected work file (not 16-bit mono)")
        frames = w.readframes(w.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def _incomplete(job: JobRow) -> bool:
    check = job.payload.get("transcript_check")
    return bool(isinstance(check, dict) and check.get("incomplete"))


def _auto(value: str) -> str | None:
    return None if not value or value == "auto" else value


def _test_hooks(runner: JobRunner, completed: str) -> None:
    """Test-only switches, read from the environment (never set in production):

    KB_TEST_PAUSE_AFTER=<stage>  after saving that stage, wait (heartbeat going) until
                                 stopped or killed -- lets a test kill a worker at an
                                 exact point;
    KB_TEST_STAGE_DELAY=<s>      sleep that long after every stage -- lets a test keep
                                 two workers busy at the same time."""
    delay = os.environ.get("KB_TEST_STAGE_DELAY")
    if delay:
        time.sleep(float(delay))
    if os.environ.get("KB_TEST_PAUSE_AFTER") == completed:
        while True:
            runner.report()
            time.sleep(0.05)
