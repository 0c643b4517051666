"""How times and snippets are written (kb.timecodes, web.formatting) and how search parameters are read (web.data);
moments' addresses are tested in test_urls.py."""

from __future__ import annotations

import pytest
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from kb.timecodes import clock, time_range
from web.data import BadRequest, parse_search
from web.formatting import plain_snippet, snippet


def test_clock_and_time_range():
    assert clock(None) == "" and clock(0) == "00:00" and clock(135.9) == "02:15"
    assert clock(3725) == "1:02:05"
    assert time_range(135, 168.2) == "02:15–02:48"
    assert time_range(135, None) == "02:15" and time_range(135, 135.4) == "02:15" and time_range(None, 4) == ""


def test_snippet_keeps_only_the_engines_marks_and_escapes_the_rest():
    marked = "&lt;script&gt;x&lt;/script&gt; 旋盤の<mark>びびり</mark>を &amp; 抑える"
    out = snippet(marked)
    assert isinstance(out, Markup)
    assert str(out) == "&lt;script&gt;x&lt;/script&gt; 旋盤の<mark>びびり</mark>を &amp; 抑える"
    assert plain_snippet(marked) == "<script>x</script> 旋盤のびびりを & 抑える"


def test_snippet_is_a_window_around_the_first_match():
    text = "あ" * 300 + "<mark>旋盤</mark>" + "い" * 300
    out = str(snippet(text, before=10, length=40))
    assert out.startswith("…" + "あ" * 10 + "<mark>旋盤</mark>") and out.endswith("…")
    assert len(plain_snippet(text, before=10, length=40)) == 42  # 40 characters and two ellipses
    assert str(snippet("短い文")) == "短い文"


def test_snippet_without_marks_starts_at_the_beginning():
    assert str(snippet("a" * 500, length=50)) == "a" * 50 + "…"


def test_parse_search_reads_filters_and_bounds_the_limit():
    req = parse_search(
        MultiDict(
            [
                ("q", "  溶接  "),
                ("technique", "溶接"),
                ("kind", "video"),
                ("tag", "TIG"),
                ("tag", "ステンレス"),
                ("limit", "500"),
                ("language", ""),
            ]
        )
    )
    assert req.query == "溶接" and req.technique == "溶接" and req.kind == "video" and req.language is None
    assert req.tags == ["TIG", "ステンレス"] and req.limit == 50 and req.has_filters
    assert parse_search(MultiDict({"q": "x" * 1000})).query == "x" * 300
    assert not parse_search(MultiDict()).has_filters


@pytest.mark.parametrize(
    "args, message", [({"kind": "film"}, "kind"), ({"mode": "x"}, "mode"), ({"limit": "ten"}, "limit")]
)
def test_parse_search_refuses_bad_values_with_a_clear_message(args, message):
    with pytest.raises(BadRequest, match=message):
        parse_search(MultiDict(args))


def test_snippet_keeps_the_spaces_around_marked_english_words():
    out = str(snippet("I weld <mark>thin</mark> <mark>stainless</mark>   sheet  "))
    assert out == "I weld <mark>thin</mark> <mark>stainless</mark> sheet"
