"""`kb eval`: retrieval quality of the real pipeline on a benchmark file.

The documents are ingested as written recordings into a temporary knowledge
base (same chunking, embedder, lexical index and fusion as production), every
query is searched in the three modes, and MRR@10 / Recall@1/5/10 are reported
side by side, so a change to any part of search shows its effect on each.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from kb.settings import Config, load_config

MODES = ("hybrid", "lexical", "dense")


def load_benchmark(path: str | Path) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "docs" not in data or "queries" not in data:
        raise ValueError(f"{path}: expected {{'docs': [...], 'queries': [...]}}")
    return data


def evaluate(data: dict, config: Config | None = None, limit_queries: int | None = None,
             modes=MODES, progress=None) -> dict:
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from search.engine import Searcher
    from search.metrics import mrr_at, recall_at

    base = config.values if config else load_config().values
    queries = data["queries"][:limit_queries] if limit_queries else data["queries"]
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
        cfg = Config(dict(base, home=tmp))
        conn = init_home(cfg)
        ingestor = Ingestor(cfg, conn)
        doc_of: dict[int, str] = {}
        t0 = time.perf_counter()
        with ingestor.store.batch():
            for n, doc in enumerate(data["docs"]):
                res = ingestor.ingest_text(doc.get("title") or str(doc["id"]), doc["text"],
                                           source_name=f"{doc['id']}.txt")
                if res.recording_id is not None:
                    doc_of[res.recording_id] = str(doc["id"])
                if progress:
                    progress("ingest", n + 1, len(data["docs"]))
        ingest_s = time.perf_counter() - t0
        searcher = Searcher(ingestor.store)
        qvecs = ingestor.store.embedder.encode_queries([q["q"] for q in queries]) if queries else None
        gold = [set(map(str, q["gold"])) for q in queries]
        report = {"file_docs": len(data["docs"]), "queries": len(queries),
                  "embedder": ingestor.store.embedder.name, "ingest_seconds": round(ingest_s, 1), "modes": {}}
        for mode in modes:
            ranked = []
            t0 = time.perf_counter()
            for i, q in enumerate(queries):
                res = searcher.search(q["q"], limit=10, mode=mode, query_vector=qvecs[i])
                ranked.append([doc_of.get(h.recording_id, "?") for h in res.hits])
            elapsed = time.perf_counter() - t0
            report["modes"][mode] = {
                "mrr@10": round(mrr_at(ranked, gold, 10), 4),
                "recall@1": round(recall_at(ranked, gold, 1), 4),
                "recall@5": round(recall_at(ranked, gold, 5), 4),
                "recall@10": round(recall_at(ranked, gold, 10), 4),
                "ms_per_query": round(1000 * elapsed / max(1, len(queries)), 2),
            }
        conn.close()
    return report


def evaluate_file(path, config: Config | None = None, limit_queries: int | None = None) -> dict:
    report = evaluate(load_benchmark(path), config, limit_queries)
    report["file"] = str(path)
    return report


def format_table(report: dict) -> str:
    lines = [f"{report.get('file', '')}: {report['file_docs']} docs, {report['queries']} queries, "
             f"embedder {report['embedder']}",
             "", "| mode | MRR@10 | R@1 | R@5 | R@10 | ms/query |", "| --- | --- | --- | --- | --- | --- |"]
    for mode, m in report["modes"].items():
        lines.append(f"| {mode} | {m['mrr@10']:.3f} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | "
                     f"{m['recall@10']:.3f} | {m['ms_per_query']:.1f} |")
    return "\n".join(lines)
