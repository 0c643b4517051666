"""The demo knowledge base: written procedures shipped with the package, plus real speech.

Shared by `kb demo` (what `make run` shows), the docs and the tests, so a
first look is meaningful and the tests exercise the same content a user sees.
Speech: ../shared/data/jfk.flac when it lies beside the project (the test data
folder), transcribed by the real pipeline.  Nothing is downloaded.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Iterator

from kb.settings import Config

CONTENT = Path(__file__).parent / "demo_content"

# file -> (meister, technique, tags)
MANIFEST = {
    "01_lathe_chatter.md": ("田中 一郎", "旋盤", ["びびり", "仕上げ面"]),
    "02_tig_welding.md": ("佐藤 健", "溶接", ["TIG", "ステンレス"]),
    "03_plane_blade.md": ("鈴木 正男", "木工", ["鉋", "刃物"]),
    "04_milling_setup.md": ("田中 一郎", "フライス", ["段取り", "芯出し"]),
    "05_grinding_wheel.md": ("高橋 和夫", "研削", ["砥石", "安全"]),
    "06_thread_cutting.md": ("田中 一郎", "旋盤", ["ねじ"]),
    "07_safety_ja.txt": ("高橋 和夫", "安全", ["新人向け", "安全"]),
}


def shared_data_dir() -> Path:
    """../shared/data beside the repository (KB_SHARED_DATA overrides)."""
    env = os.environ.get("KB_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def demo_queries() -> list[str]:
    return ["旋盤のびびりを抑えるには", "溶接", "刃物を研ぐときの角度", "fellow Americans"]


def build_demo(config: Config, conn: sqlite3.Connection) -> Iterator[str]:
    from ingest.pipeline import Ingestor
    from kb.recordings import RecordingMeta

    ingestor = Ingestor(config, conn)
    with ingestor.store.batch():
        for name, (meister, technique, tags) in MANIFEST.items():
            meta = RecordingMeta(meister=meister, technique=technique, tags=tags, language="ja")
            r = ingestor.ingest_file(CONTENT / name, meta)
            yield f"{r.status:7s} #{r.recording_id} {r.title or name}" + (f" — {r.message}" if r.status == "failed" else "")
        jfk = shared_data_dir() / "jfk.flac"
        if jfk.is_file():
            meta = RecordingMeta(title="Inaugural address (speech sample)", meister="J. F. Kennedy",
                                 technique="speech", tags=["english", "sample"], language="en")
            r = ingestor.ingest_file(jfk, meta)
            yield f"{r.status:7s} #{r.recording_id} {r.title or jfk.name}" + (f" — {r.message}" if r.status == "failed" else "")
        else:
            yield f"skipped speech sample: {jfk} not found"
