"""`kb worker` and the worker thread of `kb serve`: jobs run in the background, stage by stage.

Real ffmpeg, the default Whisper (multilingual base) and SQLite; the hash embedder where the test is not
about search quality.  The two-process test runs real `python -m kb worker`s.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest import queue
from ingest.queue import job_states, submit_file
from ingest.worker import Worker
from kb import recordings
from kb.recordings import RecordingMeta

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def hconfig(tmp_path):
    from kb.settings import load_config

    return load_config(home=tmp_path / "kb", embed_model="hash", second_embed_model="none")


@pytest.fixture
def hconn(hconfig):
    from kb.home import init_home

    c = init_home(hconfig)
    yield c
    c.close()


def ffmpeg(*args: str) -> None:
    from media.ffmpeg import ffmpeg_binary

    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=180)


def run_all(config, **kw):
    w = Worker(config, **kw)
    try:
        return w.run_until_empty()
    finally:
        w.close()


def test_worker_transcribes_and_indexes_a_recording(config, conn, jfk):
    from search.engine import Searcher
    from search.store import SearchStore

    sub = submit_file(config, conn, jfk, "大統領の演説.flac", RecordingMeta(language="en", technique="speech"))
    assert not Searcher(SearchStore(config, conn)).search("fellow Americans").hits  # queued: not searchable
    lines = []
    [outcome] = run_all(config, on_event=lines.append)
    assert outcome.status == "done" and outcome.title == "大統領の演説"
    assert lines[0].startswith(f"started  job {sub.job_id}") and lines[-1].startswith(f"done     #{sub.recording_id}")
    rec = recordings.get(conn, sub.recording_id)
    assert rec["status"] == "done" and rec["transcript_source"].startswith("asr:")
    assert rec["duration"] == pytest.approx(11, abs=0.5) and rec["playback"] == "original"
    state = job_states(conn, [sub.recording_id])[sub.recording_id]
    assert (state["stage"], state["percent"], state["message"], state["active"]) == ("done", 100, "Done", False)
    job = conn.execute("SELECT * FROM jobs WHERE id = ?", (sub.job_id,)).fetchone()
    assert job["completed_stage"] == "indexing" and job["claimed_by"] is None and job["attempts"] == 1
    assert not (config.home / "work" / str(sub.recording_id)).exists()
    assert not (config.media_dir / str(sub.recording_id) / "web.mp4").exists(), "FLAC plays as it is"
    hits = Searcher(SearchStore(config, conn)).search("fellow Americans", limit=3).hits
    assert hits and hits[0].recording_id == sub.recording_id and hits[0].start <= 2.0


def test_hotwords_are_the_jobs_own_then_its_organisations_glossary(hconfig, hconn, jfk, monkeypatch):
    from ingest.stages import JobRunner
    from kb import glossary
    from media.asr import Segment, Transcript

    with hconn:
        hconn.execute("INSERT INTO organisations(id, name) VALUES (2, '第二工場')")
    glossary.add(hconn, "心押し台", organisation_id=1)
    glossary.add(hconn, "段取り", organisation_id=2)
    seen = {}

    class Recognizer:
        name = "fake"

        def transcribe(self, audio, *, language=None, hotwords=None, progress=None):
            seen.update(hotwords=hotwords, language=language, seconds=len(audio) / 16000)
            progress(0.5)
            return Transcript("ja", 11.0, [Segment(0.0, 4.0, "段取りを確認する")], "fake", "fake")

    monkeypatch.setattr(JobRunner, "_default_recognizer", lambda self: Recognizer())
    sub = submit_file(
        hconfig, hconn, jfk, "memo.flac", RecordingMeta(language="ja", organisation_id=2), hotwords=["溶接棒"]
    )
    assert run_all(hconfig)[0].status == "done"
    assert seen["hotwords"] == ["溶接棒", "段取り"] and seen["language"] == "ja"  # built-in vocabulary off
    assert seen["seconds"] == pytest.approx(11, abs=0.5)  # the WAV the extracting stage wrote
    assert recordings.segments(hconn, sub.recording_id)[0]["text"] == "段取りを確認する"


@pytest.fixture
def videos(tmp_path, jfk) -> dict[str, Path]:
    """Small real videos with the JFK speech: three that browsers cannot play, one that they can."""
    folder = tmp_path / "videos"
    folder.mkdir()
    pic = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-i", str(jfk), "-shortest"]
    out = {
        "hevc.mov": folder / "iPhoneの動画.mov",
        "mpeg4.avi": folder / "古いカメラ.avi",
        "h264.mkv": folder / "画面録画.mkv",
        "h264.mp4": folder / "普通の動画.mp4",
    }
    ffmpeg(
        *pic,
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error",
        "-tag:v",
        "hvc1",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(out["hevc.mov"]),
    )
    ffmpeg(*pic, "-c:v", "mpeg4", "-c:a", "libmp3lame", str(out["mpeg4.avi"]))
    ffmpeg(*pic, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out["h264.mkv"]))
    ffmpeg(
        *pic, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", str(out["h264.mp4"])
    )
    return out


def _atoms(path: Path) -> list[bytes]:
    """Top-level MP4 box names in file order."""
    names, data, pos = [], path.read_bytes(), 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        names.append(data[pos + 4 : pos + 8])
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if size < 8:
            break
        pos += size
    return names


def test_browser_copies_for_videos_browsers_cannot_play(hconfig, hconn, videos):
    from media.ffmpeg import browser_playable, probe
    from web.mediafiles import playable

    assert probe(videos["hevc.mov"]).video_codec == "hevc"
    ids = {
        key: submit_file(hconfig, hconn, path, path.name, RecordingMeta(language="en")).recording_id
        for key, path in videos.items()
    }
    assert all(o.status == "done" for o in run_all(hconfig))
    for key, rec_id in ids.items():
        rec = recordings.get(hconn, rec_id)
        original = hconfig.home / rec["stored_path"]
        assert original.is_file() and original.read_bytes() == videos[key].read_bytes(), "the original is kept"
        copy = hconfig.media_dir / str(rec_id) / "web.mp4"
        chosen = playable(hconfig, rec)
        if key == "h264.mp4":
            assert rec["playback"] == "original" and not copy.exists()
            assert chosen.path == original and chosen.mimetype == "video/mp4"
            continue
        assert rec["playback"] == "copy", key
        info = probe(copy)
        assert (info.video_codec, info.audio_codec, info.pixel_format) == ("h264", "aac", "yuv420p"), key
        assert browser_playable(info, "mp4")
        atoms = _atoms(copy)
        assert atoms.index(b"moov") < atoms.index(b"mdat"), "fast start: the index comes first"
        assert chosen.path == copy.resolve() and chosen.mimetype == "video/mp4"
        assert "fellow" in " ".join(s["text"] for s in recordings.segments(hconn, rec_id)).lower()


def test_browser_playable_rules():
    from media.ffmpeg import MediaInfo, browser_playable

    def video(codec, container, audio="aac", pix="yuv420p"):
        return browser_playable(
            MediaInfo("x", None, 1.0, audio is not None, True, audio, codec, pixel_format=pix), container
        )

    assert video("h264", "mp4") and video("h264", "mov", "mp3") and video("vp9", "webm", "opus")
    assert video("h264", "mp4", audio=None)
    assert not video("hevc", "mov") and not video("h264", "mkv") and not video("mpeg4", "avi", "mp3")
    assert not video("h264", "mp4", pix="yuv420p10le") and not video("h264", "mp4", audio="pcm_s16le")
    assert not video("vp9", "mkv", "opus") and not video("wmv2", "wmv", "wmav2")

    def audio(codec, container):
        return browser_playable(MediaInfo("x", None, 1.0, True, False, codec), container)

    assert audio("mp3", "mp3") and audio("aac", "m4a") and audio("flac", "flac") and audio("pcm_s16le", "wav")
    assert not audio("wmav2", "wma") and not audio("pcm_s16be", "aiff") and not audio("alac", "m4a")


def test_passing_errors_are_tried_again_then_fail(hconfig, hconn, tmp_path, monkeypatch):
    from search.store import SearchStore

    def broken(self, rec_id, chunks):
        if chunks:
            raise RuntimeError("disk full")

    monkeypatch.setattr(SearchStore, "write_chunks", broken)
    src = tmp_path / "手順.md"
    src.write_text("# 手順\n\n砥石のバランスを取る。", encoding="utf-8")
    sub = submit_file(hconfig, hconn, src, src.name, RecordingMeta())
    w = Worker(hconfig)
    first = w.run_once()
    assert first.status == "retry" and "disk full" in first.message
    assert w.run_once() is None, "not again before job_retry_seconds"
    state = job_states(hconn, [sub.recording_id])[sub.recording_id]
    assert state["stage"] == "embedding" and state["completed_stage"] == "transcribing"
    assert "disk full" in state["error"] and state["message"] == queue.MSG_RETRYING and state["active"]
    with hconn:  # job_retry_seconds (30 s) pass
        hconn.execute("UPDATE jobs SET not_before = not_before - 30")
    hconfig.values["job_retry_seconds"] = "0"
    assert [w.run_once().status, w.run_once().status] == ["retry", "failed"]
    w.close()
    rec = recordings.get(hconn, sub.recording_id)
    assert rec["status"] == "failed" and rec["error"] == "手順.md: RuntimeError: disk full"
    assert job_states(hconn, [sub.recording_id])[sub.recording_id]["attempts"] == 3

    monkeypatch.undo()
    assert queue.retry(hconn, sub.recording_id).status == "queued"
    assert run_all(hconfig)[0].status == "done"


def test_stop_hands_the_job_back_and_it_resumes(hconfig, hconn, jfk):
    sub = submit_file(hconfig, hconn, jfk, "jfk.flac", RecordingMeta(language="en"))
    stop = threading.Event()
    stop.set()
    w = Worker(hconfig)
    assert w.run_once(stop).status == "stopped"
    job = hconn.execute("SELECT * FROM jobs WHERE id = ?", (sub.job_id,)).fetchone()
    assert job["claimed_by"] is None and job["attempts"] == 0 and job["message"] == queue.MSG_PAUSED
    assert recordings.get(hconn, sub.recording_id)["status"] == "pending"
    assert w.run_once().status == "done"
    w.close()


def test_deleted_while_queued_or_processing_is_dropped_cleanly(hconfig, hconn, tmp_path):
    from services import recordings as recording_ops

    src = tmp_path / "消す.md"
    src.write_text("# 消す\n\n内容。", encoding="utf-8")
    sub = submit_file(hconfig, hconn, src, src.name, RecordingMeta())
    recording_ops.delete(hconfig, hconn, sub.recording_id)
    assert run_all(hconfig) == []
    assert hconn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


@pytest.mark.slow
def test_two_worker_processes_run_each_job_once(hconfig, hconn, tmp_path):
    n = 12
    for i in range(n):
        src = tmp_path / f"手順{i}.md"
        src.write_text(f"# 手順{i}\n\n工程{i}の段取りを確認する。", encoding="utf-8")
        submit_file(hconfig, hconn, src, src.name, RecordingMeta())
    env = dict(
        os.environ,
        KB_HOME=str(hconfig.home),
        KB_EMBED_MODEL="hash",
        KB_SECOND_EMBED_MODEL="none",
        KB_TEST_STAGE_DELAY="0.3",
        PYTHONIOENCODING="utf-8",
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kb", "worker", "--once"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    runs = [[int(j) for j in re.findall(r"^started  job (\d+)", out, re.M)] for out, _ in outs]
    assert all(runs), f"both workers took jobs: {runs}"
    assert sorted(runs[0] + runs[1]) == list(range(1, n + 1)), "each job run by exactly one worker"
    jobs = hconn.execute("SELECT stage, attempts FROM jobs").fetchall()
    assert [(j["stage"], j["attempts"]) for j in jobs] == [("done", 1)] * n
    assert hconn.execute("SELECT COUNT(*) FROM recordings WHERE status = 'done'").fetchone()[0] == n
    dup = hconn.execute("SELECT COUNT(*) FROM (SELECT recording_id, idx FROM chunks GROUP BY 1, 2 HAVING COUNT(*) > 1)")
    assert dup.fetchone()[0] == 0
    manifest = json.loads((hconfig.index_dir / "manifest.json").read_text())
    assert manifest["count"] == hconn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]


def test_serve_runs_a_worker_thread_and_keeps_answering(config, conn, jfk):
    import urllib.request

    from web.app import create_app
    from web.serve import background_server

    sub = submit_file(config, conn, jfk, "演説.flac", RecordingMeta(language="en"))
    app = create_app({"KB_CONFIG": config, "TESTING": True})
    answered = []
    with background_server(app, worker=True) as server:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with urllib.request.urlopen(server.url + "/", timeout=30) as resp:
                answered.append((resp.status, job_states(conn, [sub.recording_id])[sub.recording_id]["stage"]))
            if answered[-1][1] == "done":
                break
            time.sleep(0.2)
        worker_threads = [t for t in threading.enumerate() if t.name == "kb-worker"]
        assert worker_threads
    assert not any(t.is_alive() for t in worker_threads), "the worker thread stops with the server"
    assert answered[-1] == (200, "done") and all(status == 200 for status, _ in answered)
    assert any(stage in ("extracting", "transcribing", "embedding", "indexing") for _, stage in answered), (
        "pages were served while the recording was being processed"
    )


def test_serve_worker_setting_off(hconfig, hconn):
    from web.app import create_app
    from web.serve import start_worker

    hconfig.values["serve_worker"] = "0"
    assert start_worker(create_app({"KB_CONFIG": hconfig, "TESTING": True})) is None
    hconfig.values["serve_worker"] = "1"
    worker = start_worker(create_app({"KB_CONFIG": hconfig, "TESTING": True}))
    assert worker is not None and worker.thread.is_alive()
    assert worker.stop(timeout=30) and not worker.thread.is_alive()


def test_worker_index_stays_whole_when_another_process_writes_between_its_jobs(hconfig, hconn, tmp_path):
    """A long-lived worker must not save its in-memory index over vectors that `kb ingest` added meanwhile."""
    import faiss

    from ingest.pipeline import Ingestor

    def doc(name, text):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return submit_file(hconfig, hconn, path, name, RecordingMeta())

    w = Worker(hconfig)
    doc("一.md", "# 一\n\n旋盤の段取り。")
    assert w.run_once().status == "done"
    other = Ingestor(hconfig, hconn)  # e.g. `kb ingest` in another process, with its own index in memory
    assert other.ingest_text("二", "溶接の前に脱脂する。").status == "added"
    doc("三.md", "# 三\n\n研削盤の砥石を替える。")
    assert w.run_once().status == "done"
    w.close()
    index = faiss.read_index(str(hconfig.index_dir / "vectors.faiss"))
    assert set(faiss.vector_to_array(index.id_map).tolist()) == {r[0] for r in hconn.execute("SELECT id FROM chunks")}


def test_a_job_from_the_embedding_stage_keeps_a_done_recording_searchable(hconfig, hconn, tmp_path, monkeypatch):
    """What the studio queues after a title change: embed again, never hide the recording meanwhile."""
    from search.engine import Searcher
    from search.store import SearchStore

    src = tmp_path / "段取り.md"
    src.write_text("# 段取り\n\nバイトの突き出しを短くする。", encoding="utf-8")
    rec_id = submit_file(hconfig, hconn, src, src.name, RecordingMeta()).recording_id
    run_all(hconfig)
    with hconn:
        recordings.update(hconn, rec_id, title="旋盤のびびり対策")
        queue.insert_job(hconn, rec_id, {"shown": src.name}, completed_stage="transcribing")
    assert recordings.get(hconn, rec_id)["status"] == "done"
    assert [o.status for o in run_all(hconfig)] == ["done"]
    assert recordings.get(hconn, rec_id)["status"] == "done"
    hits = Searcher(SearchStore(hconfig, hconn)).search("びびり対策", limit=3, mode="lexical").hits
    assert hits and hits[0].recording_id == rec_id, "the new title is in the index"

    monkeypatch.setattr(
        SearchStore, "write_chunks", lambda self, rid, chunks: (_ for _ in ()).throw(ValueError("broken embedder"))
    )
    hconfig.values["job_max_attempts"] = "1"
    with hconn:
        queue.insert_job(hconn, rec_id, {"shown": src.name}, completed_stage="transcribing")
    assert [o.status for o in run_all(hconfig)] == ["failed"]
    rec = recordings.get(hconn, rec_id)
    assert rec["status"] == "done" and rec["error"] is None
    assert hconn.execute("SELECT COUNT(*) FROM chunks WHERE recording_id = ?", (rec_id,)).fetchone()[0] > 0


def test_built_in_vocabulary_only_when_decoding_japanese_and_switched_on(hconfig):
    from ingest.stages import default_vocabulary, with_vocabulary
    from kb.settings import Config

    rec = {"title": "TIG溶接のひずみ", "tags": [], "technique": None}
    on = Config({**hconfig.values, "asr_default_vocabulary": "on"})
    assert default_vocabulary(on, rec)[:2] == ["溶接", "TIG溶接"]  # the recording's trade first
    assert default_vocabulary(hconfig, rec) == []  # off by default
    assert with_vocabulary(hconfig, None, ["段取り"], ["溶接"], "en") == ["段取り"]
    assert with_vocabulary(hconfig, None, ["段取り"], ["溶接"], None) == ["段取り"]
    assert with_vocabulary(hconfig, None, ["段取り"], ["溶接"], "ja") == ["段取り", "溶接"]
