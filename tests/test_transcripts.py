"""Transcript corrections: validation, history, stale saves, and re-embedding only what changed.

Most tests use the model-free hash embedder (they check plumbing: which chunks
are embedded again, what SQLite, FTS5 and FAISS hold); the last one runs the
real pipeline on jfk.flac with the real e5 embedder and searches the correction.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ingest.chunking import chunks_for
from kb import recordings, transcripts
from kb.errors import InputError
from kb.recordings import RecordingMeta
from services import transcripts as saving


class CountingEmbedder:
    """The real hash embedder, recording which passages it was asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.passages: list[str] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_passages(self, texts):
        self.passages.extend(texts)
        return self.inner.encode_passages(texts)


def _srt(lines: list[str], step: float = 6.0, length: float = 5.0) -> str:
    def ts(t: float) -> str:
        ms = int(round(t * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "\n".join(f"{n + 1}\n{ts(n * step)} --> {ts(n * step + length)}\n{text}\n" for n, text in enumerate(lines))


LINES = [f"第{i}工程の説明です。主軸の回転数を{i}段に合わせる。" for i in range(30)]


@pytest.fixture
def kb(tmp_path):
    """A knowledge base with the hash embedder (no second embedder) and a counting wrapper around it."""
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from kb.settings import load_config
    from search.embedders import load_embedder
    from search.store import SearchStore

    config = load_config(home=tmp_path / "kb", embed_model="hash", second_embed_model="none")
    conn = init_home(config)
    counting = CountingEmbedder(load_embedder("hash"))
    store = SearchStore(config, conn, embedder=counting)
    yield config, conn, store, Ingestor(config, conn, store), counting
    conn.close()


@pytest.fixture
def lesson(kb, tmp_path):
    """A timed transcript of 30 lines (3 minutes) through the real pipeline (a subtitle file: no recogniser)."""
    config, conn, store, ingestor, counting = kb
    path = tmp_path / "旋盤 段取り.srt"
    path.write_text(_srt(LINES), encoding="utf-8")
    result = ingestor.ingest_file(path, RecordingMeta(title="段取り"))
    assert result.status == "added", result.message
    counting.passages.clear()
    return result.recording_id


def _lines(conn, rid):
    return [dict(s, idx=n) for n, s in enumerate(recordings.segments(conn, rid))]


def _chunks(conn, rid):
    return [
        dict(r)
        for r in conn.execute(
            "SELECT id, idx, text, start, end, embedding FROM chunks WHERE recording_id = ? ORDER BY idx", (rid,)
        )
    ]


def test_editing_one_line_embeds_only_the_chunk_that_holds_it(kb, lesson):
    from search import lexical

    config, conn, store, _, counting = kb
    before = _chunks(conn, lesson)
    assert len(before) >= 5
    generation = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
    lines = _lines(conn, lesson)
    lines[13]["text"] = "心押し台でワークを支える。"
    result = saving.save(store, lesson, lines, 1, user_id=None, author="テスト", note="誤認識の修正")

    after = _chunks(conn, lesson)
    holder = [c for c in after if "心押し台" in c["text"]]
    assert len(holder) == 1 and holder[0]["start"] <= 13 * 6.0 < holder[0]["end"]
    assert result.changed and result.version == 2
    assert result.reembedded == 1 and result.removed == 1 and result.kept == len(before) - 1
    assert len(counting.passages) == 1 and "心押し台" in counting.passages[0]
    # the other chunks kept their ids and their stored vectors, in the same order
    old_by_id = {c["id"]: c for c in before}
    for c in after:
        if c is not holder[0]:
            assert c["embedding"] == old_by_id[c["id"]]["embedding"]
    assert [c["idx"] for c in after] == list(range(len(after)))
    assert [c["start"] for c in after] == [c["start"] for c in before]
    removed = next(c["id"] for c in before if c["id"] not in {a["id"] for a in after})
    # lexical: the new word is found, the removed line's words are not
    assert [h[0] for h in lexical.search(conn, "心押し台")][:1] == [holder[0]["id"]]
    assert not conn.execute("SELECT 1 FROM chunk_fts WHERE rowid = ?", (removed,)).fetchone()
    assert all(h.coverage < 1 for h in lexical.search_hits(conn, "第13工程"))  # no chunk holds the old words
    # FAISS: the new chunk is in the index, the removed one is not; the generation moved on
    index = store.index
    assert len(index) == len(after)
    vec = np.frombuffer(holder[0]["embedding"], dtype=np.float32)
    scores, ids = index.search(vec[None, :], len(after))
    assert holder[0]["id"] in ids[0] and removed not in ids[0]
    assert int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]) == int(generation) + 1


