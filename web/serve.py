"""Running the app under waitress, a production WSGI server (pure Python, threads, no debug console).

Why waitress: it runs the same on Linux and Windows PCs (workshops have both),
needs no compiler, and its thread pool serves page views while a search runs.
`kb serve` uses :func:`serve`; tests, the benchmark and the screenshot script
use :func:`background_server`, which binds a free loopback port and returns
its address.

`kb serve` also runs one background worker thread (setting ``serve_worker``,
default 1) that processes uploads, so a single PC needs nothing else.  It runs
at a lower CPU priority than the web threads, and on shutdown it hands its job
back to continue later from the last saved step (ingest/worker.py).  With the
``queue`` setting naming a Redis server, it runs instead the dispatcher that hands
video and sound files to transcription workers on other machines, plus one worker
thread for what stays here (ingest/dispatch.py).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from flask import Flask

DEFAULT_THREADS = 6


@dataclass
class RunningServer:
    url: str
    host: str
    port: int


def make_server(app: Flask, host: str = "127.0.0.1", port: int = 5000, threads: int = DEFAULT_THREADS, sockets=None):
    """A waitress server bound to host:port (port 0: any free port; see ``server.effective_port``), or
    listening on ``sockets`` already bound (one process of ``serve_processes``).

    Request bodies may be as large as one upload (``max_upload_bytes``, default 4 GB) plus its form
    fields: waitress's own default (1 GB) would refuse big videos before the app could say why."""
    from waitress.server import create_server

    from web import bodylimit

    body_limit = app.config["KB_CONFIG"].get("max_upload_bytes") + (1 << 20)
    where = {"sockets": sockets} if sockets else {"host": host, "port": port}
    server = create_server(
        app,
        **where,
        threads=threads,
        ident="takumi-kb",
        clear_untrusted_proxy_headers=True,
        channel_timeout=120,
        max_request_body_size=body_limit,
    )
    # Only a logged-in uploader's request to an upload route may be that large; any other body is
    # refused above max_request_bytes before waitress stores it (issue 16, defect 4).
    bodylimit.install_waitress(server, app.config["KB_CONFIG"])
    return server


def start_worker(app: Flask):
    """The processing worker thread, when the ``serve_worker`` setting asks for one (else None)."""
    config = app.config["KB_CONFIG"]
    if not config.get("serve_worker"):
        return None
    from ingest.dispatch import RemoteProcessing, redis_url
    from ingest.worker import BackgroundWorker

    url = redis_url(config)
    if url:  # transcription workers on other machines (docs/scaling.md)
        return RemoteProcessing(config, url).start()

    return BackgroundWorker(config).start()


def serve(
    app: Flask,
    host: str = "127.0.0.1",
    port: int = 5000,
    threads: int = DEFAULT_THREADS,
    warm: bool = True,
    announce=print,
    sockets=None,
    worker: bool = True,
    processes: int = 1,
) -> None:
    """Serve until interrupted (Ctrl+C or SIGTERM).  With ``warm``, the embedder and index load in the
    background at once, so the first search does not wait for them.  ``worker=False``: no processing
    worker here whatever ``serve_worker`` says (the other processes of ``serve_processes``, whose count
    ``processes`` is said once the address is)."""
    server = make_server(app, host, port, threads, sockets=sockets)
    if warm:
        threading.Thread(target=app.extensions["search_service"].warm, name="warm-search", daemon=True).start()
    worker = start_worker(app) if worker else None
    _stop_on_sigterm()
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    announce(f"Takumi KB is running at http://{shown}:{server.effective_port}/  (Ctrl+C to stop)")
    for line in choose_public_url(app, host, server.effective_port):
        announce(line)
    if processes > 1:
        announce(f"{processes} server processes share this port (setting KB_SERVE_PROCESSES, kb serve --processes)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if worker is not None:
            worker.stop()


MAX_AUTO_PROCESSES = 4
GIB_PER_PROCESS = 2


def auto_processes(cores: int | None = None, memory_bytes: int | None = None) -> int:
    """How many server processes ``serve_processes = auto`` starts: one per core this process may use,
    at most MAX_AUTO_PROCESSES and one per GIB_PER_PROCESS of memory; 1 where processes cannot share a
    port (no fork or SO_REUSEPORT: Windows).

    Why one per core: a process gets about 1.5 of 2 cores however many search at once (Python runs one
    of its threads at a time), and two meet the issue-17 figure on 2 cores (docs/benchmarks.md).  Why
    the caps: each process holds its own search models and index, and past 4 a PC that busy wants a
    proxy and a look at docs/scaling.md rather than a guess."""
    import os

    if not _can_share_a_port():
        return 1
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if memory_bytes is None:
        try:
            memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            memory_bytes = GIB_PER_PROCESS << 30
    by_memory = memory_bytes // (GIB_PER_PROCESS << 30)
    return max(1, min(cores, MAX_AUTO_PROCESSES, by_memory))


def serve_processes(
    make_app,
    processes: int | None,
    host: str = "127.0.0.1",
    port: int = 5000,
    threads: int = DEFAULT_THREADS,
    warm: bool = True,
    announce=print,
) -> None:
    """Serve with several processes on one port, each a whole server over the same knowledge base.

    Why: Python runs one thread of a process at a time, so one server process gets about 1.5 of 2
    cores however many people search; two get both (bench/web_load.py --kb-processes, measured in
    docs/benchmarks.md and docs/scaling.md).  Each process listens on its
    own socket bound to the same port with SO_REUSEPORT, and the kernel deals new connections among
    them, so no proxy is needed on one PC.  They share SQLite (WAL) and each loads the index, as the
    processes behind a proxy do; only the first runs the processing worker.  This process only
    starts them, passes SIGTERM/Ctrl+C on, and starts again one that dies (not one that fails at
    once: then it stops them all, so a broken setting does not loop).  Linux and other POSIX systems
    (fork); elsewhere run several `kb serve --port` behind a proxy.  ``processes`` None: auto_processes()."""
    import os
    import signal
    import time

    from kb.errors import KBError

    if processes is None:
        processes = auto_processes()
    if processes <= 1:
        return serve(make_app(), host, port, threads, warm, announce)
    if not _can_share_a_port():
        raise KBError("--processes needs Linux (fork, SO_REUSEPORT): run several `kb serve --port` behind a proxy")
    # Hold the port (bound, not listening: the kernel deals connections only to listening sockets), so
    # port 0 means one free port for all, and a port in use is refused here, once.
    holder = _reuse_port_socket(host, port)
    port = holder.getsockname()[1]
    children: dict[int, tuple[int, float]] = {}  # pid -> (index, started)
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid:
            children[pid] = (index, time.monotonic())
            return
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the parent, which stops us once
            _end_with_parent(parent)
            sock = _reuse_port_socket(host, port)
            sock.listen(1024)
            serve(
                make_app(),
                host,
                port,
                threads,
                warm,
                announce if index == 0 else (lambda *_: None),
                sockets=[sock],
                worker=index == 0,
                processes=processes,
            )
        except BaseException:  # noqa: BLE001 - whatever it was, this process ends here and says why
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)

    def stop(*_) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            for pid in list(children):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    parent = os.getpid()
    for index in range(processes):
        spawn(index)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            index, started = children.pop(pid, (None, 0.0))
            if index is None or stopping:
                continue
            if time.monotonic() - started < 10:
                announce(f"server process {index + 1} ended at start (status {status}): stopping")
                stop()
                continue
            announce(f"server process {index + 1} ended (status {status}): starting it again")
            spawn(index)
    finally:
        stop()
        holder.close()


