"""`kb eval`: retrieval quality of the real pipeline on a benchmark file.

The documents are ingested into a temporary knowledge base (same chunking,
embedder, lexical index and fusion as production), every query is searched in
the three modes, and MRR@10 / Recall@1/5/10 are reported side by side, so a
change to any part of search shows its effect on each.

A document is written (``"text"``) or spoken (``"audio"``: an audio or video
file, its path relative to the question-set file).  A spoken document goes
through the whole chain a meister's recording goes through (ffmpeg, Whisper,
passages, embeddings), so the figures measure speech -> transcript -> search;
when it also has ``"text"`` (what was said), the transcripts' character error
rate (CER) against it is reported too.
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
    return "".join(row[0] or "" for row in conn.execute(
        "SELECT text FROM segments WHERE recording_id = ? ORDER BY idx", (recording_id,)))


def evaluate(data: dict, config: Config | None = None, limit_queries: int | None = None,
             modes=MODES, progress=None, base_dir: str | Path | None = None,
             baselines: dict[str, dict[str, str]] | None = None) -> dict:
    """Ingest the set's documents into a temporary knowledge base and search every query.

    ``baselines``: name -> settings changed for search only (e.g. {"reading off": {"reading_match":
    "off"}}); the same knowledge base is searched again with each, reported under "baselines", so
    a search-side change is compared side by side without ingesting (or transcribing) twice."""
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from search.engine import Searcher
    from search.metrics import character_error_rate, mrr_at, recall_at

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
                    spoken.append({"id": str(doc["id"]), "reference": doc.get("text"),
                                   "transcript": _transcript(conn, res.recording_id)})
                if progress:
                    progress("ingest", n + 1, len(data["docs"]))
        ingest_s = time.perf_counter() - t0
        searcher = Searcher(ingestor.store)
        qvecs = ingestor.store.embedder.encode_queries([q["q"] for q in queries]) if queries else None
        gold = [set(map(str, q["gold"])) for q in queries]
        report = {"file_docs": len(data["docs"]), "queries": len(queries),
                  "embedder": ingestor.store.embedder.name, "ingest_seconds": round(ingest_s, 1), "modes": {}}
        if spoken:
            report["spoken"] = _speech_report(spoken, character_error_rate)
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

        report["modes"] = measure_modes()
        for name, changes in (baselines or {}).items():
            saved = dict(cfg.values)
            cfg.values.update(changes)
            try:
                report.setdefault("baselines", {})[name] = {"settings": dict(changes), "modes": measure_modes()}
            finally:
                cfg.values.clear()
                cfg.values.update(saved)
        conn.close()
    return report


def _speech_report(spoken: list[dict], cer) -> dict:
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


def evaluate_file(path, config: Config | None = None, limit_queries: int | None = None,
                  baselines: dict[str, dict[str, str]] | None = None) -> dict:
    report = evaluate(load_benchmark(path), config, limit_queries, base_dir=Path(path).resolve().parent,
                      baselines=baselines)
    report["file"] = str(path)
    return report


def format_table(report: dict) -> str:
    lines = [f"{report.get('file', '')}: {report['file_docs']} docs, {report['queries']} queries, "
             f"embedder {report['embedder']}",
             "", "| mode | MRR@10 | R@1 | R@5 | R@10 | ms/query |", "| --- | --- | --- | --- | --- | --- |"]
    if report.get("spoken"):
        cer = report["spoken"]["cer"]
        spoken = report["spoken"]
        lines.insert(1, f"{spoken['docs']} spoken documents transcribed"
                        + (f", character error rate {cer:.3f}" if cer is not None else "")
                        + (f" (katakana = hiragana: {spoken['cer_kana_folded']:.3f}; on readings: "
                           f"{spoken['reading_error_rate']:.3f})" if spoken.get("reading_error_rate") is not None else ""))
    rows = [("", report["modes"])] + [(f" ({name})", b["modes"]) for name, b in report.get("baselines", {}).items()]
    for label, modes in rows:
        for mode, m in modes.items():
            lines.append(f"| {mode}{label} | {m['mrr@10']:.3f} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | "
                         f"{m['recall@10']:.3f} | {m['ms_per_query']:.1f} |")
    return "\n".join(lines)
