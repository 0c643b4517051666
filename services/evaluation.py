"""`kb eval`: retrieval quality of the real pipeline on a benchmark file.

The documents are ingested into a temporary knowledge base (same chunking,
embedder, lexical index and fusion as production), then search.evaluate
searches every query in the three modes and reports MRR@10 / Recall@1/5/10
side by side, so a change to any part of search shows its effect on each.
Building the knowledge base runs ingest, which is why this lives here and not
in search/ (search/ imports nothing above it: docs/architecture.md).

A document is written (``"text"``) or spoken (``"audio"``: an audio or video
file, its path relative to the question-set file).  A spoken document goes
through the whole chain a meister's recording goes through (ffmpeg, Whisper,
passages, embeddings), so the figures measure speech -> transcript -> search;
when it also has ``"text"`` (what was said), the transcripts' character error
rate (CER) against it is reported too.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from kb.settings import Config, load_config
from search.evaluate import MODES, load_benchmark, measure, speech_report


def _audio_path(doc: dict, base_dir: Path | None) -> Path:
    """A spoken document's file, relative to the set file's folder; one clear error when it is not there."""
    path = Path(str(doc["audio"]))
    if not path.is_absolute():
        if base_dir is None:
            raise ValueError(f"document {doc.get('id')!r}: an audio path needs the question-set file's folder")
        path = base_dir / path
    if not path.is_file():
        raise ValueError(f"document {doc.get('id')!r}: audio file {path} not found")
    return path


def _ingest_doc(ingestor, doc: dict, data: dict, base_dir: Path | None):
    from kb.recordings import RecordingMeta

    title = doc.get("title") or str(doc["id"])
    if "audio" not in doc:
        return ingestor.ingest_text(title, doc["text"], source_name=f"{doc['id']}.txt")
    language = doc.get("language") or data.get("language") or ""
    meta = RecordingMeta(title=title, language=language or None)
    return ingestor.ingest_file(_audio_path(doc, base_dir), meta)


def _transcript(conn, recording_id: int) -> str:
    from kb import recordings

    return "".join(s["text"] or "" for s in recordings.segments(conn, recording_id))


def evaluate(
    data: dict,
    config: Config | None = None,
    limit_queries: int | None = None,
    modes=MODES,
    progress=None,
    base_dir: str | Path | None = None,
    baselines: dict[str, dict[str, str]] | None = None,
) -> dict:
    """Ingest the set's documents into a temporary knowledge base and search every query.

    ``baselines``: name -> settings changed for search only (e.g. {"reading off": {"reading_match":
    "off"}}); the same knowledge base is searched again with each, reported under "baselines", so
    a search-side change is compared side by side without ingesting (or transcribing) twice."""
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from search.metrics import character_error_rate

    base = config.values if config else load_config().values
    queries = data["queries"][:limit_queries] if limit_queries else data["queries"]
    base_dir = Path(base_dir) if base_dir is not None else None
    for doc in data["docs"]:
        if "audio" in doc:
            _audio_path(doc, base_dir)  # every file is there before anything slow starts
        elif not isinstance(doc.get("text"), str):
            raise ValueError(f"document {doc.get('id')!r}: needs 'text' or 'audio'")
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
        cfg = Config(dict(base, home=tmp))
        conn = init_home(cfg)
        ingestor = Ingestor(cfg, conn)
        doc_of: dict[int, str] = {}
        spoken: list[dict] = []
        t0 = time.perf_counter()
        with ingestor.store.batch():
            for n, doc in enumerate(data["docs"]):
                res = _ingest_doc(ingestor, doc, data, base_dir)
                if res.status == "failed":
                    raise ValueError(f"document {doc.get('id')!r} could not be ingested: {res.message}")
                if res.recording_id is not None:
                    doc_of[res.recording_id] = str(doc["id"])
                if "audio" in doc:
                    spoken.append(
                        {
                            "id": str(doc["id"]),
                            "reference": doc.get("text"),
                            "transcript": _transcript(conn, res.recording_id),
                        }
                    )
                if progress:
                    progress("ingest", n + 1, len(data["docs"]))
        ingest_s = time.perf_counter() - t0
        report = {
            "file_docs": len(data["docs"]),
            "queries": len(queries),
            "embedder": ingestor.store.embedder.name,
            "ingest_seconds": round(ingest_s, 1),
            "modes": {},
        }
        if spoken:
            report["spoken"] = speech_report(spoken, character_error_rate)
        report.update(measure(ingestor.store, queries, doc_of, modes, baselines))
        conn.close()
    return report


def evaluate_file(
    path,
    config: Config | None = None,
    limit_queries: int | None = None,
    baselines: dict[str, dict[str, str]] | None = None,
) -> dict:
    report = evaluate(
        load_benchmark(path), config, limit_queries, base_dir=Path(path).resolve().parent, baselines=baselines
    )
    report["file"] = str(path)
    return report
