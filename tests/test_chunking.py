"""ingest.chunking: transcript moments and document passages."""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.chunking import Chunk, chunk_document, chunk_transcript
from ingest.documents import Page


@dataclass
class Seg:  # the shape of media's Segment: start, end, text
    start: float
    end: float
    text: str


def _segments(texts, seconds=4.0, gap=0.2):
    out, t = [], 0.0
    for text in texts:
        out.append(Seg(t, t + seconds, text))
        t += seconds + gap
    return out


def _no_space(s: str) -> str:
    return re.sub(r"\s+", "", s)


# -- transcripts ---------------------------------------------------------------------------------------

SPOKEN = [
    "旋盤の準備をします",
    "まず主軸を止めて",
    "チャックを確認します。",
    "次に刃物台に",
    "バイトを取り付けます。",
    "突き出しは短く",
    "してください。",
]


def test_moments_are_between_min_and_max_and_cover_every_segment():
    segs = _segments(SPOKEN * 10, seconds=3.5)
    chunks = chunk_transcript(segs)
    assert len(chunks) > 3
    spans = [c.segment_span for c in chunks]
    assert spans[0][0] == 0 and spans[-1][1] == len(segs) - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(spans, spans[1:]))  # contiguous, no overlap
    for c in chunks:
        assert c.end - c.start <= 60
        assert c.page is None
        assert c.start == segs[c.segment_span[0]].start and c.end == segs[c.segment_span[1]].end
    assert all(c.end - c.start >= 20 for c in chunks[:-1])
    assert [c.idx for c in chunks] == list(range(len(chunks)))


def test_moments_end_at_sentence_ends_once_long_enough():
    chunks = chunk_transcript(_segments(SPOKEN * 10, seconds=3.5))
    for c in chunks[:-1]:
        assert c.text.endswith("。")


def test_japanese_joins_without_spaces_and_english_with_spaces():
    ja = chunk_transcript(_segments(["旋盤の", "びびりを", "抑えます。"], seconds=8))
    assert [c.text for c in ja] == ["旋盤のびびりを抑えます。"]
    en = chunk_transcript(
        _segments(["And so, my fellow Americans,", "ask not what your country", "can do for you."], seconds=8)
    )
    assert [c.text for c in en] == ["And so, my fellow Americans, ask not what your country can do for you."]


def test_never_longer_than_max_even_without_punctuation():
    chunks = chunk_transcript(_segments(["回転数を下げて"] * 40, seconds=7), min_seconds=20, max_seconds=60)
    assert all(c.end - c.start <= 60 for c in chunks)
    assert sum(c.segment_span[1] - c.segment_span[0] + 1 for c in chunks) == 40


def test_cut_falls_back_to_the_last_sentence_end_before_max():
    # sentence end after 24 s, then no punctuation until the max is hit
    texts = ["一", "二", "三終わり。", "四", "五", "六", "七", "八", "九", "十"]
    chunks = chunk_transcript(_segments(texts, seconds=8, gap=0), min_seconds=20, max_seconds=60)
    assert chunks[0].segment_span == (0, 2)


def test_without_punctuation_the_longest_pause_is_the_cut():
    segs, t = [], 0.0
    for i in range(12):  # 7 s segments, a 1 s pause after the 4th, 0.2 s elsewhere
        segs.append(Seg(t, t + 7, "回転数を下げて"))
        t += 7 + (1.0 if i == 3 else 0.2)
    chunks = chunk_transcript(segs, min_seconds=20, max_seconds=60)
    assert chunks[0].segment_span == (0, 3)


def test_a_pause_is_a_cut_point():
    segs = [
        Seg(0, 10, "まず主軸を止めて"),
        Seg(10, 22, "チャックを外して"),
        Seg(26, 36, "次は刃物台"),
        Seg(36, 50, "バイトを外して"),
        Seg(50, 58, "清掃します"),
    ]
    chunks = chunk_transcript(segs)
    assert [c.segment_span for c in chunks] == [(0, 1), (2, 4)]


def test_single_long_segment_is_its_own_moment():
    segs = [Seg(0, 10, "短い。"), Seg(10, 100, "とても長い説明"), Seg(100, 130, "最後です。")]
    chunks = chunk_transcript(segs)
    assert [c.segment_span for c in chunks] == [(0, 0), (1, 1), (2, 2)]


def test_short_tail_merges_into_previous_moment():
    segs = _segments(["説明します。"] * 4 + ["以上。"], seconds=5, gap=0)  # 20 s, then a 5 s tail
    chunks = chunk_transcript(segs, min_seconds=20, max_seconds=60)
    assert [(c.segment_span, c.start, c.end) for c in chunks] == [((0, 4), 0, 25)]


def test_short_tail_stays_alone_when_merging_would_make_a_moment_too_long():
    segs = [Seg(0, 30, "前半"), Seg(30, 60, "後半です。"), Seg(70, 78, "以上。")]  # merged: 78 s > 60 * 1.25
    chunks = chunk_transcript(segs, min_seconds=20, max_seconds=60)
    assert [c.segment_span for c in chunks] == [(0, 1), (2, 2)]


