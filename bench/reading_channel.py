"""How the reading channel (search/reading.py) was chosen: its cost, and its variants, measured.

1. cost: converting text to its reading with SudachiPy (what search/reading.py uses) and with
   pyopenjtalk-plus, per passage (ingest) and per question (every search), on techniques-dev;
2. variants: the spoken techniques-dev transcripts recorded by the last
   `python bench/spoken_set.py --eval` (bench/results/spoken-techniques-dev.json, so no speech is
   recognised again here) are ingested as spoken passages, and the questions searched with the
   channel off, as shipped, and with one choice changed at a time (runs broken at particles,
   voicing not folded, other weights).  The figures are close to, not equal to, spoken_set.py's:
   the passages here are whole transcripts, there they are cut by time.

3. the recorded transcripts' CER on characters and on readings: how much of the recognition error
   is the right sound written with other characters.

    python bench/reading_channel.py          # -> bench/results/reading-channel.json
    python bench/reading_channel.py --cer    # only 3., added to that file
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.spoken_set import shared_data_dir  # noqa: E402 - run as a script: the root goes on sys.path first

RESULT = ROOT / "bench" / "results" / "reading-channel.json"
TRANSCRIPTS = ROOT / "bench" / "results" / "spoken-techniques-dev.json"

# name -> module attributes of search.reading changed for that run (None: the channel off)
VARIANTS = {
    "off": None,
    "shipped": {},
    "runs broken at particles": {"_BREAK_POS": frozenset(("助詞", "助動詞", "補助記号", "空白", "記号"))},
    "voicing not folded": {"FOLD_VOICING": False},
    "weight 0.6": {"READING_WEIGHT": 0.6},
    "weight 1.0": {"READING_WEIGHT": 1.0},
}


def cost(texts: list[str], queries: list[str]) -> dict:
    from search import reading

    out = {}
    reading.reading_runs("準備")  # load the dictionary outside the timing
    for name, convert in (("sudachipy", reading.reading_runs), ("pyopenjtalk-plus", _openjtalk())):
        convert("準備")
        row = {}
        for what, items in (("passage", texts), ("query", queries)):
            t0 = time.perf_counter()
            for _ in range(3):
                for t in items:
                    convert(t)
            row[f"ms_per_{what}"] = round(1000 * (time.perf_counter() - t0) / (3 * len(items)), 3)
        out[name] = row
    out["passage_chars_mean"] = round(sum(map(len, texts)) / len(texts), 1)
    return out


def _openjtalk():
    import pyopenjtalk

    return lambda text: pyopenjtalk.g2p(text, kana=True)


def variants(source: dict, transcripts: dict[str, str]) -> dict:
    """Ingest the transcripts once; per variant, re-read the passages (the reading index only) and search."""
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from kb.settings import load_config
    from search import reading
    from search.engine import Searcher
    from search.metrics import mrr_at, recall_at

    out = {}
    saved = {k: getattr(reading, k) for k in ("_BREAK_POS", "FOLD_VOICING", "READING_WEIGHT", "SPOKEN_KINDS")}
    reading.SPOKEN_KINDS = ("audio", "video", "document")  # the transcripts go in as text: here they count as spoken
    try:
        with tempfile.TemporaryDirectory(prefix="kb-reading-") as tmp:
            config = load_config(home=tmp)
            conn = init_home(config)
            ingestor = Ingestor(config, conn)
            doc_of = {}
            for d in source["docs"]:
                res = ingestor.ingest_text(
                    d["title"], transcripts.get(d["id"], d["text"]), source_name=f"{d['id']}.txt"
                )
                doc_of[res.recording_id] = d["id"]
            searcher = Searcher(ingestor.store)
            queries = [q["q"] for q in source["queries"]]
            qvecs = ingestor.store.embedder.encode_queries(queries)
            gold = [set(q["gold"]) for q in source["queries"]]
            for name, changes in VARIANTS.items():
                for k, v in (changes or {}).items():
                    setattr(reading, k, v)
                with conn:
                    reading.rebuild(conn)
                config.values["reading_match"] = "off" if changes is None else "on"
                row = {}
                for mode in ("hybrid", "lexical"):
                    ranked = [
                        [doc_of[h.recording_id] for h in searcher.search(q, 10, mode, query_vector=qvecs[i]).hits]
                        for i, q in enumerate(queries)
                    ]
                    row[mode] = {
                        "mrr@10": round(mrr_at(ranked, gold, 10), 4),
                        "recall@10": round(recall_at(ranked, gold, 10), 4),
                    }
                out[name] = row
                for k in ("_BREAK_POS", "FOLD_VOICING", "READING_WEIGHT"):
                    setattr(reading, k, saved[k])
                print(name, row, flush=True)
            conn.close()
    finally:
        for k, v in saved.items():
            setattr(reading, k, v)
    return out


def reading_cer(recorded: dict) -> dict:
    """CER of the recorded transcripts on characters and on readings (both sides read the same way):
    how much of the recognition error is the right sound written with other characters."""
    from search import reading
    from search.metrics import character_error_rate

    out = {}
    for variant in ("clean", "noisy"):
        spoken = recorded["sets"][variant]["spoken"]["transcripts"]
        source = {
            d["id"]: d["text"]
            for d in json.loads((shared_data_dir() / "techniques-dev.json").read_text(encoding="utf-8"))["docs"]
        }
        refs = [source[t["id"]] for t in spoken]
        hyps = [t["text"] for t in spoken]
        out[variant] = {
            "cer_characters": round(character_error_rate(refs, hyps), 4),
            "cer_readings": round(
                character_error_rate(
                    ["".join(reading.reading_runs(r)) for r in refs], ["".join(reading.reading_runs(h)) for h in hyps]
                ),
                4,
            ),
        }
    return out


def main() -> int:
    source = json.loads((shared_data_dir() / "techniques-dev.json").read_text(encoding="utf-8"))
    recorded = json.loads(TRANSCRIPTS.read_text(encoding="utf-8"))
    if "--cer" in sys.argv[1:]:  # only the reading CER, added to the last result
        result = json.loads(RESULT.read_text(encoding="utf-8"))
        result["cer"] = reading_cer(recorded)
        RESULT.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(json.dumps(result["cer"]))
        return 0
    result = {
        "cost": cost([d["text"] for d in source["docs"]], [q["q"] for q in source["queries"]]),
        "transcripts_from": str(TRANSCRIPTS.relative_to(ROOT)),
        "variants": {},
    }
    print(json.dumps(result["cost"]), flush=True)
    for variant in ("clean", "noisy"):
        transcripts = {t["id"]: t["text"] for t in recorded["sets"][variant]["spoken"]["transcripts"]}
        result["variants"][variant] = variants(source, transcripts)
    result["cer"] = reading_cer(recorded)
    result["measured"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULT.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
