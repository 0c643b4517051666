"""Several `kb serve` processes over one KB_HOME (issue 17, item 2; docs/scaling.md).

Two real server processes on free loopback ports share one knowledge base:
SQLite in WAL mode, and each loads the vector index into its own memory.  A
document uploaded through the first (and processed by its worker thread)
becomes searchable through the second, and a delete through the second is seen
by the first: every process picks up a new index generation.  Real models (e5
and USE), real waitress, real processes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from helpers.config import REPO, make_config

NEVER = 300  # seconds: a failure detector (a server that never answers fails the test), not a speed check


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """`kb serve` as its own process over ``home``."""

    def __init__(self, home: Path, worker: bool):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ,
            KB_HOME=str(home),
            KB_SERVE_WORKER="1" if worker else "0",
            KB_SERVE_PROCESSES="1",  # each Served is one process, as behind a proxy
            PYTHONUNBUFFERED="1",
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kb", "serve", "--port", str(self.port), "--threads", "4"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = self.proc.stdout.readline()
        if "running at" not in line:
            self.stop()
            pytest.fail(f"kb serve did not start: {line}{self.proc.stdout.read()}")

    def request(self, path: str, token: str, data: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(
            self.url + path, data=data, headers={"Authorization": f"Bearer {token}", **(headers or {})}
        )
        try:
            with urllib.request.urlopen(req, timeout=NEVER) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def search(self, token: str, query: str, mode: str = "hybrid") -> list[int]:
        """Recording ids found.  mode=dense answers from this process's vector index alone (the
        lexical index is in SQLite, shared by every process): it finds a new recording only once
        this process has loaded the index generation that holds it."""
        status, body = self.request(f"/api/v1/search?mode={mode}&limit=5&q=" + urllib.parse.quote(query), token)
        assert status == 200, body
        return [h["recording_id"] for h in body["hits"]]

    def upload(self, token: str, name: str, content: bytes, **fields) -> tuple[int, object]:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f"filename=\"{urllib.parse.quote(name)}\"; filename*=UTF-8''{urllib.parse.quote(name)}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request(
            "/api/v1/recordings", token, b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )

    def stop(self) -> str:
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""


def _until(check, what: str):
    deadline = time.monotonic() + NEVER
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"never happened: {what}")


LATHE = (
    "# 主軸の芯出し\n\n旋盤の主軸に材料を取り付けたら、ダイヤルゲージで振れを測り、"
    "0.01ミリ以内になるまでチャックの爪を調整する。\n"
)
WELD = "# 溶接の電流\n\n溶接の電流は板厚に合わせて決める。薄い板では電流を下げ、溶け落ちを防ぐ。\n"


def _upload_and_wait(through: Served, watch: Served, token: str, name: str, text: str) -> int:
    status, body = through.upload(token, name, text.encode(), title=Path(name).stem)
    assert status == 202, body
    rec_id = body["id"]
    _until(lambda: watch.request(f"/api/v1/recordings/{rec_id}", token)[1].get("status") == "done", f"{name} processed")
    return rec_id


@pytest.mark.slow
def test_two_servers_over_one_home_see_each_others_writes(tmp_path):
    from kb import users
    from kb.home import init_home

    home = tmp_path / "kb"
    config = make_config(home)
    conn = init_home(config)
    with conn:
        users.create_user(conn, "yamada", "kouji-no-himitsu-42", "meister", display_name="山田", meister="山田")
        users.create_user(conn, "minarai", "kouji-no-himitsu-42", "apprentice", display_name="見習い")
    meister = users.create_token(conn, users.find_account(conn, "yamada").id, "test")[1]
    apprentice = users.create_token(conn, users.find_account(conn, "minarai").id, "test")[1]
    conn.close()

    first, second = Served(home, worker=True), Served(home, worker=False)
    logs = []
    try:
        # Both serve the (empty) knowledge base and have loaded their index.
        assert first.search(apprentice, "旋盤") == [] and second.search(apprentice, "旋盤") == []
        lathe = _upload_and_wait(first, first, meister, "芯出しの手順.md", LATHE)
        # Searchable through the other process, which never saw the upload: from its own index too.
        assert second.search(apprentice, "ダイヤルゲージで振れを測る", "dense")[:1] == [lathe]
        assert second.search(apprentice, "ダイヤルゲージで振れを測る")[:1] == [lathe]
        assert first.search(apprentice, "ダイヤルゲージで振れを測る")[:1] == [lathe]

        # A delete through the second is seen by the first.
        status, body = second.request(
            f"/studio/r/{lathe}/delete",
            meister,
            b"confirm=yes",
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        assert status == 200, body
        assert lathe not in first.search(apprentice, "ダイヤルゲージで振れを測る")
        assert lathe not in second.search(apprentice, "ダイヤルゲージで振れを測る")

        # Uploaded through the second (no worker there), processed by the first's worker, and found in
        # both processes' indexes.
        weld = _upload_and_wait(second, first, meister, "溶接の電流.md", WELD)
        assert second.search(apprentice, "板厚に合わせた溶接電流", "dense")[:1] == [weld]
        assert first.search(apprentice, "板厚に合わせた溶接電流", "dense")[:1] == [weld]
    finally:
        logs = [first.stop(), second.stop()]
    assert not any("database is locked" in log or "Traceback" in log for log in logs), logs
