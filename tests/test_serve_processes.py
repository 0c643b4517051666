"""`kb serve --processes 2`: several server processes on one port (issue 17; docs/scaling.md).

A real `kb serve` over a fresh knowledge base, as its own process: it starts two server processes
that each listen on the same port (SO_REUSEPORT), and the kernel deals the connections between
them.  Checked here from the outside, as an operator would see it: both processes hold connections
that people opened, every page answers, and one stop (SIGTERM from a service manager) ends them all.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.config import REPO, make_config

NEVER = 120  # seconds: a failure detector, not a speed check

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT") or not Path("/proc/self/task").is_dir(),
    reason="needs Linux (SO_REUSEPORT and /proc)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _established_on(pid: int, port: int) -> int:
    """Accepted TCP connections to ``port`` that process ``pid`` holds open (its fds x /proc/net/tcp)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                count += 1
    return count


def _start(tmp_path, *options: str, expected: int = 2) -> tuple[subprocess.Popen, int]:
    """`kb serve` over a fresh knowledge base, once ``expected`` server processes run under it (0: the
    one process serves itself).  KB_SERVE_PROCESSES is left out of its environment: the options decide."""
    from kb.home import init_home

    home = tmp_path / "kb"
    init_home(make_config(home)).close()
    port = _free_port()
    env = dict(os.environ, KB_HOME=str(home), KB_SERVE_WORKER="1", PYTHONUNBUFFERED="1")
    env.pop("KB_SERVE_PROCESSES", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb", "serve", "--port", str(port), "--threads", "2", "--no-warm", *options],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = proc.stdout.readline()
    if "running at" not in line:
        _kill_all(proc)
        pytest.fail(f"kb serve did not start: {line}{proc.stdout.read()}")
    deadline = time.monotonic() + NEVER
    while len(_children(proc.pid)) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return proc, port


@pytest.fixture
def served(tmp_path):
    proc, port = _start(tmp_path, "--processes", "2")
    try:
        yield proc, port
    finally:
        _kill_all(proc)


def _kill_all(proc: subprocess.Popen) -> None:
    """The server processes first (they hold the output pipe open), then the one that started them."""
    if proc.poll() is None:
        for child in _children(proc.pid):
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.kill()
        proc.wait()


def _wait_until_both_listen(port: int) -> None:
    """The second process may still be importing when the first says it is running."""
    deadline = time.monotonic() + NEVER
    while time.monotonic() < deadline:
        listening = 0
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                listening += 1
        if listening >= 2:
            return
        time.sleep(0.1)
    pytest.fail("the two server processes did not both listen")


@pytest.mark.slow
def test_two_processes_share_the_port_and_both_take_connections(served):
    proc, port = served
    children = _children(proc.pid)
    assert len(children) == 2, children
    _wait_until_both_listen(port)
    connections = []
    try:
        for _ in range(16):  # kept open: each is held by the process that accepted it
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=NEVER)
            conn.request("GET", "/login", headers={"Accept-Language": "ja"})
            answer = conn.getresponse()
            assert answer.status == 200
            assert "ログイン" in answer.read().decode("utf-8")
            connections.append(conn)
        held = {child: _established_on(child, port) for child in children}
        # the kernel deals connections by their addresses: all 16 on one process is a 1-in-32768 chance
        assert all(n >= 1 for n in held.values()), held
        assert sum(held.values()) == 16, held
    finally:
        for conn in connections:
            conn.close()


@pytest.mark.slow
def test_one_stop_ends_every_process(served):
    proc, port = served
    children = _children(proc.pid)
    assert len(children) == 2
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=NEVER) == 0
    # the parent waits for its processes before it ends: none is left running
    assert [child for child in children if Path(f"/proc/{child}").exists()] == []
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


@pytest.mark.slow
def test_the_server_processes_end_with_the_one_that_started_them(served):
    """kill -9 of the starting process (a crash, an impatient operator) leaves no orphan on the port."""
    proc, port = served
    children = _children(proc.pid)
    assert len(children) == 2
    proc.kill()
    proc.wait()

    def running() -> list[int]:  # a zombie (ended, not yet reaped by whoever adopted it) has no fds left
        alive = []
        for child in children:
            try:
                if os.listdir(f"/proc/{child}/fd"):
                    alive.append(child)
            except OSError:
                pass
        return alive

    deadline = time.monotonic() + NEVER
    try:
        while running() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert running() == []
    finally:
        for child in running():
            os.kill(child, signal.SIGKILL)


@pytest.mark.slow
def test_by_default_kb_serve_starts_one_process_per_core(tmp_path):
    """The setting's default, auto, is what `make run` gets: one process per core (at most 4)."""
    from web.serve import auto_processes

    expected = auto_processes()
    proc, port = _start(tmp_path, expected=expected if expected > 1 else 0)
    try:
        if expected > 1:
            assert proc.stdout.readline().strip()  # where phones open it
            assert f"{expected} server processes share this port" in proc.stdout.readline()
        assert len(_children(proc.pid)) == (expected if expected > 1 else 0)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=NEVER)
        conn.request("GET", "/login")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        _kill_all(proc)


@pytest.mark.parametrize(
    "cores, gib, expected",
    [(1, 8, 1), (2, 24, 2), (2, 3, 1), (8, 64, 4), (8, 6, 3), (16, 1, 1)],
)
def test_auto_processes_one_per_core_within_memory_and_four(cores, gib, expected):
    from web.serve import auto_processes

    assert auto_processes(cores=cores, memory_bytes=gib << 30) == expected


def test_the_setting_takes_auto_or_a_number(tmp_path, monkeypatch):
    from kb.settings import SettingError, load_config

    monkeypatch.delenv("KB_SERVE_PROCESSES", raising=False)
    assert load_config(tmp_path).get("serve_processes") is None  # auto: the code decides
    assert load_config(tmp_path, serve_processes="Auto").get("serve_processes") is None
    assert load_config(tmp_path, serve_processes="3").get("serve_processes") == 3
    with pytest.raises(SettingError, match="KB_SERVE_PROCESSES"):
        load_config(tmp_path, serve_processes="many").get("serve_processes")
