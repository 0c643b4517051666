"""The transcript editor in a real headless Chromium against the real server, driven by keyboard only.

A fresh knowledge base (jfk.flac through Whisper, and a timed lesson from a
subtitle file, both through the real pipeline and the real embedders).  The
meister opens the editor from the recording page, splits a line where the
cursor is (Ctrl+Enter), merges two lines, names a speaker, corrects a word and
saves, all without the mouse; the server then holds exactly that, and an
apprentice finds the new word with the search box.  Splitting a line that has
word timings cuts at a word's start.  A save based on an old version shows the
conflict and keeps every edit on the page.  Console errors (CSP violations
show up there) fail the tests.
"""

from __future__ import annotations

import re

import pytest

from helpers.web import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
)

PASSWORD = "editor-pass-123"
MEISTER = "田中 一郎"
LESSON = [
    "最初に主軸を止めて刃物台を下げる。",
    "次にバイトを交換する。ここで高さを合わせる。",
    "芯高はゲージで確かめる。",
    "最後に試し削りをする。",
    "寸法を測って記録する。",
]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def _srt(lines):
    return "\n".join(
        f"{n + 1}\n00:00:{n * 6:02d},000 --> 00:00:{n * 6 + 5:02d},000\n{t}\n" for n, t in enumerate(lines)
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory, jfk):
    from ingest.pipeline import Ingestor
    from kb import users
    from kb.home import init_home
    from kb.recordings import RecordingMeta
    from kb.settings import load_config
    from web.app import create_app
    from web.serve import background_server

    home = tmp_path_factory.mktemp("e2e-editor") / "kb"
    config = load_config(home=home)
    conn = init_home(config)
    users.create_user(conn, "tanaka", PASSWORD, "meister", display_name=MEISTER, meister=MEISTER)
    users.create_user(conn, "deshi", PASSWORD, "apprentice")
    users.create_user(conn, "coord", PASSWORD, "coordinator")
    srt = tmp_path_factory.mktemp("files") / "段取り.srt"
    srt.write_text(_srt(LESSON), encoding="utf-8")
    ingestor = Ingestor(config, conn)
    ids = {}
    for key, path, meta in (
        ("lesson", srt, RecordingMeta(title="バイト交換の段取り", meister=MEISTER)),
        ("speech", jfk, RecordingMeta(title="speech", meister=MEISTER, language="en")),
    ):
        result = ingestor.ingest_file(path, meta)
        assert result.status == "added", result.message
        ids[key] = result.recording_id
    app = create_app({"KB_CONFIG": config})
    with background_server(app) as running:
        yield running.url, config, conn, ids
    conn.close()


@pytest.fixture
def open_page(playwright):
    from helpers.web import launch_chromium

    contexts, errors = [], []

    def make(url, login):
        from helpers.web import browser_login

        context = launch_chromium(playwright, locale="ja-JP", **DESKTOP)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(20000)
        browser_login(page, url, login, PASSWORD)
        return page

    make.errors = errors
    yield make
    for context in contexts:
        context.close()
    assert errors == []


def texts(page) -> list[str]:
    boxes = page.locator("[data-testid=line-text]")
    return [boxes.nth(i).input_value() for i in range(boxes.count())]


def field_values(page, testid: str) -> list[float]:
    """The lines' exact start or end seconds (hidden fields; the page shows them as 01:05 in line-start/-end)."""
    name = {"line-start": "start", "line-end": "end"}[testid]
    boxes = page.locator(f"[data-testid=editor-line] input[name={name}]")
    shown = page.locator(f"[data-testid={testid}]")
    values = [float(boxes.nth(i).input_value()) for i in range(boxes.count())]
    clocks = [shown.nth(i).input_value() for i in range(shown.count())]
    assert clocks == [f"{int(v) // 60:02d}:{int(v) % 60:02d}" for v in values]  # shown as mm:ss, never 5.06
    return values


def focus_by_tab(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus (keyboard only, as a user would)."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def open_editor(page, url, rid):
    page.goto(f"{url}/r/{rid}")
    focus_by_tab(page, "[data-testid=edit-transcript]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/r/{rid}/transcript/edit$"))
    page.wait_for_selector("#transcript-editor[data-ready='1']")


