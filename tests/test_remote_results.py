"""The server's rules for results from transcription workers on other machines (ingest/results.py), the
routing and attempts of the dispatcher (ingest/dispatch.py), and the worker API's tokens (web/views/api_worker.py).

No Redis here: the attempts are claimed with the dispatcher's own function, and the
results are built as a worker builds them, with the knowledge base's real (model-free
"hash") embedder.  tests/test_remote_workers.py runs the whole thing for real.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from ingest import dispatch, queue, results
from ingest.stages import WorkerStore
from kb import db, recordings
from kb.recordings import RecordingMeta
from search.store import indexed_text


@pytest.fixture
def kb(tmp_path):
    from kb.home import init_home
    from kb.settings import load_config

    config = load_config(home=tmp_path / "kb", embed_model="hash:16", second_embed_model="none", job_lease_seconds="5")
    conn = init_home(config)
    yield config, conn
    conn.close()


def new_job(conn, title="旋盤の段取り", route="remote") -> tuple[int, int]:
    with conn:
        rec = recordings.create(
            conn,
            title=title,
            kind="audio",
            fmt="flac",
            source_name="段取り.flac",
            sha256=f"{time.time_ns():064x}"[-64:],
            size_bytes=10,
            meta=RecordingMeta(),
            stored_path="originals/x.flac",
            status="pending",
        )
        job = queue.insert_job(conn, rec, {"shown": "段取り.flac", "route": route})
    return rec, job


def result_for(
    stores,
    attempt: str,
    title="旋盤の段取り",
    texts=("ask not what your country can do for you", "刃物の高さを合わせる"),
) -> results.RemoteResult:
    """What a worker would send: segments, passages, and the passages' vectors from the KB's embedder."""
    emb = stores.for_write().embedder
    chunks = [{"text": t, "start": 10.0 * i, "end": 10.0 * i + 9, "page": None} for i, t in enumerate(texts)]
    vectors = emb.encode_passages([indexed_text(title, c["text"]) for c in chunks])
    body = {
        "attempt": attempt,
        "title": title,
        "segments": [{"start": c["start"], "end": c["end"], "text": c["text"]} for c in chunks],
        "chunks": chunks,
        "embed_fingerprint": emb.fingerprint,
        "vectors": results.encode_vectors(vectors),
        "second_fingerprint": None,
        "vectors2": None,
        "language": "ja",
        "duration": 20.0,
        "asr": "test",
    }
    return results.parse_result(json.loads(json.dumps(body)))  # through JSON, as over HTTP


def counts(conn, rec):
    return (
        conn.execute("SELECT COUNT(*) FROM chunks WHERE recording_id = ?", (rec,)).fetchone()[0],
        conn.execute("SELECT COUNT(*) FROM segments WHERE recording_id = ?", (rec,)).fetchone()[0],
        db.get_generation(conn),
    )


def test_a_current_attempts_result_is_written_once_in_one_generation_and_is_searchable(kb):
    config, conn = kb
    rec, job = new_job(conn)
    (claimed, attempt) = dispatch.claim_for_remote(conn)
    assert claimed["id"] == job
    stores = WorkerStore(config, conn)
    generation = db.get_generation(conn)
    result = result_for(stores, attempt)
    assert results.apply_result(config, stores, job, result) == rec
    assert counts(conn, rec) == (2, 2, generation + 1)  # one generation for the whole recording
    assert recordings.get(conn, rec)["status"] == "done"
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job,)).fetchone()
    assert (row["stage"], row["claimed_by"], row["completed_stage"]) == ("done", None, "indexing")
    # SQLite and the saved index agree: a fresh store opens the index without rebuilding, each vector finds its chunk
    from search.store import SearchStore

    fresh = SearchStore(config, conn)
    rows = conn.execute("SELECT id, embedding FROM chunks WHERE recording_id = ? ORDER BY idx", (rec,)).fetchall()
    stored = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(2, -1)
    assert np.array_equal(stored, result.vectors)  # the worker's vectors, as sent
    assert len(fresh.index) == 2
    _, found = fresh.index.search(stored, 2)
    assert {int(i) for i in found.ravel()} == {r[0] for r in rows}
    # the same result again (a retried POST) is a late result: refused, nothing doubled
    with pytest.raises(results.Rejected) as e:
        results.apply_result(config, stores, job, result)
    assert e.value.code == "stale"
    assert counts(conn, rec) == (2, 2, generation + 1)


def test_a_superseded_attempt_is_discarded_and_the_new_one_applies(kb):
    config, conn = kb
    rec, job = new_job(conn)
    _, first = dispatch.claim_for_remote(conn)
    # the first worker stops reporting: its lease runs out, and the job goes to another attempt
    assert queue.reclaim_stale(config, conn, now=time.time() + 60) == [job]
    _, second = dispatch.claim_for_remote(conn)
    assert second != first
    stores = WorkerStore(config, conn)
    before = counts(conn, rec)
    assert not results.heartbeat(conn, job, first, stage="transcribing", progress=0.5)  # its beats are refused
    with pytest.raises(results.Rejected) as e:
        results.apply_result(config, stores, job, result_for(stores, first))
    assert e.value.code == "stale"
    assert counts(conn, rec) == before
    assert results.heartbeat(conn, job, second, stage="transcribing", progress=0.5)
    results.apply_result(config, stores, job, result_for(stores, second))
    assert counts(conn, rec)[0] == 2
    assert conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job,)).fetchone()[0] == 2


def test_vectors_from_another_embedder_are_refused_and_the_job_goes_back_to_the_queue(kb, tmp_path):
    config, conn = kb
    rec, job = new_job(conn)
    _, attempt = dispatch.claim_for_remote(conn)
    stores = WorkerStore(config, conn)
    result = result_for(stores, attempt)
    result.embed_fingerprint = "hash-32"
    before = counts(conn, rec)
    with pytest.raises(results.Rejected) as e:
        results.apply_result(config, stores, job, result)
    assert e.value.code == "fingerprint"
    result.embed_fingerprint = stores.for_write().embedder.fingerprint
    result.vectors = np.zeros((2, 8), np.float32)  # the right name, the wrong size
    with pytest.raises(results.Rejected):
        results.apply_result(config, stores, job, result)
    assert counts(conn, rec) == before
    assert results.release(config, stores, job, attempt, "wrong embedder", retry=True) == "retry"
    row = conn.execute("SELECT claimed_by, stage, not_before FROM jobs WHERE id = ?", (job,)).fetchone()
    assert row["claimed_by"] is None and row["stage"] not in queue.FINISHED and row["not_before"] > time.time()


def test_a_result_for_a_deleted_or_renamed_recording_writes_nothing(kb):
    config, conn = kb
    rec, job = new_job(conn, title="溶接")
    rec2, job2 = new_job(conn, title="研削")
    stores = WorkerStore(config, conn)
    _, a1 = dispatch.claim_for_remote(conn)
    _, a2 = dispatch.claim_for_remote(conn)
    r1, r2 = result_for(stores, a1, title="溶接"), result_for(stores, a2, title="研削")
    generation = db.get_generation(conn)
    with conn:
        conn.execute("DELETE FROM recordings WHERE id = ?", (rec,))  # its jobs go with it
    with pytest.raises(results.Rejected) as e:
        results.apply_result(config, stores, job, r1)
    assert e.value.code == "deleted"
    recordings.update(conn, rec2, title="研削（改）")
    conn.commit()
    with pytest.raises(results.Rejected) as e:
        results.apply_result(config, stores, job2, r2)
    assert e.value.code == "changed"  # its vectors embed the old title
    assert counts(conn, rec2) == (0, 0, generation)


def test_malformed_results_are_refused_before_anything_is_written():
    good = {
        "attempt": "remote:x",
        "title": "t",
        "chunks": [{"text": "a", "start": 0, "end": 1}],
        "segments": [{"text": "a", "start": 0, "end": 1}],
        "embed_fingerprint": "hash-16",
        "vectors": results.encode_vectors(np.ones((1, 16), np.float32)),
    }
    assert results.parse_result(good).vectors.shape == (1, 16)
    for bad in (
        {**good, "vectors": results.encode_vectors(np.ones((2, 16), np.float32))[:-4]},
        {**good, "vectors": "not base64!"},
        {**good, "chunks": []},
        {**good, "chunks": [{"text": "  ", "start": 0, "end": 1}]},
        {**good, "chunks": [{"start": 0}]},
        {**good, "vectors": results.encode_vectors(np.full((1, 16), np.nan, np.float32))},
        [1, 2],
    ):
        with pytest.raises(results.Rejected) as e:
            results.parse_result(bad)
        assert e.value.code == "invalid"


def test_routing_media_goes_remote_and_the_local_worker_only_takes_what_stays(kb, jfk):
    config, conn = kb
    from ingest.queue import submit_file

    audio = submit_file(config, conn, jfk, "ケネディ.flac", RecordingMeta())
    text = config.home.parent / "手順.txt"
    text.write_text("旋盤の段取りでは、まず刃物の高さを合わせる。\n" * 5, encoding="utf-8")
    doc = submit_file(config, conn, text, text.name, RecordingMeta())
    routes = {}
    for job in conn.execute("SELECT * FROM jobs").fetchall():
        routes[job["recording_id"]] = "remote" if dispatch.remote_route(config, conn, job) else "local"
    assert routes == {audio.recording_id: "remote", doc.recording_id: "local"}
    with conn:
        for rid, route in routes.items():
            conn.execute(
                "UPDATE jobs SET payload = json_set(payload, '$.route', ?) WHERE recording_id = ?", (route, rid)
            )
    local = queue.claim_next(conn, queue.Claim.mine("serve"), "local")
    assert local["recording_id"] == doc.recording_id
    assert queue.claim_next(conn, queue.Claim.mine("serve"), "local") is None  # the audio waits for a remote worker
    claimed, _ = dispatch.claim_for_remote(conn)
    assert claimed["recording_id"] == audio.recording_id


def test_the_studio_names_the_worker_and_worker_tokens_open_only_the_worker_api(tmp_path):
    from helpers.studio import add_user, api_token, client_as, studio_app
    from kb import worker_tokens

    app, config = studio_app(tmp_path / "kb", embed_model="hash:16", second_embed_model="none")
    add_user(config, "tanaka", "admin")
    person = api_token(config, "tanaka")
    conn = db.connect(config.db_path)
    _, worker = worker_tokens.create(conn, "夜勤GPU")
    rec, job = new_job(conn)
    _, attempt = dispatch.claim_for_remote(conn)
    client = app.test_client()

    def call(token, path, body):
        return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})

    start = f"/api/v1/worker/jobs/{job}/start"
    assert call(person, start, {"attempt": attempt}).status_code == 401  # a person's token opens no worker route
    assert client.get("/api/v1/recordings", headers={"Authorization": f"Bearer {worker}"}).status_code == 401
    assert call(worker, start, {"attempt": "remote:someone-else"}).status_code == 409
    spec = call(worker, start, {"attempt": attempt, "worker": "gpu-box-1"}).get_json()
    assert spec["embed_fingerprint"] == "hash-16" and spec["title"] == "旋盤の段取り"
    state = queue.job_states(conn, [rec])[rec]
    assert state["worker"] == "gpu-box-1"
    assert "Worker: gpu-box-1" in client_as(app, "tanaka").get("/studio").get_data(as_text=True)
    assert (
        call(
            worker,
            f"/api/v1/worker/jobs/{job}/heartbeat",
            {"attempt": attempt, "stage": "transcribing", "progress": 0.5},
        ).status_code
        == 200
    )
    assert queue.job_states(conn, [rec])[rec]["stage"] == "transcribing"
    worker_tokens.revoke(conn, 1)
    assert call(worker, f"/api/v1/worker/jobs/{job}/heartbeat", {"attempt": attempt}).status_code == 401
    conn.close()


def test_without_redis_the_dispatcher_hands_the_job_back_and_the_try_does_not_count(kb):
    config, conn = kb
    import redis

    rec, job = new_job(conn)
    port = __import__("helpers.remote", fromlist=["free_port"]).free_port()  # nothing listens there
    dispatcher = dispatch.Dispatcher(
        config.__class__({**config.values, "queue": f"redis://127.0.0.1:{port}/0"}), f"redis://127.0.0.1:{port}/0"
    )
    try:
        with pytest.raises(redis.ConnectionError):
            dispatcher.send_next()
    finally:
        dispatcher.conn.close()
    row = conn.execute("SELECT claimed_by, attempts, stage FROM jobs WHERE id = ?", (job,)).fetchone()
    assert (row["claimed_by"], row["attempts"], row["stage"]) == (None, 0, "queued")


def test_a_remote_workers_failure_keeps_its_problem_code_so_the_studio_says_it_in_plain_words(tmp_path):
    """Issue 14, item 1: a file a remote worker could not write down reads like one the local worker failed."""
    from helpers.studio import add_user, client_as, studio_app
    from kb import worker_tokens

    app, config = studio_app(tmp_path / "kb", embed_model="hash:16", second_embed_model="none")
    add_user(config, "tanaka", "admin")
    conn = db.connect(config.db_path)
    _, worker = worker_tokens.create(conn, "夜勤GPU")
    rec, job = new_job(conn)
    _, attempt = dispatch.claim_for_remote(conn)
    response = app.test_client().post(
        f"/api/v1/worker/jobs/{job}/failed",
        headers={"Authorization": f"Bearer {worker}"},
        json={
            "attempt": attempt,
            "reason": "段取り.flac: no audio stream",
            "permanent": True,
            "problem": {"code": "no_audio", "params": {}},
        },
    )
    assert response.get_json() == {"ok": True, "outcome": "failed"}
    client = client_as(app, "tanaka")
    client.set_cookie("lang", "ja")
    row = next(
        r
        for r in client.get("/studio", headers={"Accept": "application/json"}).get_json()["recordings"]
        if r["id"] == rec
    )
    assert (row["stage"], row["error_code"]) == ("failed", "no_audio")
    assert (
        row["error"].startswith("この動画には音声が入っていない")
        and row["error_detail"] == "段取り.flac: no audio stream"
    )
    conn.close()


def test_a_problem_a_worker_sends_is_kept_only_as_a_short_code_with_plain_values():
    from web.views.api_worker import _problem

    assert _problem({"code": "no_audio", "params": {"limit": 5, "x": [1], "name": "a" * 400}}) == {
        "code": "no_audio",
        "params": {"limit": 5, "name": "a" * 300},
    }
    assert _problem({"code": "<script>"}) is None and _problem("no_audio") is None and _problem(None) is None