def test_the_saved_index_matches_sqlite_after_an_edit(kb, lesson):
    """The FAISS file saved after an edit is trusted by the next process (no rebuild from SQLite needed)."""
    from kb import db
    from search.vector_index import MANIFEST_FILE

    config, conn, store, _, _ = kb
    lines = _lines(conn, lesson)
    lines[2]["text"] = "バイトの刃先を確認する。"
    saving.save(store, lesson, lines, 1)
    manifest = json.loads((config.index_dir / MANIFEST_FILE).read_text())
    assert manifest["generation"] == db.get_generation(conn)
    assert manifest["count"] == conn.execute("SELECT count(*) FROM chunks").fetchone()[0]


def test_history_keeps_every_version_and_restore_brings_one_back(kb, lesson):
    from kb import users

    config, conn, store, _, _ = kb
    user = users.create_user(conn, "tanaka", "correct horse battery 1", "meister", display_name="田中", meister="田中")
    original = recordings.segments(conn, lesson)
    lines = _lines(conn, lesson)
    lines[0]["text"] = "最初の行を直した。"
    saving.save(store, lesson, lines, 1, user_id=user, author="田中", note="一行目")
    lines = _lines(conn, lesson)
    lines[1]["speaker"] = "田中"
    saving.save(store, lesson, lines, 2, user_id=None, author="command line")

    assert transcripts.current_version(conn, lesson) == 3
    history = transcripts.history(conn, lesson)
    assert [h["version"] for h in history] == [2, 1]
    assert history[1]["replaced_by"] == "田中" and history[1]["note"] == "一行目" and history[1]["user_id"] == user
    assert history[0]["replaced_by"] == "command line" and history[0]["replaced_at"]
    assert transcripts.version_segments(conn, lesson, 1) == original
    assert transcripts.version_segments(conn, lesson, 2)[0]["text"] == "最初の行を直した。"
    assert recordings.segments(conn, lesson)[1]["speaker"] == "田中"

    result = saving.restore(store, lesson, 1, 3, user_id=user, author="田中")
    assert result.version == 4 and result.changed
    assert recordings.segments(conn, lesson) == original
    assert transcripts.history(conn, lesson)[0]["note"] == "restored version 1"
    assert len(transcripts.history(conn, lesson)) == 3


def test_a_stale_version_is_refused_and_changes_nothing(kb, lesson):
    config, conn, store, _, counting = kb
    first = _lines(conn, lesson)
    first[5]["text"] = "先に保存した人の修正。"
    saving.save(store, lesson, first, 1)
    saved = recordings.segments(conn, lesson)
    chunks = _chunks(conn, lesson)
    counting.passages.clear()
    late = _lines(conn, lesson)
    late[6]["text"] = "後から保存しようとした修正。"
    with pytest.raises(transcripts.StaleVersion, match="someone saved a newer version"):
        saving.save(store, lesson, late, 1)
    assert recordings.segments(conn, lesson) == saved
    assert _chunks(conn, lesson) == chunks
    assert transcripts.current_version(conn, lesson) == 2
    assert counting.passages == []  # refused before embedding anything


