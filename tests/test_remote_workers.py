"""Transcription workers on other machines, for real: redis-server, `kb serve`, two `kb worker` processes.

Real parts throughout: a redis-server on a free loopback port (the Debian package;
the test skips, saying so, where it cannot start), `python -m kb serve` with
KB_QUEUE pointing at it, and two `python -m kb worker --queue ... --server ...`
processes, each with its own folder as KB_HOME and working directory -- they are
never told where the server's knowledge base is, and reach it only over HTTP with
a worker token.  Real ffmpeg, Whisper tiny.en, the default embedders, SQLite and
FAISS on disk.

Four recordings (JFK's 11 seconds, made different with ffmpeg, under Japanese
names) are uploaded through the API.  Worker A is held at the start of
transcription (KB_TEST_REMOTE_PAUSE) and killed with SIGKILL there; after the
lease (10 s here) its job goes to worker B.  Every recording must end done exactly
once, searchable, with SQLite and the FAISS index in agreement.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from helpers.remote import Redis, Server, Unavailable, speech_variants, stop, wait_until

LEASE = "10"


@pytest.fixture
def redis_url(tmp_path):
    try:
        server = Redis(tmp_path)
    except Unavailable as e:
        pytest.skip(str(e))
    yield server.url
    server.stop()


def test_two_remote_workers_one_killed_every_recording_done_once(tmp_path, redis_url, jfk):
    server = Server(tmp_path / "server", redis_url, KB_JOB_LEASE_SECONDS=LEASE, KB_JOB_RETRY_SECONDS="1")
    config = server.config
    assert server.worker_token.startswith("tkw_")
    procs = [server.proc]
    home_a, home_b = tmp_path / "worker-a", tmp_path / "worker-b"
    try:
        workers = {
            "w-a": server.start_worker(redis_url, "w-a", home_a, KB_THREADS="1", KB_TEST_REMOTE_PAUSE="transcribing"),
            "w-b": server.start_worker(redis_url, "w-b", home_b, KB_THREADS="1"),
        }
        procs += list(workers.values())
        names = ["ケネディ演説.flac", "演説・速め.flac", "演説・間あり.wav", "演説・小さめ.flac"]
        ids = [server.upload(p, n) for p, n in zip(speech_variants(jfk, tmp_path), names, strict=True)]

        conn = server.db()
        # worker A holds one job at the start of transcription; the studio's job state names it
        held = wait_until(
            lambda: conn.execute(
                "SELECT * FROM jobs WHERE claimed_host = 'remote/w-a' AND stage = 'transcribing'"
            ).fetchone(),
            "worker A to start transcribing",
            300,
            procs,
        )
        state = server.get(f"api/v1/recordings/{held['recording_id']}/job")
        assert state["worker"] == "w-a" and state["stage"] == "transcribing"
        killed_job, killed_attempt = held["id"], held["claimed_by"]
        workers["w-a"].kill()  # SIGKILL, mid-transcription
        workers["w-a"].wait(timeout=30)
        procs.remove(workers["w-a"])

        def all_done():
            rows = conn.execute(
                f"SELECT status FROM recordings WHERE id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
            assert "failed" not in [r[0] for r in rows], conn.execute("SELECT id, error FROM recordings").fetchall()
            return len(rows) == len(ids) and all(r[0] == "done" for r in rows)

        wait_until(all_done, "every recording to be done", 600, procs)

        # each recording done exactly once: one job, done; the killed one took a second attempt
        jobs = conn.execute("SELECT * FROM jobs ORDER BY recording_id").fetchall()
        assert [j["recording_id"] for j in jobs] == sorted(ids)
        assert all(j["stage"] == "done" and j["claimed_by"] is None for j in jobs)
        assert conn.execute("SELECT attempts FROM jobs WHERE id = ?", (killed_job,)).fetchone()[0] == 2
        # no duplicate passages; each recording has its own, numbered from 0
        dup = conn.execute(
            "SELECT recording_id, text, start, COUNT(*) FROM chunks GROUP BY 1, 2, 3 HAVING COUNT(*) > 1"
        ).fetchall()
        assert dup == []
        for rid in ids:
            idx = [r[0] for r in conn.execute("SELECT idx FROM chunks WHERE recording_id = ? ORDER BY idx", (rid,))]
            assert idx and idx == list(range(len(idx)))
            assert tuple(
                conn.execute("SELECT transcript_source, playback FROM recordings WHERE id = ?", (rid,)).fetchone()
            ) == ("asr:faster-whisper", "original")
        # searchable by the person, through the server
        hits = server.get("api/v1/search?q=ask+not+what+your+country+can+do+for+you")
        assert set(ids) <= {h["recording_id"] for h in hits["hits"]}, hits
        # the dead attempt can no longer report (its heartbeat is refused)
        from ingest import results

        wconn = sqlite3.connect(server.home / "kb.sqlite3")
        assert not results.heartbeat(wconn, killed_job, killed_attempt, stage="transcribing")
        wconn.close()
        conn.close()
    finally:
        outputs = [stop(p) for p in procs]
    assert "Traceback" not in outputs[0], outputs[0]

    # SQLite and FAISS agree: the saved index is current (no rebuild), has every chunk once, each vector finds its chunk
    from kb import db
    from search.store import SearchStore
    from search.vector_index import MANIFEST_FILE

    conn = db.connect(config.db_path)
    manifest = json.loads((config.index_dir / MANIFEST_FILE).read_text())
    assert manifest["generation"] == db.get_generation(conn)
    store = SearchStore(config, conn)
    rows = conn.execute("SELECT id, embedding FROM chunks ORDER BY id").fetchall()
    assert len(store.index) == len(rows) == manifest["count"]
    vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    _, found = store.index.search(vecs, 1)
    assert sorted(int(i) for i in found[:, 0]) == [r[0] for r in rows]
    conn.close()
    # the workers never had a knowledge base of their own, and left no scratch files behind
    for home in (home_a, home_b):
        assert not (home / "kb.sqlite3").exists()
    assert list((home_b / "remote-work").iterdir()) == []
