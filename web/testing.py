"""Helpers for the web tests, the end-to-end tests and the screenshot script.

Why here and not in tests/: the Flask-client tests, the Chromium tests and
docs/screenshots all need the same small real knowledge base (the demo: written
procedures, two narrated videos, the JFK speech, through the real pipeline)
and the same way to start a headless Chromium.  Building the knowledge base
takes ~30 s on two cores, so it is built once per process and shared, read-only.
One extra recording is added for the tests: its title, transcript and text
are HTML/script, which every page must show as text.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

XSS_TITLE = "<script>alert(1)</script>"
XSS_TEXT = ('<img src=x onerror="alert(2)"> 旋盤の<b>段取り</b>を確認する。'
            "<script>alert(3)</script> 心押し台で支える。")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]

_lock = threading.Lock()
_homes: dict[bool, Path] = {}


def demo_home(with_hostile_recording: bool = True) -> Path:
    """KB_HOME of a demo knowledge base built once per process (removed at exit)."""
    with _lock:
        if with_hostile_recording not in _homes:
            home = Path(tempfile.mkdtemp(prefix="takumi-web-")) / "kb"
            atexit.register(shutil.rmtree, home.parent, True)
            build_demo_home(home, with_hostile_recording)
            _homes[with_hostile_recording] = home
        return _homes[with_hostile_recording]


def build_demo_home(home: Path, with_hostile_recording: bool = False) -> list[str]:
    """Run the demo builder into ``home`` (and add the hostile recording); returns the builder's lines."""
    from kb.demo import build_demo
    from kb.home import init_home
    from kb.settings import load_config

    config = load_config(home=home)
    conn = init_home(config)
    try:
        lines = list(build_demo(config, conn))
        failed = [line for line in lines if line.startswith("failed")]
        if failed:
            raise RuntimeError("demo knowledge base incomplete: " + "; ".join(failed))
        if with_hostile_recording:
            from ingest.pipeline import Ingestor
            from kb.recordings import RecordingMeta

            meta = RecordingMeta(meister="<b>meister</b>", technique="旋盤", tags=["<i>tag</i>"], language="ja")
            Ingestor(config, conn).ingest_text(XSS_TITLE, XSS_TEXT, meta)
        return lines
    finally:
        conn.close()


def launch_chromium(playwright, user_data_dir: str | None = None, **context_options):
    """Debian's Chromium, headless, with a fresh profile: returns a persistent browser context."""
    profile = user_data_dir or tempfile.mkdtemp(prefix="takumi-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, **context_options)
    if user_data_dir is None:
        atexit.register(shutil.rmtree, profile, True)
    return context
