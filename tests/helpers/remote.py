"""A real server with transcription workers on other "machines", on loopback: for tests and bench/remote_workers.py.

Everything is a real process: redis-server (Debian package) on a free 127.0.0.1
port, `python -m kb serve` with KB_QUEUE pointing at it, and `python -m kb worker
--queue ... --server ...` processes, each with its own folder as KB_HOME and working
directory (never told where the server's knowledge base is).  Nothing listens on,
or talks to, anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class Unavailable(Exception):
    """redis-server is missing or would not start (the caller skips, saying so)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what: str, timeout: float, procs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(
                    f"{' '.join(p.args[3:5])} exited ({p.returncode}) while waiting for {what}: "
                    f"{p.stdout.read() if p.stdout else ''}"
                )
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def env_for(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_") and not k.lower().endswith("_proxy")}
    env.update(KB_HOME=str(home), PYTHONIOENCODING="utf-8", PYTHONPATH=str(REPO), **extra)
    return env


def http(method: str, url: str, token: str, body: bytes | None = None, content_type: str | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers={"Authorization": f"Bearer {token}"})
    if content_type:
        request.add_header("Content-Type", content_type)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
    with opener.open(request, timeout=60) as response:
        return response.status, json.loads(response.read())


class Redis:
    def __init__(self, folder: Path):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            raise Unavailable(
                "redis-server is not installed (Debian package redis-server; `make test` installs it when run as root)"
            )
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise Unavailable(f"redis-server did not start on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def kb_process(*args, home: Path, cwd: Path | None = None, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kb", *args],
        cwd=cwd or REPO,
        env=env_for(home, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> str:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


class Server:
    """A knowledge base with a meister's API token and a worker token, served by `kb serve` (KB_QUEUE set
    when ``queue_url`` is given; else the built-in worker thread, the default)."""

    def __init__(self, home: Path, queue_url: str | None, **env):
        from helpers.studio import add_user, api_token
        from kb.home import init_home
        from kb.settings import load_config

        self.home = home
        self.config = load_config(home=home)
        init_home(self.config).close()
        add_user(self.config, "tanaka", "meister", meister="田中")
        self.person = api_token(self.config, "tanaka")
        made = subprocess.run(
            [sys.executable, "-m", "kb", "worker-token", "create", "夜勤の作業PC"],
            cwd=REPO,
            env=env_for(home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if made.returncode != 0:
            raise AssertionError(made.stdout + made.stderr)
        self.worker_token = made.stdout.strip().rsplit(" ", 1)[-1]
        port = free_port()
        self.base = f"http://127.0.0.1:{port}/"
        # one server process (the default, auto, starts one per core): these tests are about the workers,
        # and tests/test_serve_processes.py about the processes
        extra = {"KB_SERVE_PROCESSES": "1", **({"KB_QUEUE": queue_url} if queue_url else {})}
        self.proc = kb_process("serve", "--port", str(port), home=home, **extra, **env)
        wait_until(self._up, "the server", 180, [self.proc])

    def _up(self) -> bool:
        try:
            return http("GET", f"{self.base}api/v1/", self.person)[0] == 200
        except OSError:
            return False

    def upload(self, path: Path, name: str) -> int:
        """POST /api/v1/recordings as multipart/form-data, as curl -F would."""
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode("utf-8")
        body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        status, data = http(
            "POST", f"{self.base}api/v1/recordings", self.person, body, f"multipart/form-data; boundary={boundary}"
        )
        assert status == 202, data
        return data["id"]

    def get(self, path: str) -> dict:
        return http("GET", f"{self.base}{path.lstrip('/')}", self.person)[1]

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.home / 'kb.sqlite3'}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        return conn

    def start_worker(self, queue_url: str, name: str, home: Path, **env) -> subprocess.Popen:
        home.mkdir(parents=True, exist_ok=True)
        return kb_process(
            "worker",
            "--queue",
            queue_url,
            "--server",
            self.base,
            "--name",
            name,
            home=home,
            cwd=home,
            KB_WORKER_TOKEN=self.worker_token,
            **env,
        )


def speech_variants(src: Path, folder: Path, count: int = 4, loops: int = 0) -> list[Path]:
    """``count`` different files of the same speech (different content: different recordings); ``loops`` > 0
    repeats it that many extra times (longer audio for measuring)."""
    from media.ffmpeg import ffmpeg_binary

    filters = [
        ("anull", "flac"),
        ("atempo=1.1", "flac"),
        ("adelay=700", "wav"),
        ("volume=0.7", "flac"),
        ("atempo=0.95", "flac"),
        ("volume=0.8", "wav"),
    ]
    out = []
    for n, (filt, ext) in enumerate(filters[:count]):
        dest = folder / f"speech-{n}.{ext}"
        subprocess.run(
            [
                ffmpeg_binary(),
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-stream_loop",
                str(loops),
                "-i",
                str(src),
                "-af",
                filt,
                "-ac",
                "1",
                "-ar",
                "16000",
                str(dest),
            ],
            check=True,
            timeout=300,
        )
        out.append(dest)
    return out
