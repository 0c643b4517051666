"""Speech recognition: the bundled English-only Whisper tiny.en (pinned by name) through
faster-whisper on real speech (Whisper's own jfk.flac expectations), the default multilingual
base model assembled from its two packages (tests/test_asr_japanese.py has its Japanese), and the openai-whisper backend's loading and
transcription path on a tiny randomly initialised checkpoint built here (no weights can be
downloaded, and random weights make garbage text, so only the structure is checked)."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from media.asr import (
    PROMPT_MAX_TOKENS,
    Segment,
    Transcript,
    Word,
    _hotword_text,
    _impossible,
    _prompt,
    _times,
    _wanted_language,
    add_vocabulary,
    load_recognizer,
)
from media.errors import RecognizerError
from media.ffmpeg import load_audio


def shared_data() -> Path:
    env = os.environ.get("KB_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


JFK = shared_data() / "jfk.flac"
needs_jfk = pytest.mark.skipif(not JFK.is_file(), reason=f"test data missing: {JFK} (set KB_SHARED_DATA)")


@pytest.fixture(scope="module")
def jfk_audio() -> np.ndarray:
    if not JFK.is_file():
        pytest.skip(f"test data missing: {JFK} (set KB_SHARED_DATA)")
    return load_audio(JFK)


@pytest.fixture(scope="module")
def recognizer():
    """English-only tiny.en, asked for by name: these tests are about that model."""
    return load_recognizer("faster-whisper", "tiny.en", threads=2)


@pytest.fixture(scope="module")
def jfk_run(recognizer, jfk_audio):
    progress: list[float] = []
    return recognizer.transcribe(jfk_audio, progress=progress.append), progress


# ---------------------------------------------------------------- faster-whisper, real model


@pytest.mark.slow
def test_jfk_text(jfk_run):
    transcript, _ = jfk_run
    assert isinstance(transcript, Transcript)
    text = transcript.text.lower()
    for phrase in ("my fellow americans", "your country", "do for you"):
        assert phrase in text, text
    assert transcript.language == "en" and transcript.warnings == []
    assert transcript.engine == "faster-whisper" and "tiny.en" in transcript.model
    assert transcript.duration == pytest.approx(11.0, abs=0.01)


@pytest.mark.slow
def test_jfk_word_timestamps(jfk_run):
    transcript, _ = jfk_run
    words = [w for s in transcript.segments for w in s.words]
    americans = [w for w in words if "americans" in w.text.lower()]
    assert americans, [w.text for w in words]
    assert americans[0].start <= 1.8 <= americans[0].end
    for seg in transcript.segments:
        assert 0 <= seg.start <= seg.end <= transcript.duration
        for w in seg.words:
            assert isinstance(w, Word) and w.text == w.text.strip() and w.start <= w.end
            assert 0.0 <= w.probability <= 1.0
    assert [s.start for s in transcript.segments] == sorted(s.start for s in transcript.segments)


@pytest.mark.slow
def test_progress_reaches_one(jfk_run):
    _, progress = jfk_run
    assert progress and progress[-1] == pytest.approx(1.0)
    assert progress == sorted(progress) and all(0.0 <= p <= 1.0 for p in progress)


@pytest.mark.slow
def test_english_only_model_asked_for_japanese(recognizer, jfk_audio):
    transcript = recognizer.transcribe(jfk_audio[: 4 * 16000], language="ja", hotwords=["旋盤", "Kennedy", "旋盤"])
    assert transcript.language == "en"
    assert len(transcript.warnings) == 1 and "English-only" in transcript.warnings[0]
    assert "americans" in transcript.text.lower()


def test_recognizers_are_cached(recognizer):
    assert load_recognizer("faster-whisper", "tiny.en", threads=2) is recognizer
    assert recognizer.name == "faster-whisper" and "tiny.en" in recognizer.model_id
    assert not recognizer.multilingual


@pytest.mark.slow
def test_default_model_is_multilingual_base():
    """No setting changed: the model is the multilingual base, named as such in every record."""
    from kb.settings import load_config

    assert load_config().get("whisper_model") == "base"
    default = load_recognizer("faster-whisper", "", threads=2)
    assert load_recognizer("faster-whisper", "base", threads=2).model_id == default.model_id
    assert default.multilingual and default.model_id.startswith("base (") and "tiny" not in default.model_id


@pytest.mark.slow
def test_default_model_on_english(jfk_audio):
    """The multilingual default still gets English right, detecting it by itself."""
    transcript = load_recognizer("faster-whisper", "", threads=2).transcribe(jfk_audio, language="auto")
    assert transcript.language == "en" and transcript.warnings == []
    text = transcript.text.lower()
    assert "fellow americans" in text and "your country" in text
    assert transcript.model.startswith("base (")


def test_empty_and_malformed_audio(recognizer):
    empty = recognizer.transcribe(np.zeros(0, dtype=np.float32), language="auto")
    assert empty.segments == [] and empty.duration == 0.0 and empty.language is None
    with pytest.raises(ValueError, match="mono"):
        recognizer.transcribe(np.zeros((2, 16000), dtype=np.float32))


# ---------------------------------------------------------------- errors, no model needed


@pytest.mark.slow
def test_unknown_backend_and_missing_models(tmp_path, monkeypatch):
    with pytest.raises(RecognizerError, match="unknown speech recognition backend"):
        load_recognizer("kaldi")
    with pytest.raises(RecognizerError, match="model folder not found"):
        load_recognizer("faster-whisper", str(tmp_path / "no-such-model"))
    with pytest.raises(RecognizerError, match="needs a checkpoint"):
        load_recognizer("openai-whisper", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # an official name must never trigger a download
    with pytest.raises(RecognizerError, match="not on this machine"):
        load_recognizer("openai-whisper", "tiny")
    with pytest.raises(RecognizerError, match="not found"):
        load_recognizer("openai-whisper", str(tmp_path / "nope.pt"))


def test_helpers():
    assert _wanted_language("auto") is None and _wanted_language("") is None and _wanted_language("JA") == "ja"
    assert _hotword_text([" 旋盤 ", "溶接", "旋盤", ""]) == "旋盤, 溶接"
    assert _hotword_text([]) is None
    assert _times(-0.5, -1.0, 10.0) == (0.0, 0.0)
    assert _times(9.0, 10.7, 10.0) == (9.0, 10.0)
    assert Segment(0, 1, "x").words == []


# ---------------------------------------------------------------- openai-whisper, random checkpoint


def _random_checkpoint(path: Path, n_vocab: int) -> Path:
    """A few-MB Whisper with random weights: real architecture, real tokenizer and mel filters.

    n_vocab 51865 = multilingual tokenizer, 51864 = English-only.  n_text_ctx is tiny so that
    random decoding (which never stops by itself) ends after a few tokens per window."""
    torch = pytest.importorskip("torch")
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=16,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=n_vocab,
        n_text_ctx=16,
        n_text_state=16,
        n_text_head=2,
        n_text_layer=1,
    )
    model = Whisper(dims)
    with torch.no_grad():  # Whisper leaves this torch.empty() (checkpoints overwrite it): garbage, maybe NaN
        model.decoder.positional_embedding.normal_(0, 0.02)
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("n_vocab", [51865, 51864], ids=["multilingual", "english-only"])
def test_openai_whisper_random_checkpoint(n_vocab, tmp_path, jfk_audio):
    ckpt = _random_checkpoint(tmp_path / f"random-{n_vocab}.pt", n_vocab)
    rec = load_recognizer("openai-whisper", str(ckpt), threads=1)
    assert rec.name == "openai-whisper" and rec.model_id == str(ckpt)
    assert load_recognizer("openai-whisper", str(ckpt), threads=1) is rec
    progress: list[float] = []
    transcript = rec.transcribe(jfk_audio[: 4 * 16000], language="ja", hotwords=["旋盤"], progress=progress.append)
    assert isinstance(transcript, Transcript) and transcript.engine == "openai-whisper"
    assert transcript.duration == pytest.approx(4.0)
    assert progress[-1] == 1.0
    if n_vocab == 51865:
        assert transcript.language == "ja" and transcript.warnings == []
        detected = rec.transcribe(jfk_audio[: 2 * 16000])  # no language: detected (garbage, but set)
        assert isinstance(detected.language, str) and detected.language
    else:
        assert transcript.language == "en" and "English-only" in transcript.warnings[0]
    for seg in transcript.segments:
        assert isinstance(seg, Segment) and 0.0 <= seg.start <= seg.end <= 4.0 and seg.text
        assert all(0.0 <= w.start <= w.end <= 4.0 for w in seg.words)


def test_decoding_settings_reach_faster_whisper(jfk):
    """beam size and the re-decode threshold are settings; 0 switches re-decoding off."""
    from kb.settings import load_config
    from media.ffmpeg import load_audio

    default = load_recognizer("faster-whisper", "tiny.en", threads=2)
    assert (default.beam_size, default.compression_ratio_threshold) == (5, 3.0)
    config = load_config(whisper_beam_size="1", whisper_compression_ratio_threshold="0")
    greedy = load_recognizer(
        "faster-whisper",
        "tiny.en",
        threads=2,
        beam_size=config.get("whisper_beam_size"),
        compression_ratio_threshold=config.get("whisper_compression_ratio_threshold"),
    )
    assert greedy is not default
    assert (greedy.beam_size, greedy.compression_ratio_threshold) == (1, None)
    text = greedy.transcribe(load_audio(jfk), language="en").text.lower()
    assert "fellow americans" in text and "your country" in text


def test_japanese_prompt_is_the_glossary_then_the_style_sentence():
    """Japanese decoding: terms joined as Japanese writes a list, then 。 and the style sentence;
    other languages keep the plain hotword list and never get the Japanese sentence."""
    assert _prompt(["旋盤", "溶接"], "ja", "以下は、作業の説明です。") == "旋盤、溶接。以下は、作業の説明です。"
    assert _prompt([], "ja", "以下は、作業の説明です。") == "以下は、作業の説明です。"
    assert _prompt(["旋盤"], "ja", "") == "旋盤。"
    assert _prompt(["lathe", "weld"], "en", "以下は、作業の説明です。") == "lathe, weld"
    assert _prompt([], "en", "以下は、作業の説明です。") is None
    # the sentence's tokens come out of the terms' share of the window
    long = [f"用語{n}" for n in range(200)]
    assert len(_prompt(long, "ja", "あ" * 100)) <= PROMPT_MAX_TOKENS


def test_built_in_vocabulary_fills_only_its_budget_after_the_glossary():
    glossary = ["心押し台", "バイト"]
    out = add_vocabulary(glossary, ["旋盤", "バイト", "溶接", "金型"], 12)
    assert out[:2] == glossary and "旋盤" in out and out.count("バイト") == 1
    assert len("、".join(out)) + 1 <= 12  # one token per character without a tokenizer
    assert add_vocabulary(glossary, ["旋盤"], 0) == glossary
    assert add_vocabulary(["x" * 50], ["旋盤"], 12) == ["x" * 50]  # the glossary is never cut for it


def test_shop_vocabulary_puts_the_recordings_trade_first():
    from kb import shop_vocabulary

    plain = shop_vocabulary.ranked()
    assert plain == shop_vocabulary.terms() and len(plain) == len(set(plain))
    welding = shop_vocabulary.ranked(title="TIG溶接のひずみ")
    assert welding[:3] == ["溶接", "TIG溶接", "ひずみ"]  # named in the title, in list order
    assert welding.index("予熱") < welding.index("旋盤")  # then the rest of the welding trade
    assert sorted(welding) == sorted(plain)


def test_a_hallucinated_tail_is_recognised_by_its_impossible_speed():
    """Whisper running on after the speech: 20 letters in 0.06 s, words it doubts (measured on the
    spoken techniques-dev set); real speech, and a short fast answer, are kept."""
    assert _impossible("電気メッキでは、だしとサマライが起きる", 10.26, 10.32, [0.05, 0.1], 40)
    assert not _impossible("電気メッキでは、だしとサマライが起きる", 10.26, 10.32, [0.05, 0.1], 0)
    assert not _impossible("電気メッキでは、脱脂と酸洗いが不十分だと", 0.0, 3.0, [0.05], 40)  # speech speed
    assert not _impossible("作業の説明です", 8.0, 8.1, [0.9, 0.8], 40)  # fast but sure
    assert not _impossible("はい", 1.0, 1.01, [0.1], 40)  # too short to judge


def test_a_japanese_segment_is_cut_at_its_sentence_ends():
    from media.asr import _sentences

    words = [
        Word("薄い板を", 0.0, 1.0),
        Word("溶接する。", 1.0, 2.5),
        Word("長い軸を", 3.0, 4.0),
        Word("削る。", 4.0, 5.0),
    ]
    parts = _sentences(Segment(0.0, 5.0, "薄い板を溶接する。長い軸を削る。", words))
    assert [(p.start, p.end, p.text) for p in parts] == [(0.0, 2.5, "薄い板を溶接する。"), (3.0, 5.0, "長い軸を削る。")]
    one = Segment(0.0, 2.5, "薄い板を溶接する。", words[:2])
    assert _sentences(one) == [one] and _sentences(Segment(0.0, 1.0, "x")) == [Segment(0.0, 1.0, "x")]


def test_an_echo_of_the_prompt_is_not_speech():
    from media.asr import _echoes

    style = "以下は、作業の説明です。"
    assert _echoes("作業の説明です。", style) and _echoes("以下は、作業の説明です", style)
    assert not _echoes("作業の説明です。", None) and not _echoes("説明", style)  # too short to judge
    assert not _echoes("作業の手順を説明します。", style)
