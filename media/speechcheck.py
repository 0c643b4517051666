"""Does a transcript cover the speech?  Characters written per minute of voiced audio.

Why: a wrong language or model does not fail loudly.  Japanese speech given to an
English-only model, or a clip whose language was misdetected, comes back as one fragment
(「心押し」 for 44 seconds of talk) or nothing at all, and the job would end 'done' with a
recording nobody can find.  Speech has a rate: Japanese narration runs at roughly 250-450
characters a minute, English at 600-900 letters.  So the voiced part of the audio is measured
with faster-whisper's own voice detector (Silero VAD, bundled in its wheel; a few
hundredths of the audio's length on CPU) and the transcript's letters, digits and kana are
counted; far fewer than speech ever has (``min_chars_per_minute``, 60 by default: a slow
speaker with long pauses still writes 150+) means the transcript looks incomplete.  The
studio and `kb show` say so and offer processing it again with another language or model.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["MIN_VOICED_SECONDS", "Check", "check_transcript", "voiced_seconds"]

SAMPLE_RATE = 16000
# Less voice than this is too little to judge (a cough, a click, one word).
MIN_VOICED_SECONDS = 3.0


@dataclass
class Check:
    voiced_seconds: float | None  # None: not measured (the transcript is long enough for the whole audio)
    chars: int
    chars_per_minute: float | None  # per minute of voice, or of the whole audio when voice was not measured
    threshold: float
    incomplete: bool

    def as_dict(self) -> dict:
        return asdict(self)


def voiced_seconds(audio: np.ndarray) -> float:
    """Seconds of the 16 kHz waveform in which someone speaks (Silero VAD, as faster-whisper runs it)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size < SAMPLE_RATE // 10:
        return 0.0
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=500, speech_pad_ms=100))
    return round(sum(s["end"] - s["start"] for s in spans) / SAMPLE_RATE, 2)


def written_chars(text: str) -> int:
    """Letters, digits, kana and kanji: what a transcript says, without spaces and punctuation."""
    return sum(1 for ch in unicodedata.normalize("NFKC", text or "") if unicodedata.category(ch)[0] in "LN")


def check_transcript(
    audio: np.ndarray, text: str, min_chars_per_minute: float = 60.0, voiced: float | None = None
) -> Check:
    """How ``text`` compares with the speech in ``audio`` (``voiced``: seconds already measured).

    The voice detector runs only when needed: a transcript that has enough characters for the
    whole audio has enough for any part of it (most recordings; an hour of audio costs the
    detector a minute or two on two cores)."""
    chars = written_chars(text)
    minutes = np.asarray(audio).size / SAMPLE_RATE / 60.0
    if voiced is None and minutes > 0 and chars / minutes >= float(min_chars_per_minute):
        return Check(None, chars, round(chars / minutes, 1), float(min_chars_per_minute), False)
    voiced = voiced_seconds(audio) if voiced is None else float(voiced)
    if voiced < MIN_VOICED_SECONDS:
        return Check(voiced, chars, None, float(min_chars_per_minute), False)
    rate = round(chars / (voiced / 60.0), 1)
    return Check(voiced, chars, rate, float(min_chars_per_minute), rate < float(min_chars_per_minute))
