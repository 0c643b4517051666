"""Running the app under waitress, a production WSGI server (pure Python, threads, no debug console).

Why waitress: it runs the same on Linux and Windows PCs (workshops have both),
needs no compiler, and its thread pool serves page views while a search runs.
`kb serve` uses :func:`serve`; tests, the benchmark and the screenshot script
use :func:`background_server`, which binds a free loopback port and returns
its address.
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


def make_server(app: Flask, host: str = "127.0.0.1", port: int = 5000, threads: int = DEFAULT_THREADS):
    """A waitress server bound to host:port (port 0: any free port; see ``server.effective_port``)."""
    from waitress.server import create_server

    return create_server(app, host=host, port=port, threads=threads, ident="takumi-kb",
                         clear_untrusted_proxy_headers=True, channel_timeout=120)


def serve(app: Flask, host: str = "127.0.0.1", port: int = 5000, threads: int = DEFAULT_THREADS,
          warm: bool = True, announce=print) -> None:
    """Serve until interrupted.  With ``warm``, the embedder and index load in the background at once,
    so the first search does not wait for them."""
    server = make_server(app, host, port, threads)
    if warm:
        threading.Thread(target=app.extensions["search_service"].warm, name="warm-search", daemon=True).start()
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    announce(f"Takumi KB is running at http://{shown}:{server.effective_port}/  (Ctrl+C to stop)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


@contextmanager
def background_server(app: Flask, threads: int = DEFAULT_THREADS) -> Iterator[RunningServer]:
    """The app served on a free 127.0.0.1 port in a daemon thread, for as long as the block runs."""
    server = make_server(app, "127.0.0.1", 0, threads)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    port = server.effective_port
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", "127.0.0.1", port)
    finally:
        server.close()
        thread.join(timeout=5)