def test_the_version_is_checked_again_inside_the_transaction(kb, lesson, monkeypatch):
    """A save that raced past the first check is still refused when it takes the write lock."""
    config, conn, store, _, _ = kb
    lines = _lines(conn, lesson)
    lines[3]["text"] = "競合する修正。"
    calls = {"n": 0}
    real = transcripts.current_version

    def racing(c, rid):
        calls["n"] += 1
        if calls["n"] == 2:  # between the first check and the transaction, someone else saves
            c.execute("INSERT INTO transcript_versions(recording_id, version, segments) VALUES (?, 1, '[]')", (rid,))
        return real(c, rid)

    monkeypatch.setattr(transcripts, "current_version", racing)
    with pytest.raises(transcripts.StaleVersion):
        saving.save(store, lesson, lines, 1)
    assert calls["n"] == 2
    assert recordings.segments(conn, lesson)[3]["text"] == LINES[3]
    assert conn.execute("SELECT count(*) FROM transcript_versions").fetchone()[0] == 0  # rolled back


def test_saving_the_same_lines_stores_nothing(kb, lesson):
    config, conn, store, _, counting = kb
    result = saving.save(store, lesson, _lines(conn, lesson), 1)
    assert not result.changed and result.version == 1
    assert transcripts.history(conn, lesson) == [] and counting.passages == []


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda ls: ls[4].update(text="   "), "line 5 is empty"),
        (lambda ls: ls[4].update(start=30.0, end=29.0), "line 5 must end after it starts"),
        (lambda ls: ls[-1].update(end=999.0), "ends after the recording"),
        (lambda ls: ls[4].update(start=1.0), "line 5 starts before the line above it"),
        (lambda ls: ls[4].update(start="abc"), "line 5: the start must be a number of seconds"),
        (lambda ls: ls[4].update(end=float("nan")), "line 5: the end must be a number of seconds"),
        (lambda ls: ls[4].update(start=-2), "line 5: the start must be a number of seconds from 0"),
        (lambda ls: ls[4].update(text="あ" * 2001), "line 5 is longer than 2000 characters"),
        (lambda ls: ls[4].update(speaker="名" * 61), "speaker's name is longer"),
        (lambda ls: ls.clear(), "would be empty"),
        (lambda ls: ls.append("not a line"), "is not a line object"),
    ],
)
def test_invalid_lines_get_one_clear_message_and_change_nothing(kb, lesson, change, message):
    config, conn, store, _, _ = kb
    recordings.update(conn, lesson, duration=180.0)
    conn.commit()
    before = recordings.segments(conn, lesson)
    lines = _lines(conn, lesson)
    change(lines)
    with pytest.raises(InputError, match=message):
        saving.save(store, lesson, lines, 1)
    assert recordings.segments(conn, lesson) == before
    assert transcripts.current_version(conn, lesson) == 1


def test_text_is_cleaned_but_markup_is_kept_as_text(kb, lesson):
    config, conn, store, _, _ = kb
    lines = _lines(conn, lesson)
    lines[0]["text"] = "<script>alert(1)</script>\x00 旋盤\u202e の\tびびり\n対策 "
    lines[0]["speaker"] = " <b>田中</b>\x07 "
    saving.save(store, lesson, lines, 1)
    seg = recordings.segments(conn, lesson)[0]
    assert seg["text"] == "<script>alert(1)</script> 旋盤 の びびり 対策"
    assert seg["speaker"] == "<b>田中</b>"


def test_a_recording_still_being_processed_cannot_be_edited(kb, lesson):
    config, conn, store, _, _ = kb
    recordings.update(conn, lesson, status="processing")
    conn.commit()
    with pytest.raises(InputError, match="still being processed"):
        saving.save(store, lesson, _lines(conn, lesson), 1)