def test_dicts_and_empty_segments():
    segs = [
        {"start": 0, "end": 5, "text": " 溶接の前に "},
        {"start": 5, "end": 6, "text": "  "},
        {"start": 6, "end": 12, "text": "母材を清掃します。"},
    ]
    chunks = chunk_transcript(segs)
    assert len(chunks) == 1
    assert chunks[0].text == "溶接の前に母材を清掃します。"
    assert chunks[0].segment_span == (0, 2)
    assert chunk_transcript([]) == []


# -- documents -----------------------------------------------------------------------------------------

PARA = (
    "旋盤でびびりが出たときは、まず回転数を下げ、バイトの突き出しを短くします。"
    "それでも収まらない場合は、刃先の角度と送り量を見直してください。"
)  # 73 characters


def test_short_paragraphs_merge_and_long_ones_stand_alone():
    long_para = PARA + PARA  # 146 characters, more than min_chars
    text = "\n\n".join(["第1章 安全", "手袋をはずす。", long_para, "以上。"])
    chunks = chunk_document([Page(None, text)])
    # the heading is not a passage of its own, nor is the last short line
    assert [c.text for c in chunks] == ["第1章 安全\n手袋をはずす。\n" + long_para + "\n以上。"]


def test_paragraphs_of_min_length_are_separate_passages():
    a, b = PARA + PARA, PARA + "溶接" + PARA
    chunks = chunk_document([Page(None, f"{a}\n\n{b}")])
    assert [c.text for c in chunks] == [a, b]


def test_long_paragraph_split_at_sentence_ends_within_max():
    para = PARA * 12  # 876 characters, 24 sentences
    chunks = chunk_document([Page(None, para)], max_chars=400)
    assert len(chunks) == 3
    assert all(len(c.text) <= 400 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)
    assert _no_space("".join(c.text for c in chunks)) == _no_space(para)
    sizes = [len(c.text) for c in chunks]
    assert max(sizes) - min(sizes) < 150  # near-equal parts, no tiny tail


def test_passages_never_cross_pages_and_keep_page_numbers():
    pages = [Page(1, "短い一ページ目。"), Page(2, PARA * 8), Page(3, "三ページ目です。")]
    chunks = chunk_document(pages)
    assert [c.page for c in chunks][0] == 1 and [c.page for c in chunks][-1] == 3
    assert {c.page for c in chunks} == {1, 2, 3}
    for c in chunks:
        assert ("一ページ目" in c.text) == (c.page == 1)
        assert ("三ページ目" in c.text) == (c.page == 3)
    assert [c.idx for c in chunks] == list(range(len(chunks)))
    assert all(c.start is None and c.end is None for c in chunks)


def test_no_latin_word_is_cut():
    words = (
        "The spindle speed must be reduced gradually while watching the surface finish "
        "and listening for chatter marks on the workpiece "
    )
    para = (words * 12).strip()  # one huge sentence without a full stop
    chunks = chunk_document([para], max_chars=400)
    vocabulary = set(para.split())
    for c in chunks:
        assert len(c.text) <= 400
        assert set(c.text.split()) <= vocabulary
    assert " ".join(c.text for c in chunks).split() == para.split()


def test_unpunctuated_japanese_is_cut_at_commas_or_characters():
    para = "回転数を下げ、" * 100  # 700 characters, no sentence end
    chunks = chunk_document([para], max_chars=400)
    assert all(len(c.text) <= 400 for c in chunks)
    assert "".join(c.text for c in chunks) == para.rstrip()


def test_lines_are_cut_points_in_long_paragraphs():
    lines = [f"手順{i}: バイトを交換して寸法を確認する" for i in range(40)]
    chunks = chunk_document(["\n".join(lines)], max_chars=200)
    assert all(len(c.text) <= 200 for c in chunks)
    for c in chunks:
        assert all(line.startswith("手順") for line in c.text.split("\n"))


def test_accepts_pairs_and_strings_and_skips_empty_pages():
    chunks = chunk_document([(4, PARA), "", Page(5, "  ")])
    assert [(c.page, c.text) for c in chunks] == [(4, PARA)]
    assert isinstance(chunks[0], Chunk)


def _jsquad_paragraphs(shared_data: Path) -> list[str]:
    path = shared_data / "jsquad-valid-v1.3.json"
    if not path.is_file():
        pytest.skip(f"JSQuAD not found at {path} (set KB_SHARED_DATA)")
    data = json.loads(path.read_text(encoding="utf-8"))
    contexts = {p["context"] for article in data["data"] for p in article["paragraphs"]}
    return sorted(c.split("[SEP]", 1)[1].strip() for c in contexts)


def test_jsquad_paragraphs_mostly_stay_whole(shared_data):
    """Real Japanese paragraphs: with the defaults 98 % stay one passage, none is lost or over-long."""
    paragraphs = _jsquad_paragraphs(shared_data)
    lengths = [len(p) for p in paragraphs]
    split = 0
    for para in paragraphs:
        chunks = chunk_document([Page(None, para)])
        assert all(len(c.text) <= 400 for c in chunks)
        assert _no_space("".join(c.text for c in chunks)) == _no_space(para)
        split += len(chunks) > 1
    assert len(paragraphs) == 1145
    assert split == sum(n > 400 for n in lengths)  # only the paragraphs over max_chars are split
    assert split / len(paragraphs) < 0.02
    assert 120 < statistics.median(lengths) < 200