def _can_share_a_port() -> bool:
    """Whether several server processes can be started here on one port (fork and SO_REUSEPORT: Linux)."""
    import os
    import socket

    return hasattr(os, "fork") and hasattr(socket, "SO_REUSEPORT")


def _end_with_parent(parent: int) -> None:
    """Have the kernel stop this server process (SIGTERM) when the process that started it dies, even by
    kill -9, so no orphan keeps serving the port (Linux prctl PR_SET_PDEATHSIG; elsewhere nothing)."""
    import ctypes
    import os
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the line above
        os._exit(0)


def _reuse_port_socket(host: str, port: int):
    """A TCP socket bound to host:port that other processes of this user may bind too (SO_REUSEPORT)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def choose_public_url(app: Flask, host: str, port: int, find_lan=None) -> list[str]:
    """Without ``--public-url``, QR codes point at the address phones can use for this server: for
    ``--host 0.0.0.0`` this PC's LAN address (web.publicurl).  Returns what to tell the person."""
    from web import publicurl

    if app.config.get("PUBLIC_URL"):
        return [f"QR codes point at {app.config['PUBLIC_URL']}"]
    found = publicurl.served_url(host, port, find_lan or publicurl.lan_address)
    if found:
        app.config["PUBLIC_URL"] = found
        return [
            (
                f"Phones on the workshop network open {found}/ ; QR codes point there "
                "(another address: --public-url or KB_PUBLIC_URL)"
            )
        ]
    if host in publicurl.ANY_ADDRESS:
        return [
            (
                "No network address found on this PC: QR codes point at the address each page was opened "
                "with. Connect it to the workshop network, or set --public-url / KB_PUBLIC_URL."
            )
        ]
    return [
        (
            f"Only this PC can open {host}: phones cannot, and QR codes opened here will not work on a "
            "phone. For phones: kb serve --host 0.0.0.0 (or set --public-url / KB_PUBLIC_URL)."
        )
    ]


def _stop_on_sigterm() -> None:
    """A service manager's stop (SIGTERM) shuts down like Ctrl+C, so the worker hands its job back."""
    import signal

    def interrupt(*_):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


@contextmanager
def background_server(app: Flask, threads: int = DEFAULT_THREADS, worker: bool = False) -> Iterator[RunningServer]:
    """The app served on a free 127.0.0.1 port in a daemon thread, for as long as the block runs
    (with ``worker``, also the processing worker thread, as `kb serve` has)."""
    server = make_server(app, "127.0.0.1", 0, threads)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    jobs = start_worker(app) if worker else None
    port = server.effective_port
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", "127.0.0.1", port)
    finally:
        _stop_from_another_thread(server, thread)
        if jobs is not None:
            jobs.stop()


def _stop_from_another_thread(server, thread: threading.Thread) -> None:
    """End waitress's loop before closing its sockets.

    Why: ``server.close()`` from another thread closes sockets the loop may be
    waiting on in select(), which then fails with EBADF in the server thread.
    Emptying the loop's map makes it leave after its current wait (the trigger
    wakes it at once); the sockets are closed once it has."""
    sockets = getattr(server, "_map", None)
    if not isinstance(sockets, dict):
        server.close()
        thread.join(timeout=5)
        return
    dispatchers = list(sockets.values())
    sockets.clear()
    server.pull_trigger()
    thread.join(timeout=5)
    server.task_dispatcher.shutdown()
    for dispatcher in dispatchers:
        try:
            dispatcher.close()
        except OSError:
            pass