def _recording_with_words(conn, store, config):
    """A speech recording whose lines carry word timings, stored and indexed as the pipeline does."""
    rid = recordings.create(
        conn,
        title="words",
        kind="audio",
        fmt="flac",
        source_name="w.flac",
        sha256="w" * 64,
        size_bytes=1,
        meta=RecordingMeta(),
        status="done",
    )
    recordings.update(conn, rid, duration=20.0)
    segs = [
        {
            "start": 0.0,
            "end": 4.0,
            "text": "hold the tailstock",
            "words": [[" hold", 0.0, 1.0], [" the", 1.0, 1.5], [" tailstock", 1.5, 4.0]],
        },
        {
            "start": 5.0,
            "end": 9.0,
            "text": "check the tool",
            "words": [[" check", 5.0, 6.0], [" the", 6.0, 6.5], [" tool", 6.5, 9.0]],
        },
    ]
    recordings.replace_segments(conn, rid, segs)
    conn.commit()
    store.write_chunks(rid, chunks_for(config, recordings.segments(conn, rid)))
    return rid


def test_word_timings_stay_on_unchanged_lines_only(kb):
    config, conn, store, _, _ = kb
    rid = _recording_with_words(conn, store, config)
    lines = _lines(conn, rid)
    lines[1]["text"] = "check the cutting tool"
    saving.save(store, rid, lines, 1)
    segs = recordings.segments(conn, rid)
    assert segs[0]["words"] == [[" hold", 0.0, 1.0], [" the", 1.0, 1.5], [" tailstock", 1.5, 4.0]]
    assert segs[1]["words"] is None
    # the same text with times that no longer hold its words loses them too
    lines = _lines(conn, rid)
    lines[0]["end"] = 2.0
    saving.save(store, rid, lines, 2)
    assert recordings.segments(conn, rid)[0]["words"] is None
    # the old version still has them
    assert transcripts.version_segments(conn, rid, 1)[1]["words"][2] == [" tool", 6.5, 9.0]


def test_documents_are_edited_page_by_page_and_only_the_changed_passage_is_embedded(kb):
    config, conn, store, ingestor, counting = kb
    paragraphs = [f"段落{i}。" + "切削条件を確認してから主軸を回す手順を守ること。" * 5 for i in range(6)]
    result = ingestor.ingest_text("作業手順書", "\n\n".join(paragraphs))
    rid = result.recording_id
    before = _chunks(conn, rid)
    assert len(before) == 6
    counting.passages.clear()
    lines = _lines(conn, rid)
    assert len(lines) == 1 and lines[0]["page"] is None and lines[0]["start"] is None
    lines[0]["text"] = lines[0]["text"].replace("段落3。", "段落3。ルートギャップは2ミリ。")
    outcome = saving.save(store, rid, lines, 1)
    assert outcome.reembedded == 1 and outcome.kept == 5
    assert len(counting.passages) == 1 and "ルートギャップ" in counting.passages[0]
    after = _chunks(conn, rid)
    assert [c["id"] for c in after if c["id"] in {b["id"] for b in before}] == [
        b["id"] for b in before if b["idx"] != 3
    ]
    assert "ルートギャップ" in after[3]["text"]


def test_a_real_recording_edited_is_found_by_its_new_word_at_once(jfk, ingestor, conn, searcher):
    """jfk.flac through the real pipeline (Whisper, e5, USE); the correction is searchable immediately."""
    from search import lexical

    result = ingestor.ingest_file(jfk, RecordingMeta(title="speech", language="en"))
    assert result.status == "added", result.message
    rid = result.recording_id
    lines = _lines(conn, rid)
    assert any("country" in line["text"] for line in lines), lines
    assert searcher.search("country", mode="lexical").hits
    for line in lines:
        line["text"] = line["text"].replace("country", "tailstock")
    outcome = saving.save(ingestor.store, rid, lines, 1, author="test")
    assert outcome.changed and outcome.reembedded >= 1
    for mode in ("hybrid", "lexical", "dense"):
        hits = searcher.search("tailstock", mode=mode).hits
        assert hits and hits[0].recording_id == rid and "tailstock" in hits[0].text, mode
    assert not [h for h in lexical.search(conn, "country")]
    assert searcher.search("country", mode="lexical").hits == []
    stored = json.loads(
        conn.execute("SELECT segments FROM transcript_versions WHERE recording_id = ?", (rid,)).fetchone()[0]
    )
    assert any("country" in s["text"] for s in stored)
