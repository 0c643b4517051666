"""What a nightly `kb backup` costs: the first (full) backup against the next ones (incremental), same run.

    python bench/backup.py [--files 120] [--mb 1]   # -> bench/results/backup.json

A knowledge base of ``--files`` short documents (hash embedder: the benchmark measures
copying, not embedding), each with a ``--mb`` MB browser copy (media/<id>/web.mp4,
random bytes), the bulk of what a backup copies.  Timed: the first backup
(everything copied: what a plain copy of the folder pays every night), a second one
with nothing new, a third after one new upload, `kb check` and `kb check --quick`,
and a restore (verifies every checksum).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "backup.json"


def _doc(folder: Path, n: int, mb: float) -> Path:
    path = folder / f"manual-{n:04d}.md"
    path.write_text(f"# 手順書 {n}\n\n旋盤の段取り {n} 番: 芯出しを確認する。\n", encoding="utf-8")
    return path


def _browser_copies(config, mb: float) -> None:
    import os

    for (rec_id,) in sqlite3.connect(config.db_path).execute("SELECT id FROM recordings"):
        copy = config.media_dir / str(rec_id) / "web.mp4"
        if not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(os.urandom(int(mb * 1e6)))


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - start, 3)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=120)
    ap.add_argument("--mb", type=float, default=1.0)
    args = ap.parse_args()
    from ingest.pipeline import Ingestor
    from kb import backup as bk
    from kb.home import init_home
    from kb.settings import load_config
    from services.check import run_check

    root = Path(tempfile.mkdtemp(prefix="kb-bench-backup-"))
    try:
        config = load_config(home=root / "kb", embed_model="hash", second_embed_model="none")
        conn = init_home(config)
        docs = root / "docs"
        docs.mkdir()
        Ingestor(config, conn).ingest_paths([_doc(docs, n, args.mb) for n in range(args.files)])
        chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        _browser_copies(config, args.mb)
        first, t_first = _timed(lambda: bk.backup(config, root / "b"))
        second, t_second = _timed(lambda: bk.backup(config, root / "b"))
        Ingestor(config, conn).ingest_paths([_doc(docs, args.files, args.mb)])
        _browser_copies(config, args.mb)
        third, t_third = _timed(lambda: bk.backup(config, root / "b"))
        conn.close()
        full, t_check = _timed(lambda: run_check(config))
        quick, t_quick = _timed(lambda: run_check(config, hash_originals=False))
        _, t_restore = _timed(
            lambda: bk.restore(
                load_config(home=root / "restored", embed_model="hash", second_embed_model="none"), root / "b"
            )
        )
        assert first.ok and second.ok and third.ok and full.ok and quick.ok
        result = {
            "files": args.files,
            "mb_per_file": args.mb,
            "chunks": chunks,
            "first_backup_s": t_first,
            "first_copied": first.files_copied,
            "mb_copied_first": round(first.bytes_copied / 1e6, 1),
            "second_backup_nothing_new_s": t_second,
            "second_copied": second.files_copied,
            "third_backup_one_new_s": t_third,
            "third_copied": third.files_copied,
            "check_s": t_check,
            "check_quick_s": t_quick,
            "restore_s": t_restore,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