def test_meister_corrects_a_transcript_by_keyboard_and_an_apprentice_finds_it(site, open_page):
    url, config, conn, ids = site
    rid = ids["lesson"]
    page = open_page(url, "tanaka")
    open_editor(page, url, rid)
    assert texts(page) == LESSON

    # Split line 2 after "次にバイトを交換する。" with the caret put there by keys, then Ctrl+Enter.
    focus_by_tab(page, "#line-text-2")
    page.keyboard.press("Control+Home")
    for _ in range(len("次にバイトを交換する。")):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Control+Enter")
    assert texts(page)[1:3] == ["次にバイトを交換する。", "ここで高さを合わせる。"]
    starts, ends = field_values(page, "line-start"), field_values(page, "line-end")
    assert ends[1] == starts[2] and 6.0 < starts[2] < 11.0  # cut in proportion to the characters
    assert page.locator("[data-testid=editor-line]").nth(2).get_attribute("aria-label").endswith(
        "3"
    ) or "3" in page.locator("[data-testid=editor-line]").nth(2).get_attribute("aria-label")
    assert page.evaluate("document.activeElement.id") == "line-text-3"  # the focus follows the new line
    assert page.locator("[data-testid=editor-status]").inner_text().strip()  # announced

    # Merge line 4 (芯高は...) with line 5 (最後に...) with the line's button, by keyboard.
    focus_by_tab(page, "[data-testid=editor-line]:nth-child(4) [data-testid=line-merge]")
    page.keyboard.press("Enter")
    assert texts(page)[3] == "芯高はゲージで確かめる。最後に試し削りをする。"
    assert field_values(page, "line-end")[3] == 23.0

    # Name the speaker of line 1 and correct a word in the last line, then save with the keyboard.
    focus_by_tab(page, "[data-testid=editor-line]:nth-child(1) [data-testid=line-speaker]")
    page.keyboard.type(MEISTER)
    focus_by_tab(page, "[data-testid=editor-line]:nth-child(5) [data-testid=line-text]")
    page.keyboard.press("Control+End")
    page.keyboard.type("マイクロメーターを使う。")
    focus_by_tab(page, "[data-testid=editor-note]")
    page.keyboard.type("分割と結合")
    focus_by_tab(page, "[data-testid=editor-save]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"saved=2"))
    assert "2" in page.locator("[data-testid=editor-version]").inner_text()

    rows = conn.execute(
        "SELECT start, end, text, speaker FROM segments WHERE recording_id = ? ORDER BY idx", (rid,)
    ).fetchall()
    assert [r["text"] for r in rows] == [
        "最初に主軸を止めて刃物台を下げる。",
        "次にバイトを交換する。",
        "ここで高さを合わせる。",
        "芯高はゲージで確かめる。最後に試し削りをする。",
        "寸法を測って記録する。マイクロメーターを使う。",
    ]
    assert rows[0]["speaker"] == MEISTER and rows[1]["end"] == rows[2]["start"]
    (note,) = conn.execute("SELECT note FROM transcript_versions WHERE recording_id = ?", (rid,)).fetchone()
    assert note == "分割と結合"

    reader = open_page(url, "deshi")
    reader.goto(url + "/")
    reader.fill("#q", "マイクロメーター")
    reader.press("#q", "Enter")
    reader.wait_for_selector(".hit")
    assert "マイクロメーター" in reader.locator(".hit").first.inner_text()
    reader.goto(f"{url}/r/{rid}")
    assert "マイクロメーターを使う" in reader.locator("main").inner_text()
    assert reader.locator("[data-testid=edit-transcript]").count() == 0


def test_a_line_with_word_timings_is_split_at_a_word(site, open_page):
    url, config, conn, ids = site
    rid = ids["speech"]
    segs = conn.execute(
        "SELECT idx, start, end, text, words FROM segments WHERE recording_id = ? ORDER BY idx", (rid,)
    ).fetchall()
    import json

    n, seg = next((i, s) for i, s in enumerate(segs) if s["words"] and len(json.loads(s["words"])) > 3)
    words = json.loads(seg["words"])
    page = open_page(url, "tanaka")
    open_editor(page, url, rid)
    box = page.locator("[data-testid=line-text]").nth(n)
    box.focus()
    middle = len(seg["text"]) // 2
    box.evaluate("(el, pos) => el.setSelectionRange(pos, pos)", middle)
    page.locator("[data-testid=line-split]").nth(n).press("Enter")
    cut = field_values(page, "line-start")[n + 1]
    assert cut in [round(w[1], 2) for w in words[1:]], (cut, words)
    left, right = texts(page)[n : n + 2]
    assert (left + " " + right).split() == seg["text"].split()


def test_a_conflicting_save_is_shown_and_nothing_typed_is_lost(site, open_page):
    url, config, conn, ids = site
    rid = ids["lesson"]
    page = open_page(url, "tanaka")
    open_editor(page, url, rid)
    version = page.locator("input[name=base_version]").input_value()

    other = open_page(url, "coord")
    open_editor(other, url, rid)
    other.locator("[data-testid=line-text]").nth(0).fill("コーディネーターが先に直した。")
    other.locator("[data-testid=editor-save]").press("Enter")
    other.wait_for_url(re.compile(r"saved="))

    page.locator("[data-testid=line-text]").nth(0).fill("マイスターの修正。")
    page.locator("[data-testid=editor-save]").press("Enter")
    status = page.locator("[data-testid=editor-status]")
    page.wait_for_selector("[data-testid=editor-status].is-error[role=alert]")
    assert "3" in status.inner_text()  # names the newer version (3: the lesson was saved once before)
    assert page.locator("[data-testid=line-text]").nth(0).input_value() == "マイスターの修正。"
    assert page.url.endswith("/transcript/edit") and page.locator("input[name=base_version]").input_value() == version
    first = conn.execute("SELECT text FROM segments WHERE recording_id = ? AND idx = 0", (rid,)).fetchone()[0]
    assert first == "コーディネーターが先に直した。"
    # Chromium logs the refused save's status; that one is expected, nothing else may be there
    expected = [e for e in open_page.errors if "status of 409" in e]
    assert len(expected) == 1
    open_page.errors.remove(expected[0])
