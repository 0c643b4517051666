"""Retrieval quality: every query of a benchmark searched in every mode, scored by MRR@10 / Recall@1/5/10.

The search side of `kb eval` (services.evaluation builds the knowledge base
from a benchmark file with the real pipeline, then calls :func:`measure`), so
search/ measures what it is given and imports nothing above it.  The three
modes are reported side by side, so a change to any part of search shows its
effect on each; ``baselines`` searches the same knowledge base again with
settings changed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from search import MODES


def load_benchmark(path: str | Path) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "docs" not in data or "queries" not in data:
        raise ValueError(f"{path}: expected {{'docs': [...], 'queries': [...]}}")
    return data


def measure(
    store, queries: list[dict], doc_of: dict[int, str], modes=MODES, baselines: dict[str, dict[str, str]] | None = None
) -> dict:
    """{"modes": {mode: figures}} for the knowledge base behind ``store`` (a search.store.SearchStore), and
    "baselines" when given: name -> settings changed for search only (e.g. {"reading off":
    {"reading_match": "off"}}), each searched again on the same knowledge base.

    ``doc_of`` names the benchmark document of each recording id; a query's "gold" lists document ids."""
    from search.engine import Searcher
    from search.metrics import mrr_at, recall_at

    cfg = store.config
    searcher = Searcher(store)
    qvecs = store.embedder.encode_queries([q["q"] for q in queries]) if queries else None
    gold = [set(map(str, q["gold"])) for q in queries]

    def measure_modes() -> dict:
        out = {}
        for mode in modes:
            ranked = []
            t0 = time.perf_counter()
            for i, q in enumerate(queries):
                res = searcher.search(q["q"], limit=10, mode=mode, query_vector=qvecs[i])
                ranked.append([doc_of.get(h.recording_id, "?") for h in res.hits])
            elapsed = time.perf_counter() - t0
            out[mode] = {
                "mrr@10": round(mrr_at(ranked, gold, 10), 4),
                "recall@1": round(recall_at(ranked, gold, 1), 4),
                "recall@5": round(recall_at(ranked, gold, 5), 4),
                "recall@10": round(recall_at(ranked, gold, 10), 4),
                "ms_per_query": round(1000 * elapsed / max(1, len(queries)), 2),
            }
        return out

    report: dict = {"modes": measure_modes()}
    for name, changes in (baselines or {}).items():
        saved = dict(cfg.values)
        cfg.values.update(changes)
        try:
            report.setdefault("baselines", {})[name] = {"settings": dict(changes), "modes": measure_modes()}
        finally:
            cfg.values.clear()
            cfg.values.update(saved)
    return report


def speech_report(spoken: list[dict], cer) -> dict:
    """How well the spoken documents were heard: CER over those with a reference text, and each transcript.

    Beside the CER (the figure compared with targets), two diagnostics of the same transcripts
    (search.metrics): with katakana and hiragana counted as one, and on readings (the right sound in
    other characters is no error there) -- how much of the CER is spelling, how much hearing."""
    from search.metrics import character_error_rate, reading_error_rate

    scored = [s for s in spoken if isinstance(s["reference"], str) and s["reference"].strip()]
    out: dict = {"docs": len(spoken), "cer": None, "transcripts": []}
    if scored:
        refs, hyps = [s["reference"] for s in scored], [s["transcript"] for s in scored]
        out["cer"] = round(cer(refs, hyps), 4)
        if cer is character_error_rate:
            out["cer_kana_folded"] = round(cer(refs, hyps, fold_kana=True), 4)
            out["reading_error_rate"] = round(reading_error_rate(refs, hyps), 4)
    for s in spoken:
        one = round(cer([s["reference"]], [s["transcript"]]), 4) if s in scored else None
        out["transcripts"].append({"id": s["id"], "cer": one, "text": s["transcript"]})
    return out


def format_table(report: dict) -> str:
    lines = [
        f"{report.get('file', '')}: {report['file_docs']} docs, {report['queries']} queries, "
        f"embedder {report['embedder']}",
        "",
        "| mode | MRR@10 | R@1 | R@5 | R@10 | ms/query |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    if report.get("spoken"):
        cer = report["spoken"]["cer"]
        spoken = report["spoken"]
        lines.insert(
            1,
            f"{spoken['docs']} spoken documents transcribed"
            + (f", character error rate {cer:.3f}" if cer is not None else "")
            + (
                f" (katakana = hiragana: {spoken['cer_kana_folded']:.3f}; on readings: "
                f"{spoken['reading_error_rate']:.3f})"
                if spoken.get("reading_error_rate") is not None
                else ""
            ),
        )
    rows = [("", report["modes"])] + [(f" ({name})", b["modes"]) for name, b in report.get("baselines", {}).items()]
    for label, modes in rows:
        for mode, m in modes.items():
            lines.append(
                f"| {mode}{label} | {m['mrr@10']:.3f} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | "
                f"{m['recall@10']:.3f} | {m['ms_per_query']:.1f} |"
            )
    return "\n".join(lines)
