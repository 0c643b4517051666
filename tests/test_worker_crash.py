"""A worker killed with SIGKILL loses nothing: the next worker finishes the job, with no duplicates.

Real parts throughout: `python -m kb worker` subprocesses, real ffmpeg, Whisper
base (the default) and the default embedders, SQLite and FAISS on disk.  The lease is
long (600 s) on purpose: the job must be taken over because its worker's
process is gone, not because time passed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb import db, recordings
from kb.recordings import RecordingMeta

REPO = Path(__file__).resolve().parents[1]


def _env(home: Path, **extra: str) -> dict:
    env = dict(os.environ, KB_HOME=str(home), PYTHONIOENCODING="utf-8", KB_JOB_LEASE_SECONDS="600")
    env.pop("KB_TEST_PAUSE_AFTER", None)
    env.update(extra)
    return env


def start_worker(home: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kb", "worker", *args],
        cwd=REPO,
        env=_env(home, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_worker_once(home: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "kb", "worker", "--once"],
        cwd=REPO,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def wait_for(conn, sql: str, args: tuple, proc: subprocess.Popen, timeout: float = 600) -> None:
    """Poll the database until ``sql`` returns a row (failing if the worker exits first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.execute(sql, args).fetchone() is not None:
            return
        if proc.poll() is not None:
            pytest.fail(f"worker exited early ({proc.returncode}): {proc.stdout.read()}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for: {sql} {args}")


def kill9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)  # reaped: the pid is gone, as after a real crash
    proc.stdout.close()


def submit(config, conn, path: Path, name: str) -> int:
    from ingest.queue import submit_file

    return submit_file(config, conn, path, name, RecordingMeta(language="en")).recording_id


def assert_consistent(config, conn, rec_id: int) -> list[dict]:
    """Done, chunks exactly those cut from the saved transcript, and the FAISS file agreeing with SQLite."""
    import faiss

    from ingest.chunking import chunk_transcript

    rec = recordings.get(conn, rec_id)
    assert rec["status"] == "done", rec
    segs = recordings.segments(conn, rec_id)
    assert [s["idx"] for s in segs] == list(range(len(segs)))
    starts = [s["start"] for s in segs]
    assert starts == sorted(starts), "transcript lines out of order: a stage appended instead of replacing"
    assert segs[-1]["end"] <= rec["duration"] + 1
    chunks = conn.execute(
        "SELECT id, idx, text, start, end FROM chunks WHERE recording_id = ? ORDER BY idx", (rec_id,)
    ).fetchall()
    expected = chunk_transcript(
        segs, min_seconds=config.get("chunk_min_seconds"), max_seconds=config.get("chunk_max_seconds")
    )
    assert [c["text"] for c in chunks] == [c.text for c in expected]
    assert [c["idx"] for c in chunks] == list(range(len(expected)))
    all_ids = {r[0] for r in conn.execute("SELECT id FROM chunks")}
    manifest = json.loads((config.index_dir / "manifest.json").read_text())
    assert manifest["generation"] == db.get_generation(conn)
    assert manifest["count"] == len(all_ids)
    index = faiss.read_index(str(config.index_dir / "vectors.faiss"))
    assert set(faiss.vector_to_array(index.id_map).tolist()) == all_ids
    return segs


def found(config, conn, rec_id: int, query: str) -> bool:
    from search.engine import Searcher
    from search.store import SearchStore

    return any(h.recording_id == rec_id for h in Searcher(SearchStore(config, conn)).search(query, limit=10).hits)


@pytest.fixture
def long_speech(tmp_path, jfk) -> Path:
    """About 90 s of speech (the JFK sample eight times): transcription takes several seconds."""
    from media.ffmpeg import ffmpeg_binary

    out = tmp_path / "長い演説.flac"
    subprocess.run(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-stream_loop",
            "7",
            "-i",
            str(jfk),
            "-c:a",
            "flac",
            "-y",
            str(out),
        ],
        check=True,
        timeout=120,
    )
    return out


def test_kill9_mid_transcription_then_restart_completes_without_duplicates(config, conn, long_speech):
    rec_id = submit(config, conn, long_speech, long_speech.name)
    job_id = conn.execute("SELECT id FROM jobs WHERE recording_id = ?", (rec_id,)).fetchone()[0]

    worker = start_worker(config.home)
    # mid-transcription: Whisper has reported progress, and has not finished
    wait_for(conn, "SELECT 1 FROM jobs WHERE id = ? AND stage = 'transcribing' AND progress > 0.1", (job_id,), worker)
    kill9(worker)

    job = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    assert job["stage"] == "transcribing" and job["completed_stage"] == "extracting" and job["claimed_by"]
    assert recordings.get(conn, rec_id)["status"] == "processing"
    assert recordings.segments(conn, rec_id) == []
    assert conn.execute("SELECT COUNT(*) FROM chunks WHERE recording_id = ?", (rec_id,)).fetchone()[0] == 0
    assert not found(config, conn, rec_id, "fellow Americans")

    out = run_worker_once(config.home)
    assert f"#{rec_id}" in out and "done" in out, out

    job = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    assert job["stage"] == "done" and job["attempts"] == 2 and job["claimed_by"] is None and job["error"] is None
    segs = assert_consistent(config, conn, rec_id)
    text = " ".join(s["text"] for s in segs).lower()
    assert 1 <= text.count("fellow americans") <= 8  # eight times in the audio; a duplicate would exceed it
    assert found(config, conn, rec_id, "fellow Americans")
    assert not (config.home / "work" / str(rec_id)).exists()  # the private work folder is cleaned up


def test_kill9_after_chunks_are_written_then_restart_indexes_once(config, conn, jfk):
    """Killed between writing the chunks and marking the recording done (a test hook pauses it there)."""
    rec_id = submit(config, conn, jfk, "演説.flac")
    job_id = conn.execute("SELECT id FROM jobs WHERE recording_id = ?", (rec_id,)).fetchone()[0]

    worker = start_worker(config.home, KB_TEST_PAUSE_AFTER="embedding")
    wait_for(conn, "SELECT 1 FROM jobs WHERE id = ? AND completed_stage = 'embedding'", (job_id,), worker)
    written = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE recording_id = ?", (rec_id,))]
    assert written, "chunks are in SQLite"
    assert recordings.get(conn, rec_id)["status"] == "processing"
    assert not found(config, conn, rec_id, "fellow Americans"), "never searchable half-indexed"
    kill9(worker)

    out = run_worker_once(config.home)
    assert "done" in out, out
    assert_consistent(config, conn, rec_id)
    assert [r[0] for r in conn.execute("SELECT id FROM chunks WHERE recording_id = ?", (rec_id,))] == written
    job = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    assert job["stage"] == "done" and job["attempts"] == 2
    assert found(config, conn, rec_id, "fellow Americans")


def test_sigterm_hands_the_job_back_without_counting_a_try(config, conn, long_speech):
    rec_id = submit(config, conn, long_speech, long_speech.name)
    job_id = conn.execute("SELECT id FROM jobs WHERE recording_id = ?", (rec_id,)).fetchone()[0]
    worker = start_worker(config.home)
    wait_for(conn, "SELECT 1 FROM jobs WHERE id = ? AND stage = 'transcribing' AND progress > 0.1", (job_id,), worker)
    worker.send_signal(signal.SIGTERM)
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0 and "stopped" in out, out
    job = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    assert job["claimed_by"] is None and job["attempts"] == 0 and job["completed_stage"] == "extracting"
    assert recordings.get(conn, rec_id)["status"] == "pending"
