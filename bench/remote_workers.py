"""Transcription throughput: audio-hours per hour, built-in worker vs transcription workers through Redis.

    python bench/remote_workers.py [--files 4] [--loops 5] [--out bench/results/remote_workers.json]

Real processes on loopback only (tests/helpers/remote.py): redis-server, `kb serve`,
`kb worker --queue ... --server ...` each in its own folder.  Configurations, side by
side in the same run, on the same batch:

* ``local``    -- the default: `kb serve`'s own worker thread, no Redis (the baseline);
* ``remote-1`` -- the server hands every sound file to one remote worker;
* ``remote-2`` -- two remote workers.

Each worker (and the built-in one) uses KB_THREADS=1.  A warm-up file is processed
first and waited for (model loading is reported apart, not averaged in); then the
batch (``--files`` different files of jfk.flac looped ``--loops`` extra times) is
uploaded at once and timed from the first upload to the last recording 'done'.
audio-hours per hour = audio seconds / wall seconds; per worker = that / workers.

Honest limits: this machine has 2 cores, shared with the server and with other
people's work (the load average is recorded); the "other machines" here are
processes on the same machine, so remote-2 measures the protocol's overhead and
the hand-over, not what a second PC adds -- on separate machines each worker
brings its own cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def audio_seconds(path: Path) -> float:
    from media.ffmpeg import probe

    return float(probe(path).duration or 0.0)


def run(config_name: str, workers: int, warmup: Path, batch: list[Path], folder: Path) -> dict:
    from helpers.remote import Redis, Server, stop, wait_until

    folder.mkdir(parents=True)
    redis = Redis(folder) if workers else None
    server = Server(folder / "server", redis.url if redis else None, KB_THREADS="1")
    procs = [server.proc]
    try:
        for n in range(workers):
            procs.append(server.start_worker(redis.url, f"w{n + 1}", folder / f"worker-{n + 1}", KB_THREADS="1"))
        conn = server.db()

        def done(ids):
            rows = conn.execute(
                f"SELECT status FROM recordings WHERE id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
            if any(r[0] == "failed" for r in rows):
                errors = conn.execute("SELECT id, error FROM recordings WHERE status = 'failed'").fetchall()
                raise AssertionError(f"a recording failed: {[tuple(r) for r in errors]}")
            return len(rows) == len(ids) and all(r[0] == "done" for r in rows)

        t0 = time.monotonic()
        first = server.upload(warmup, "warmup.flac")
        wait_until(lambda: done([first]), "the warm-up file", 900, procs)
        warm_s = time.monotonic() - t0
        if workers > 1:  # every worker loads its models before the timed batch
            for n in range(1, workers):
                extra = [server.upload(_variant(warmup, folder, n), f"warmup-{n}.flac")]
                wait_until(lambda ids=extra: done(ids), "a warm-up file", 900, procs)
        load_before = os.getloadavg()[0]
        t0 = time.monotonic()
        ids = [server.upload(p, f"録音-{i}{p.suffix}") for i, p in enumerate(batch)]
        wait_until(lambda: done(ids), "the batch", 3600, procs)
        wall = time.monotonic() - t0
        conn.close()
    finally:
        for p in procs:
            stop(p)
        if redis:
            redis.stop()
    audio = sum(audio_seconds(p) for p in batch)
    return {
        "config": config_name,
        "workers": workers,
        "files": len(batch),
        "audio_seconds": round(audio, 1),
        "wall_seconds": round(wall, 1),
        "warmup_seconds": round(warm_s, 1),
        "audio_hours_per_hour": round(audio / wall, 2),
        "audio_hours_per_hour_per_worker": round(audio / wall / max(1, workers), 2),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }


def _variant(src: Path, folder: Path, n: int) -> Path:
    from media.ffmpeg import ffmpeg_binary

    dest = folder / f"warmup-{n}.flac"
    subprocess.run(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(src),
            "-af",
            f"volume={0.9 - 0.1 * n:.1f}",
            str(dest),
        ],
        check=True,
    )
    return dest


def main(argv=None) -> int:
    from helpers.remote import speech_variants

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--loops", type=int, default=5, help="extra repeats of jfk.flac's 11 s per file")
    ap.add_argument("--configs", default="local,remote-1,remote-2")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "remote_workers.json"))
    args = ap.parse_args(argv)
    shared = Path(os.environ.get("KB_SHARED_DATA") or REPO.parent / "shared" / "data")
    jfk = shared / "jfk.flac"
    results = []
    out = {
        "benchmark": "remote_workers",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": "python bench/remote_workers.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "whisper": "tiny.en (bundled), int8, beam 5, KB_THREADS=1 per worker",
        "results": results,
    }
    with tempfile.TemporaryDirectory(prefix="kb-remote-bench-") as tmp:
        tmp = Path(tmp)
        batch = speech_variants(jfk, tmp, count=args.files, loops=args.loops)
        for name in args.configs.split(","):
            workers = 0 if name == "local" else int(name.split("-")[1])
            result = run(name, workers, jfk, batch, tmp / name)
            print(json.dumps(result, ensure_ascii=False), flush=True)
            results.append(result)
            # written after every configuration: a run stopped half-way keeps what it measured
            Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
