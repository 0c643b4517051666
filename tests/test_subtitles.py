"""SRT and WebVTT reading and writing: messy real-world files, Japanese text, round trips."""

from __future__ import annotations

import pytest

from media.asr import Segment
from media.errors import MediaError
from media.subtitles import parse_srt, parse_vtt, read_subtitle_file, to_srt, to_vtt

SRT = (
    "1\r\n00:00:01,000 --> 00:00:03,500\r\n<i>旋盤のびびりは</i>\r\n突き出しで決まる\r\n\r\n"
    '2\r\n00:00:04,250 --> 00:00:06,000\r\n{\\an8}<font color="#ffff00">Keep the tool short.</font>\r\n\r\n'
    "3\r\n01:02:03,004 --> 01:02:05,000\r\n最後のキュー"  # no trailing newline at all
)

VTT = """\ufeffWEBVTT - 溶接の基本
Kind: captions
Language: ja

STYLE
::cue { color: yellow }

NOTE これはコメント
複数行のコメント

intro
00:01.000 --> 00:02.500 align:start position:10% line:0
<v 田中>溶接は<c.yellow>電流</c>が大事</v>

00:00:03.000 --> 00:00:05.000
<ruby>溶接<rt>ようせつ</rt></ruby>棒 &amp; &lt;母材&gt;
<00:00:04.000>二行目

NOTE
ending note

1:00:00.000 --> 1:00:01.000
last"""


def texts(segments):
    return [s.text for s in segments]


def test_parse_srt():
    segs = parse_srt(SRT)
    assert texts(segs) == ["旋盤のびびりは\n突き出しで決まる", "Keep the tool short.", "最後のキュー"]
    assert [(s.start, s.end) for s in segs] == [(1.0, 3.5), (4.25, 6.0), (3723.004, 3725.0)]
    assert all(isinstance(s, Segment) and s.words == [] for s in segs)


def test_parse_srt_lenient():
    messy = (
        "00:00:01.5 --> 00:00:02,000\nno index, dot and short fraction\n\n"
        "7\n00:00:03,000 --> 00:00:04,000\nfirst line\n\ncontinued after a stray blank line\n"
        "8\n00:00:05,000 --> 00:00:04,000\nend before start is clamped\n"
        "a < b but not a tag\n\n\n"
    )
    segs = parse_srt(messy)
    assert texts(segs) == [
        "no index, dot and short fraction",
        "first line\ncontinued after a stray blank line",
        "end before start is clamped\na < b but not a tag",
    ]
    assert segs[0].start == 1.5 and segs[2].start == segs[2].end == 5.0


def test_parse_vtt():
    segs = parse_vtt(VTT)
    assert texts(segs) == ["溶接は電流が大事", "溶接棒 & <母材>\n二行目", "last"]
    assert [(s.start, s.end) for s in segs] == [(1.0, 2.5), (3.0, 5.0), (3600.0, 3601.0)]


def test_parse_vtt_crlf_and_no_header_blank():
    assert texts(parse_vtt("WEBVTT\r\n\r\n00:00.000 --> 00:01.000\r\nhello\r\n")) == ["hello"]


def test_vtt_escapes_and_round_trips():
    segs = [
        Segment(0.0, 1.25, "a < b & c > d"),
        Segment(1.25, 3.0, "旋盤\n\n  びびり "),
        Segment(3661.5, 3662.0, "--> arrow"),
        Segment(5.0, 6.0, "   "),
    ]
    vtt = to_vtt(segs)
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.250\na &lt; b &amp; c &gt; d\n")
    assert "01:01:01.500 --> 01:01:02.000\n--&gt; arrow" in vtt
    back = parse_vtt(vtt)
    assert texts(back) == ["a < b & c > d", "旋盤\nびびり", "--> arrow"]
    assert [(s.start, s.end) for s in back] == [(0.0, 1.25), (1.25, 3.0), (3661.5, 3662.0)]


def test_srt_round_trip_and_time_format():
    segs = [Segment(59.9996, 61.0, "rounds up"), Segment(-1.0, -0.5, "negative"), Segment(10.0, 9.0, "backwards")]
    srt = to_srt(segs)
    assert srt.splitlines()[:3] == ["1", "00:01:00.000 --> 00:01:01.000".replace(".", ","), "rounds up"]
    back = parse_srt(srt)
    assert texts(back) == ["rounds up", "negative", "backwards"]
    assert [(s.start, s.end) for s in back] == [(60.0, 61.0), (0.0, 0.0), (10.0, 10.0)]
    assert parse_srt(to_srt(parse_srt(SRT))) == parse_srt(SRT)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "utf-16"])
def test_read_subtitle_file_encodings(tmp_path, encoding):
    path = tmp_path / "clip.srt"
    path.write_bytes(SRT.encode(encoding))
    assert texts(read_subtitle_file(path)) == texts(parse_srt(SRT))


def test_read_subtitle_file_detects_vtt_and_errors(tmp_path):
    vtt = tmp_path / "captions.txt"
    vtt.write_text(VTT, encoding="utf-8")
    assert len(read_subtitle_file(vtt)) == 3  # told by content, not by name
    empty = tmp_path / "empty.srt"
    empty.write_text("\n\n")
    assert read_subtitle_file(empty) == []
    junk = tmp_path / "junk.srt"
    junk.write_text("これは字幕ではない\n")
    with pytest.raises(MediaError, match=r"^junk\.srt: no subtitle cues found"):
        read_subtitle_file(junk)
    with pytest.raises(MediaError, match=r"^missing\.vtt: file not found$"):
        read_subtitle_file(tmp_path / "missing.vtt")
