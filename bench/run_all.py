"""Run every benchmark in turn (`make bench`); each writes its JSON under bench/results/.

    python bench/run_all.py              # all of them (about an hour on 2 cores; the 1M index is built once)
    python bench/run_all.py --only latency,ingest
    python bench/run_all.py --list

Why one after another and never side by side: the machine has two cores, and
two benchmarks at once would time each other's load (the JSON files record the
load average where it matters).  docs/benchmarks.md is written by hand from the
JSON, next to the targets, so a regression is read, not averaged away.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KB_SHARED_DATA", REPO.parent / "shared" / "data"))
PY = sys.executable


def _jsquad_eval() -> list[list[str]]:
    converted = Path(tempfile.gettempdir()) / "takumi-jsquad-eval.json"
    return [
        [PY, "bench/jsquad_to_eval.py", str(SHARED / "jsquad-valid-v1.3.json"), str(converted)],
        [PY, "-m", "kb", "eval", str(converted), "--json", ">", "bench/results/jsquad-kb-eval.json"],
    ]


BENCHMARKS: dict[str, object] = {
    "quality": lambda: [[PY, "bench/quality.py"]],
    "eval": lambda: [
        [PY, "-m", "kb", "eval", str(SHARED / "techniques-dev.json")],
        [PY, "-m", "kb", "eval", "tests/data/techniques-holdout.json"],
    ],
    "jsquad": _jsquad_eval,
    "spoken": lambda: [[PY, "bench/spoken_set.py", "--eval"]],
    "embed": lambda: [[PY, "bench/embed_engine.py"]],
    "latency": lambda: [[PY, "bench/latency.py"]],
    "ingest": lambda: [[PY, "bench/ingest_speed.py"]],
    "speech-ja": lambda: [[PY, "bench/speech_ja.py"]],
    "ingest-ja": lambda: [[PY, "bench/ingest_ja.py"]],
    "web": lambda: [[PY, "bench/web_load.py"]],
}


def _call(cmd: list[str]) -> int:
    """Run one command in the repository; ``[..., ">", FILE]`` sends its standard output to FILE."""
    if ">" in cmd:
        at = cmd.index(">")
        with open(REPO / cmd[at + 1], "w", encoding="utf-8") as out:
            return subprocess.call(cmd[:at], cwd=REPO, stdout=out)
    return subprocess.call(cmd, cwd=REPO)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated names (see --list)")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    names = [n.strip() for n in (args.only or ",".join(BENCHMARKS)).split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    failed = []
    for name in names:
        for cmd in BENCHMARKS[name]():
            print(f"== {name}: {' '.join(cmd)}", flush=True)
            started = time.monotonic()
            rc = _call(cmd)
            print(f"== {name}: exit {rc} after {time.monotonic() - started:.0f} s", flush=True)
            if rc != 0:
                failed.append(name)
                break
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
