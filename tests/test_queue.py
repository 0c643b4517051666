"""The processing queue: upload checks, stored originals, duplicates, retry, replace, job states, claims.

Real SQLite, real type detection and real files; the embedder is the model-free
hash embedder where a job has to run (these tests are about the queue).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from ingest import queue
from ingest.queue import Claim, job_states, replace_file, retry, submit_file
from kb import recordings
from kb.errors import InputError
from kb.recordings import RecordingMeta

MD = "# 旋盤の段取り\n\nバイトの突き出しを短くすると、びびりが減る。心押し台で長い軸を支える。"


@pytest.fixture
def qconfig(tmp_path):
    from kb.settings import load_config

    return load_config(home=tmp_path / "kb", embed_model="hash", second_embed_model="none")


@pytest.fixture
def qconn(qconfig):
    from kb.home import init_home

    c = init_home(qconfig)
    yield c
    c.close()


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def run_all(config):
    from ingest.worker import Worker

    w = Worker(config)
    try:
        return w.run_until_empty()
    finally:
        w.close()


def counts(conn) -> tuple[int, int]:
    return (
        conn.execute("SELECT COUNT(*) FROM recordings").fetchone()[0],
        conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0],
    )


# ---------------------------------------------------------------- checks


def test_type_comes_from_the_content_not_the_name(qconfig, qconn, tmp_path):
    fake = write(tmp_path / "clip.mp4", "this is a text file, not a video\n" * 20)
    with pytest.raises(InputError, match=r"^動画.mp4: content is text, not video") as e:
        submit_file(qconfig, qconn, fake, "動画.mp4", RecordingMeta())
    assert (e.value.code, e.value.params["expected"], e.value.params["name"]) == ("text_not_media", "video", "動画.mp4")
    playlist = write(tmp_path / "list.m3u8", "#EXTM3U\n#EXTINF:10,\n/etc/passwd\n")
    with pytest.raises(InputError, match="playlist") as e:
        submit_file(qconfig, qconn, playlist, "list.m3u8", RecordingMeta())
    assert e.value.code == "playlist"
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000))
    with pytest.raises(InputError, match=r"^壊れた動画.mp4: corrupt or unsupported media") as e:
        submit_file(qconfig, qconn, damaged, "壊れた動画.mp4", RecordingMeta())
    assert e.value.code == "damaged_media" and e.value.params["detail"].startswith("corrupt or unsupported media")
    assert counts(qconn) == (0, 0)
    assert not any((qconfig.originals_dir).rglob("*.*")), "nothing is kept of a refused file"


def test_empty_and_too_large_files_are_refused(qconfig, qconn, tmp_path):
    empty = tmp_path / "空.md"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="0 bytes"):
        submit_file(qconfig, qconn, empty, empty.name, RecordingMeta())
    qconfig.values["max_upload_bytes"] = "50"
    big = write(tmp_path / "大きい.md", MD * 3)
    with pytest.raises(InputError, match="larger than the limit of 50 bytes"):
        submit_file(qconfig, qconn, big, big.name, RecordingMeta())
    assert counts(qconn) == (0, 0)


def test_audio_named_pdf_is_taken_as_audio(qconfig, qconn, tmp_path, jfk):
    from media.ffmpeg import ffmpeg_binary

    mp3 = tmp_path / "memo.mp3"
    subprocess.run(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            str(jfk),
            "-t",
            "2",
            "-c:a",
            "libmp3lame",
            str(mp3),
        ],
        check=True,
        timeout=60,
    )
    renamed = mp3.rename(tmp_path / "手順書.pdf")
    sub = submit_file(qconfig, qconn, renamed, renamed.name, RecordingMeta())
    rec = recordings.get(qconn, sub.recording_id)
    assert (rec["kind"], rec["format"]) == ("audio", "mp3")
    assert rec["stored_path"].endswith(".mp3")


# ---------------------------------------------------------------- storing and queueing


def test_submit_stores_under_a_generated_name_and_keeps_the_japanese_name(qconfig, qconn, tmp_path):
    src = write(tmp_path / "旋盤の段取り.md", MD)
    sub = submit_file(qconfig, qconn, src, "旋盤の段取り.md", RecordingMeta(technique="旋盤"), hotwords=["心押し台"])
    assert sub.status == "queued" and sub.title == "旋盤の段取り"
    rec = recordings.get(qconn, sub.recording_id)
    sha = queue.sha256_of(src)
    assert rec["stored_path"] == f"originals/{sha[:2]}/{sha}.md"
    assert (qconfig.home / rec["stored_path"]).read_text(encoding="utf-8") == MD
    assert rec["source_name"] == "旋盤の段取り.md" and rec["status"] == "pending"
    assert src.exists(), "copied, not moved"
    from web import app as web_app

    static = web_app.STATIC.resolve()
    assert not (qconfig.home / rec["stored_path"]).resolve().is_relative_to(static)
    job = qconn.execute("SELECT * FROM jobs WHERE id = ?", (sub.job_id,)).fetchone()
    assert job["stage"] == "queued" and job["claimed_by"] is None and job["attempts"] == 0
    assert '"心押し台"' in job["payload"]

    second = submit_file(
        qconfig, qconn, write(tmp_path / "溶接.md", "# 溶接\n\n脱脂してから仮付けする。"), "溶接.md", RecordingMeta()
    )
    states = job_states(qconn, [sub.recording_id, second.recording_id, 999])
    assert set(states) == {sub.recording_id, second.recording_id}
    assert states[sub.recording_id] | {"updated_at": None} == {
        "stage": "queued",
        "progress": 0.0,
        "percent": 0,
        "message": queue.MSG_WAITING,
        "error": None,
        "attempts": 0,
        "job_id": sub.job_id,
        "completed_stage": None,
        "active": True,
        "ahead": 0,
        "updated_at": None,
        "worker": None,  # worker: a transcription worker on another machine (none here)
        "problem": None,
    }
    assert states[second.recording_id]["ahead"] == 1


def test_move_and_duplicates(qconfig, qconn, tmp_path):
    upload = write(tmp_path / "upload.tmp", MD)
    first = submit_file(qconfig, qconn, upload, "段取り.md", RecordingMeta(), move=True)
    assert not upload.exists(), "an upload's temporary file is moved"
    again = submit_file(qconfig, qconn, write(tmp_path / "again.tmp", MD), "段取り(2).md", RecordingMeta(), move=True)
    assert (again.status, again.recording_id) == ("exists", first.recording_id)
    assert "waiting" in again.message and not (tmp_path / "again.tmp").exists()
    run_all(qconfig)
    third = submit_file(qconfig, qconn, write(tmp_path / "third.md", MD), "third.md", RecordingMeta())
    assert (third.status, third.recording_id) == ("exists", first.recording_id)
    assert f"recording {first.recording_id}" in third.message
    assert counts(qconn) == (1, 1)


# ---------------------------------------------------------------- retry and replace


def test_failed_file_fails_clearly_and_retry_requeues_it(qconfig, qconn, tmp_path):
    from ingest.worker import Worker

    src = write(tmp_path / "空の手順.md", "#\n\n")
    sub = submit_file(qconfig, qconn, src, src.name, RecordingMeta())
    [outcome] = run_all(qconfig)
    assert outcome.status == "failed"
    rec = recordings.get(qconn, sub.recording_id)
    assert rec["status"] == "failed" and rec["error"].startswith("空の手順.md: ") and "no text" in rec["error"]
    assert queue.sha256_of(src) not in rec["error"], "messages name the file as its owner knows it"
    state = job_states(qconn, [sub.recording_id])[sub.recording_id]
    assert state["stage"] == "failed" and state["error"] == rec["error"] and state["attempts"] == 1

    again = retry(qconn, sub.recording_id)
    assert (again.status, again.job_id) == ("queued", sub.job_id)
    state = job_states(qconn, [sub.recording_id])[sub.recording_id]
    assert (state["stage"], state["error"], state["attempts"]) == ("queued", None, 0)
    assert recordings.get(qconn, sub.recording_id)["status"] == "pending"
    assert retry(qconn, sub.recording_id).message == "already waiting or being processed"
    w = Worker(qconfig)
    assert w.run_once().status == "failed"  # still the same empty file
    w.close()


def test_replace_file_reprocesses_under_the_same_id(qconfig, qconn, tmp_path):
    from search.engine import Searcher
    from search.store import SearchStore

    old = submit_file(qconfig, qconn, write(tmp_path / "古い.md", MD), "古い.md", RecordingMeta(title="段取りの話"))
    other = submit_file(
        qconfig, qconn, write(tmp_path / "別.md", "# 別\n\n研削盤の砥石を交換する。"), "別.md", RecordingMeta()
    )
    run_all(qconfig)
    before = recordings.get(qconn, old.recording_id)
    (qconfig.media_dir / str(old.recording_id)).mkdir(parents=True)
    (qconfig.media_dir / str(old.recording_id) / "thumb_3.jpg").write_bytes(b"old thumbnail")

    with pytest.raises(InputError, match=f"already in the knowledge base as recording {other.recording_id}"):
        replace_file(qconfig, qconn, old.recording_id, tmp_path / "別.md", "別.md")
    new = write(tmp_path / "新しい.md", "# 新しい手順\n\nフライス盤のバイスを平行に出す。")
    sub = replace_file(qconfig, qconn, old.recording_id, new, "新しい.md")
    assert (sub.status, sub.recording_id) == ("queued", old.recording_id)
    rec = recordings.get(qconn, old.recording_id)
    assert rec["status"] == "pending" and rec["source_name"] == "新しい.md" and rec["title"] == "段取りの話"
    assert not (qconfig.home / before["stored_path"]).exists(), "the old original is removed"
    assert not (qconfig.media_dir / str(old.recording_id)).exists(), "old thumbnails are removed"

    run_all(qconfig)
    assert recordings.get(qconn, old.recording_id)["status"] == "done"
    texts = [r[0] for r in qconn.execute("SELECT text FROM chunks WHERE recording_id = ?", (old.recording_id,))]
    assert texts and all("フライス" in t for t in texts) and not any("びびり" in t for t in texts)
    hits = Searcher(SearchStore(qconfig, qconn)).search("バイスを平行に", limit=3).hits
    assert hits and hits[0].recording_id == old.recording_id
    assert replace_file(qconfig, qconn, old.recording_id, new, "新しい.md").status == "exists"


# ---------------------------------------------------------------- claims


def test_claims_are_exclusive_across_connections(qconfig, qconn, tmp_path):
    from kb import db

    ids = [
        submit_file(
            qconfig, qconn, write(tmp_path / f"{n}.md", f"# 手順{n}\n\n内容{n}。"), f"{n}.md", RecordingMeta()
        ).job_id
        for n in range(30)
    ]
    taken: dict[str, list[int]] = {}

    def grab(label):
        conn = db.connect(qconfig.db_path)
        claim = Claim.mine(label)
        mine = taken.setdefault(label, [])
        while (row := queue.claim_next(conn, claim)) is not None:
            mine.append(row["id"])
        conn.close()

    threads = [threading.Thread(target=grab, args=(f"t{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [j for js in taken.values() for j in js]
    assert sorted(claimed) == ids, "every job claimed exactly once"
    assert queue.claim_next(qconn, Claim.mine("late")) is None
    rows = qconn.execute("SELECT claimed_by, attempts FROM jobs").fetchall()
    assert all(r["attempts"] == 1 for r in rows)
    for label, js in taken.items():
        assert {
            qconn.execute("SELECT claimed_by FROM jobs WHERE id = ?", (j,)).fetchone()[0].split(":")[0] for j in js
        } <= {label}


def test_stale_claims_are_handed_back_and_repeated_deaths_fail(qconfig, qconn, tmp_path):
    subs = [
        submit_file(
            qconfig, qconn, write(tmp_path / f"{n}.md", f"# 手順{n}\n\n内容{n}。"), f"手順{n}.md", RecordingMeta()
        )
        for n in range(4)
    ]
    dead = subprocess.Popen(["true"])
    dead.wait()
    now = time.time()
    me = Claim.mine("test")
    cases = {  # job -> (pid, host, heartbeat, attempts)
        subs[0].job_id: (dead.pid, me.host, now, 1),  # same machine, process gone
        subs[1].job_id: (os.getpid(), "other-pc", now - 3600, 1),  # another machine, silent for an hour
        subs[2].job_id: (os.getpid(), me.host, now, 1),  # alive and reporting: kept
        subs[3].job_id: (dead.pid, me.host, now, 3),  # died on its third try: failed
    }
    with qconn:
        for job_id, (pid, host, beat, attempts) in cases.items():
            qconn.execute(
                "UPDATE jobs SET claimed_by = ?, claimed_pid = ?, claimed_host = ?, heartbeat_at = ?,"
                " attempts = ?, stage = 'transcribing' WHERE id = ?",
                (f"w{job_id}", pid, host, beat, attempts, job_id),
            )
    handled = queue.reclaim_stale(qconfig, qconn)
    assert sorted(handled) == sorted([subs[0].job_id, subs[1].job_id, subs[3].job_id])
    row = {r["id"]: r for r in qconn.execute("SELECT * FROM jobs")}
    assert row[subs[0].job_id]["claimed_by"] is None and row[subs[0].job_id]["stage"] == "transcribing"
    assert row[subs[1].job_id]["claimed_by"] is None
    assert row[subs[2].job_id]["claimed_by"] == f"w{subs[2].job_id}"
    failed = row[subs[3].job_id]
    assert failed["stage"] == "failed" and "手順3.md: processing stopped 3 times during transcribing" in failed["error"]
    assert recordings.get(qconn, subs[3].recording_id)["status"] == "failed"


def test_pid_alive():
    assert queue.pid_alive(os.getpid())
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert queue.pid_alive(child.pid)
        child.kill()
        time.sleep(0.2)
        assert not queue.pid_alive(child.pid), "a killed, unreaped child (zombie) counts as gone"
    finally:
        child.wait()
    assert not queue.pid_alive(child.pid)
    assert not queue.pid_alive(None) and not queue.pid_alive(0)
