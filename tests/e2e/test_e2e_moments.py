"""Moving inside a video in a real headless Chromium (issue 13): chapters and timeline marks, the passages a
search matched with next/previous, the search box inside the transcript, a moment with an end that stops,
and ?t= links that highlight the line starting in that second.

Queries are made from the recording's own transcript (read through the API), not from the demo's wording."""

from __future__ import annotations

import re

import pytest

from helpers.web import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
)

VIDEO_TITLE = "旋盤:長い軸のびびり対策(実演)"


@pytest.fixture(scope="module")
def server(shared_data):
    from helpers.web import demo_home, demo_users, session_client
    from web.app import create_app
    from web.serve import background_server

    home = demo_home()
    app = create_app({"KB_HOME": str(home)})
    login, password = demo_users(home)["apprentice"]
    client = session_client(app, login)
    found = [
        r
        for g in client.get("/api/v1/recordings").get_json()["techniques"]
        for r in g["recordings"]
        if r["kind"] == "video" and r["title"] == VIDEO_TITLE
    ]
    if not found:
        pytest.skip("demo videos not built: espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    video = client.get(f"/api/v1/recordings/{found[0]['id']}").get_json()
    with background_server(app) as running:
        yield running.url, login, password, video


@pytest.fixture
def page(playwright, server):
    from helpers.web import browser_login, launch_chromium

    url, login, password, _ = server
    context = launch_chromium(playwright, locale="ja-JP", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.set_default_timeout(20000)
    browser_login(page, url, login, password)
    yield page
    context.close()


def words_of(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{5,}|[\u4e00-\u9fff\u30a0-\u30ff]{2,}", text)


def now(page) -> float:
    return page.evaluate("() => document.getElementById('player').currentTime")


def test_chapters_timeline_and_search_matches_with_next_and_previous(page, server):
    url, _, _, video = server
    segments = video["segments"]
    later = next(s for s in segments[len(segments) // 2 :] + segments if words_of(s["text"]))  # one with words
    query = " ".join(words_of(later["text"])[:3])
    page.goto(f"{url}/r/{video['id']}?t=0&q={query}")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.evaluate("() => { const v = document.getElementById('player'); v.muted = true; v.pause(); }")
    # chapters beside the player, one per moment, and their marks on the timeline
    assert page.locator("#chapters li").count() == len(video["moments"]) >= 2
    assert page.locator("#timeline .tl-chapter").count() == len(video["moments"])
    assert page.eval_on_selector_all("#timeline .tl-chapter", "els => els.every(e => e.style.left !== '')")
    # the passages the search matched: on the timeline and in the transcript, the question's words marked
    matches = page.eval_on_selector_all("#timeline .tl-match", "els => els.map(e => parseFloat(e.dataset.start))")
    assert matches
    assert page.locator("#transcript li.match").count() >= 1
    assert page.locator("#transcript li.match mark").count() >= 1
    # next / previous step through the matched passages
    page.click("#match-next")
    page.wait_for_function(
        "t => Math.abs(document.getElementById('player').currentTime - t) < 0.6",
        arg=sorted(m for m in matches if m > 0.5)[0] if any(m > 0.5 for m in matches) else matches[0],
    )
    page.evaluate("() => document.getElementById('player').pause()")
    page.click("#match-prev")
    page.wait_for_function(
        "ts => ts.some(t => Math.abs(document.getElementById('player').currentTime - t) < 0.6)", arg=matches
    )
    # a chapter click seeks to it
    chapter = page.locator("#chapters a").nth(1)
    start = float(chapter.get_attribute("data-start"))
    chapter.click()
    page.wait_for_function("t => Math.abs(document.getElementById('player').currentTime - t) < 0.6", arg=start)
    assert page.errors == []


def test_search_inside_the_transcript(page, server):
    url, _, _, video = server
    last = video["segments"][-1]
    word = words_of(last["text"])[-1]
    page.goto(f"{url}/r/{video['id']}")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.evaluate("() => { const v = document.getElementById('player'); v.muted = true; v.pause(); }")
    page.fill("#transcript-search", word)
    page.wait_for_selector("#transcript li.found mark")
    found = page.eval_on_selector_all("#transcript li.found a", "els => els.map(e => parseFloat(e.dataset.start))")
    assert last["start"] in found
    assert page.locator("#transcript-count").inner_text().strip()
    page.click("#find-next")
    page.wait_for_function(
        "ts => ts.some(t => Math.abs(document.getElementById('player').currentTime - t) < 0.6)", arg=found
    )
    page.fill("#transcript-search", "ｚｚｚ存在しない語ｚｚｚ")
    page.wait_for_function("() => document.querySelectorAll('#transcript li.found').length === 0")
    assert page.locator("#transcript-count").inner_text().strip()  # "not in the transcript"
    assert page.errors == []


def test_a_moment_with_an_end_stops_there_and_offers_to_continue(page, server):
    url, _, _, video = server
    seg = video["segments"][1]
    start, end = int(seg["start"]), int(seg["start"]) + 2
    page.goto(f"{url}/r/{video['id']}?t={start}&end={end}")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.evaluate("() => { const v = document.getElementById('player'); v.muted = true; v.play(); }")
    page.wait_for_selector("#moment-end:not([hidden])", timeout=30000)
    assert page.evaluate("() => document.getElementById('player').paused")
    assert end - 0.1 <= now(page) <= end + 1.5
    page.click("#moment-continue")
    page.wait_for_function(f"() => document.getElementById('player').currentTime > {end + 0.5}", timeout=30000)
    assert page.locator("#moment-end").is_hidden()
    assert page.errors == []


def test_a_link_to_a_second_highlights_the_line_that_starts_in_it(page, server):
    url, _, _, video = server
    segs = video["segments"]
    for prev, line in zip(segs, segs[1:]):
        if int(line["start"]) != line["start"] and int(prev["start"]) < int(line["start"]):
            break
    else:
        pytest.skip("no line starting inside a second")
    page.goto(f"{url}/r/{video['id']}?t={int(line['start'])}")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.evaluate("() => document.getElementById('player').pause()")
    current = page.locator("#transcript li.current a")
    page.wait_for_function(
        "t => { const a = document.querySelector('#transcript li.current a'); return a && parseFloat(a.dataset.start) === t; }",
        arg=line["start"],
    )
    assert float(current.get_attribute("data-start")) == line["start"]
    assert page.errors == []
