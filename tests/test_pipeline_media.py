"""Media recordings through the pipeline: companion subtitles, glossary hints, media without speech."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kb import glossary, recordings
from kb.recordings import RecordingMeta


def ffmpeg(*args: str) -> None:
    from media.ffmpeg import ffmpeg_binary

    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture
def jfk_video(tmp_path, jfk) -> Path:
    """A real 11 s video: test picture + the jfk speech, under a Japanese file name."""
    out = tmp_path / "media" / "旋盤 びびり対策.mp4"
    out.parent.mkdir()
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=10",
        "-i",
        str(jfk),
        "-shortest",
        "-c:v",
        "mpeg4",
        "-c:a",
        "aac",
        "-pix_fmt",
        "yuv420p",
        str(out),
    )
    return out


SRT = """1
00:00:01,000 --> 00:00:04,500
バイトの突き出しを短くします

2
00:00:05,000 --> 00:00:09,000
回転数を一割下げるとびびりが収まります
"""


def test_subtitle_beside_video_is_its_transcript(jfk_video, ingestor, searcher, conn, monkeypatch):
    jfk_video.with_suffix(".srt").write_text(SRT, encoding="utf-8")
    monkeypatch.setattr(type(ingestor), "_recognizer", lambda self: pytest.fail("speech recognition must not run"))
    results = ingestor.ingest_paths([jfk_video.parent], RecordingMeta(technique="旋盤"))
    assert [r.status for r in results] == ["added"], [r.message for r in results]  # the .srt is not a recording
    rec = recordings.get(conn, results[0].recording_id)
    assert rec["kind"] == "video" and rec["source_name"] == "旋盤 びびり対策.mp4"
    assert rec["transcript_source"].startswith("subtitles")
    assert rec["duration"] == pytest.approx(11, abs=0.6)
    segs = recordings.segments(conn, rec["id"])
    assert [s["start"] for s in segs] == [1.0, 5.0] and segs[1]["text"].startswith("回転数")
    hit = searcher.search("回転数を下げる", limit=1).hits[0]
    assert hit.recording_id == rec["id"] and hit.start == 1.0 and hit.link == f"/r/{rec['id']}?t=1"


def test_glossary_terms_are_given_to_speech_recognition(jfk, ingestor, conn, monkeypatch):
    from media.asr import Segment, Transcript, Word

    glossary.add(conn, "心押し台", "しんおしだい", ["テールストック"])
    glossary.add(conn, "バイト")
    seen = {}

    class FakeRecognizer:
        name = "fake"

        def transcribe(self, audio, *, language=None, hotwords=None, progress=None):
            seen.update(hotwords=hotwords, language=language, seconds=len(audio) / 16000)
            progress(1.0)
            return Transcript(
                language="ja",
                duration=11.0,
                engine="fake",
                model="fake",
                segments=[Segment(0.0, 3.0, "心押し台で支える", [Word("心押し台", 0.0, 1.0)])],
            )

    monkeypatch.setattr(type(ingestor), "_recognizer", lambda self: FakeRecognizer())
    r = ingestor.ingest_file(jfk, RecordingMeta(language="ja"))
    assert r.status == "added", r.message
    assert seen["hotwords"] == ["心押し台", "バイト"] and seen["language"] == "ja"
    assert seen["seconds"] == pytest.approx(11, abs=0.5)  # real ffmpeg decoded the real file
    job = conn.execute("SELECT stage, progress FROM jobs WHERE recording_id = ?", (r.recording_id,)).fetchone()
    assert job["stage"] == "done" and job["progress"] == 1.0


def test_video_without_sound_or_subtitles_fails_clearly(tmp_path, ingestor, conn):
    silent = tmp_path / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=5", "-t", "2", "-c:v", "mpeg4", str(silent))
    r = ingestor.ingest_file(silent, RecordingMeta())
    assert r.status == "failed" and "silent.mp4" in r.message and "no audio" in r.message
    rec = recordings.get(conn, r.recording_id)
    assert rec["status"] == "failed" and "no audio" in rec["error"]
    assert conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 0


def test_failed_file_can_be_ingested_again_once_fixed(tmp_path, ingestor, conn, monkeypatch):
    p = tmp_path / "手順.md"
    p.write_text("# 手順\n\n砥石のバランスを取る。", encoding="utf-8")

    def broken(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(ingestor.store), "write_chunks", broken)
    first = ingestor.ingest_file(p, RecordingMeta())
    assert first.status == "failed" and "disk full" in first.message
    monkeypatch.undo()
    second = ingestor.ingest_file(p, RecordingMeta())
    assert second.status == "added" and second.recording_id == first.recording_id
    assert recordings.get(conn, first.recording_id)["status"] == "done"
