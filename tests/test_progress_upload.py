"""Issue 14, item 3: the processing bar follows the speech recognition, from a real upload to the job API.

A 70-second recording (jfk.flac six times, so Whisper decodes it in three 30 s windows) is uploaded
through the studio form and processed by the real worker in the background, as `kb serve` runs it.
Every progress value written to the job row is logged by a SQLite trigger (what the studio and the
job API read), and the job API is polled meanwhile, as the studio's list does: during recognition
the percent must take values between the end of reading the file (10 %) and the end of recognition
(80 %), rising, instead of sitting at 10 % until the transcript is complete.
"""

from __future__ import annotations

import subprocess
import threading

import pytest

from helpers.studio import add_user, client_as, rows, studio_app, upload, wait_for

READ_END, ASR_END = 0.10, 0.80  # ingest.stages._ENDS: the share of the bar reading and recognition end at


@pytest.fixture(scope="module")
def long_speech(jfk, tmp_path_factory):
    """jfk.flac six times with a second of silence between: about 70 s of speech, three Whisper windows."""
    from media.ffmpeg import ffmpeg_binary

    dest = tmp_path_factory.mktemp("long") / "長い演説.flac"
    parts = []
    for _ in range(6):
        parts += ["-i", str(jfk)]
    inputs = "".join(f"[{i}:a]apad=pad_dur=1[a{i}];" for i in range(6))
    joined = "".join(f"[a{i}]" for i in range(6))
    subprocess.run(
        [
            ffmpeg_binary(),
            "-v",
            "error",
            "-y",
            *parts,
            "-filter_complex",
            f"{inputs}{joined}concat=n=6:v=0:a=1[out]",
            "-map",
            "[out]",
            "-ac",
            "1",
            "-ar",
            "16000",
            str(dest),
        ],
        check=True,
        timeout=120,
    )
    return dest


def test_the_reported_progress_moves_during_speech_recognition(tmp_path, long_speech):
    from ingest.worker import BackgroundWorker

    app, config = studio_app(tmp_path / "kb", embed_model="hash", second_embed_model="none", threads="2")
    add_user(config, "tanaka", "meister", meister="田中 一郎")
    client = client_as(app, "tanaka")
    from kb import db

    conn = db.connect(config.db_path)
    with conn:  # a log of every progress value the worker writes to a job row
        conn.execute("CREATE TABLE progress_log (n INTEGER PRIMARY KEY, stage TEXT, progress REAL)")
        conn.execute(
            "CREATE TRIGGER log_progress AFTER UPDATE OF progress ON jobs BEGIN "
            "INSERT INTO progress_log(stage, progress) VALUES (NEW.stage, NEW.progress); END"
        )
    conn.close()

    result = upload(client, [(long_speech, "長い演説.flac")], language="en").get_json()["results"][0]
    assert result["status"] == "queued", result
    rid = result["recording_id"]

    polled: list[tuple[str, int]] = []
    done = threading.Event()

    def poll():
        while not done.is_set():
            state = client.get(f"/api/v1/recordings/{rid}/job").get_json()
            polled.append((state["stage"], state["progress"]))
            if not state["active"]:
                return
            done.wait(0.05)

    worker = BackgroundWorker(config, poll_seconds=0.2).start()
    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        wait_for(
            lambda: rows(config, "SELECT status FROM recordings WHERE id = ?", rid)[0][0] in ("done", "failed"),
            timeout=900,
        )
    finally:
        assert worker.stop()
        watcher.join(timeout=30)
        done.set()
    assert rows(config, "SELECT status FROM recordings WHERE id = ?", rid) == [("done",)]

    written = [
        p for stage, p in rows(config, "SELECT stage, progress FROM progress_log ORDER BY n") if stage == "transcribing"
    ]
    during = [p for p in written if READ_END < p < ASR_END]
    # Three windows of about 23 s of audio each: the bar moves within recognition several times, always up.
    assert len(set(during)) >= 3, written
    assert during == sorted(during), written
    assert max(during) >= READ_END + 0.5 * (ASR_END - READ_END), written  # it follows the audio to the end

    seen = [p for stage, p in polled if stage == "transcribing"]
    assert any(10 < p < 80 for p in seen), polled  # what the studio and the API show, not only the row
    percents = [p for _, p in polled]
    assert percents == sorted(percents) and percents[-1] == 100, polled
