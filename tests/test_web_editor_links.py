"""Issue 14, items 2, 7, 8 and 13, on a private copy of the demo knowledge base (real pipeline, real server,
Debian's Chromium): the transcript editor you can hear, a written passage's share link / QR code / card that
keep ?c=, QR pages that say when no phone can open them, and the small things (the teachers page's heading,
the meister's name linking to the profile, links to 「誰に教われる?」, the API-token section on the
password page).  Flask-client checks first, then the browser ones (one server for all)."""

from __future__ import annotations

import re

import pytest

from helpers.web import CHROMIUM, LATHE_VIDEO

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
LAN = "http://192.168.1.10:5000"
NEW_PASSWORD = "first-login-pass-1"


@pytest.fixture(scope="module")
def kb(own):
    """(app, conn, ids): ids of the lathe video, a written (Markdown) procedure and one of its later passages."""
    app, conn = own
    video = conn.execute("SELECT id FROM recordings WHERE title = ?", (LATHE_VIDEO,)).fetchone()
    doc = conn.execute("""SELECT r.id FROM recordings r JOIN meisters m ON m.id = r.meister_id
                          WHERE r.kind = 'document' AND r.format = 'md' AND m.name = '田中 一郎' AND r.status = 'done'
                          ORDER BY r.id LIMIT 1""").fetchone()[0]
    chunk = conn.execute("SELECT id FROM chunks WHERE recording_id = ? ORDER BY idx DESC LIMIT 1", (doc,)).fetchone()[0]
    other = conn.execute("SELECT id FROM chunks WHERE recording_id != ? LIMIT 1", (doc,)).fetchone()[0]
    return app, conn, {"video": video[0] if video else None, "doc": doc, "chunk": chunk, "other_chunk": other}


def main_of(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


# ---------------------------------------------------------------- item 7: a passage keeps its place


def test_a_passage_link_qr_code_and_card_keep_the_passage(kb, as_role):
    from web.qr import qr_svg

    app, conn, ids = kb
    doc, chunk = ids["doc"], ids["chunk"]
    client, _ = as_role("apprentice")
    page = client.get(f"/r/{doc}?c={chunk}").get_data(as_text=True)
    link = re.search(r'id="share-link"[^>]*value="([^"]+)"', page).group(1)
    assert link.startswith(f"http://localhost/r/{doc}?") and f"c={chunk}" in link and link.endswith(f"#c-{chunk}")
    assert re.search(rf'id="share-qr"[^>]*src="/r/{doc}/qr\.svg\?(page=\d+&amp;)?c={chunk}"', page)
    card_href = re.search(r'id="print-link" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert card_href.startswith(f"/r/{doc}/print?") and f"c={chunk}" in card_href
    assert f'id="c-{chunk}" class="passage target"' in page
    # the QR code encodes exactly the shared link
    qr = client.get(f"/r/{doc}/qr.svg?c={chunk}")
    assert qr.status_code == 200 and qr.data == qr_svg(link)
    # the card: the passage's text, its link, its QR code and the way back to the passage
    card = client.get(card_href, headers={"Accept": "application/json"}).get_json()
    text = conn.execute("SELECT text FROM chunks WHERE id = ?", (chunk,)).fetchone()[0]
    assert card["link"] == link and card["passage"] == chunk and card["text"] == text[:200]
    html = client.get(card_href).get_data(as_text=True)
    assert f"c={chunk}" in re.search(r'class="qr-big" src="([^"]+)"', html).group(1)
    assert f'#c-{chunk}"' in re.search(r'href="(/r/{}[^"]*)">'.format(doc), html).group(0)
    # a passage of another recording is not carried into this one's link
    page = client.get(f"/r/{doc}?c={ids['other_chunk']}").get_data(as_text=True)
    assert re.search(r'id="share-link"[^>]*value="([^"]+)"', page).group(1) == f"http://localhost/r/{doc}"
    assert client.get(f"/r/{doc}/qr.svg?c={ids['other_chunk']}").data == qr_svg(f"http://localhost/r/{doc}")


def test_videos_keep_their_time(kb, as_role):
    app, conn, ids = kb
    if ids["video"] is None:
        pytest.skip("demo videos not built")
    client, _ = as_role("apprentice")
    page = client.get(f"/r/{ids['video']}?t=24&c={ids['chunk']}").get_data(as_text=True)
    assert f'value="http://localhost/r/{ids["video"]}?t=24"' in page
    assert f'src="/r/{ids["video"]}/qr.svg?t=24"' in page


# ---------------------------------------------------------------- item 8: QR codes a phone can open


def test_qr_pages_say_when_phones_cannot_open_the_code(kb, as_role, users):
    from helpers.web import session_client
    from web.app import create_app
    from web.qr import qr_svg

    app, conn, ids = kb
    doc, chunk = ids["doc"], ids["chunk"]
    client, _ = as_role("apprentice")
    for url in (f"/r/{doc}?c={chunk}", f"/r/{doc}/print?c={chunk}", "/help/recording"):  # the guide's PDF has one
        page = client.get(url).get_data(as_text=True)
        notice = re.search(r'data-testid="qr-unreachable">(.*?)</div>', page, re.S).group(1)
        assert "http://localhost" in notice and "kb serve --host 0.0.0.0" in notice
        assert "--public-url" in notice and "KB_PUBLIC_URL" in notice and "スマホ" in notice
    # opened from the workshop network: the page's own address is one a phone reaches
    from web.auth import SESSION_COOKIE

    phone = app.test_client()
    phone.set_cookie(SESSION_COOKIE, client.get_cookie(SESSION_COOKIE).value, domain="192.168.1.10")
    page = phone.get(f"/r/{doc}", base_url="http://192.168.1.10:5000").get_data(as_text=True)
    assert 'data-testid="qr-unreachable"' not in page and f'value="{LAN}/r/{doc}"' in page
    # a public address set (kb serve --public-url, or found by kb serve --host 0.0.0.0): no notice, codes carry it
    lan_app = create_app({"KB_CONFIG": app.config["KB_CONFIG"], "TESTING": True, "PUBLIC_URL": LAN})
    lan = session_client(lan_app, users["apprentice"][0])
    for url in (f"/r/{doc}?c={chunk}", f"/r/{doc}/print?c={chunk}", "/help/recording"):
        assert 'data-testid="qr-unreachable"' not in lan.get(url).get_data(as_text=True)
    link = lan.get(f"/r/{doc}/print?c={chunk}", headers={"Accept": "application/json"}).get_json()["link"]
    assert link.startswith(f"{LAN}/r/{doc}") and lan.get(f"/r/{doc}/qr.svg?c={chunk}").data == qr_svg(link)
    lan_app.extensions["search_service"].close()


# ---------------------------------------------------------------- item 13: small things


def test_who_can_teach_prints_its_heading_once(kb, as_role):
    client, _ = as_role("apprentice")
    for url in ("/meisters/teach", "/meisters/teach?q=旋盤のびびり"):
        main = main_of(client.get(url).get_data(as_text=True))
        assert main.count("誰に教われる?") == 1, url
        assert "何を教わりたいですか?" in main


def test_recording_page_links_the_meister_and_who_can_teach(kb, as_role):
    app, conn, ids = kb
    client, _ = as_role("apprentice")
    doc = ids["doc"]
    meister_id, technique = conn.execute("SELECT meister_id, technique FROM recordings WHERE id = ?", (doc,)).fetchone()
    page = client.get(f"/r/{doc}").get_data(as_text=True)
    assert re.search(rf'<a href="/meisters/{meister_id}" data-testid="meister-link">田中 一郎</a>', page)
    assert client.get(f"/meisters/{meister_id}").status_code == 200
    teach = re.search(r'data-testid="teach-link" href="([^"]+)"', page).group(1)
    assert teach.startswith("/meisters/teach?q=") and technique in _unquote(teach)
    page = client.get(f"/r/{doc}?q=びびりを止めるには").get_data(as_text=True)
    assert "びびりを止めるには" in _unquote(re.search(r'data-testid="teach-link" href="([^"]+)"', page).group(1))
    twin = client.get(f"/r/{doc}", headers={"Accept": "application/json"}).get_json()
    assert twin["meister_url"] == f"/meisters/{meister_id}"


def test_search_results_link_to_who_can_teach_the_same_question(kb, as_role):
    client, _ = as_role("apprentice")
    for query in ("長い軸を削るときのびびり", "zzzz qqqq"):
        page = client.get("/search", query_string={"q": query}).get_data(as_text=True)
        links = re.findall(r'href="([^"]+)" data-testid="teach-link"', page)
        assert links and all(_unquote(h) == f"/meisters/teach?q={query}" for h in links), (query, links)


def _unquote(href: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(href.replace("&amp;", "&"))


def test_api_tokens_are_shown_to_those_who_use_them(kb, as_role):
    from helpers.web import session_client
    from kb import users as accounts

    app, conn, _ = kb
    accounts.create_user(conn, "guides-first", NEW_PASSWORD, "apprentice", must_change_password=True)
    accounts.create_user(conn, "guides-meister-first", NEW_PASSWORD, "meister", must_change_password=True)
    first = session_client(app, "guides-first").get("/account?must_change=1").get_data(as_text=True)
    assert "Authorization: Bearer" not in first and 'data-testid="tokens-link"' not in first
    assert 'name="new_password"' in first
    assert "Authorization: Bearer" not in session_client(app, "guides-meister-first").get("/account").get_data(
        as_text=True
    )  # nobody meets tokens on the first-login page
    # an apprentice with no token of his own (the shared demo apprentice may have made one in another test)
    accounts.create_user(conn, "guides-plain", NEW_PASSWORD, "apprentice")
    apprentice = session_client(app, "guides-plain")
    page = apprentice.get("/account").get_data(as_text=True)
    assert "Authorization: Bearer" not in page and 'data-testid="tokens-link"' in page  # reachable, not in the way
    assert "Authorization: Bearer" in apprentice.get("/account?tokens=1").get_data(as_text=True)
    for role in ("meister", "coordinator", "admin"):
        client, _ = as_role(role)
        assert "Authorization: Bearer" in client.get("/account").get_data(as_text=True), role
    # an apprentice who made a token keeps seeing the section (to revoke it)
    client, token = as_role("apprentice")
    made = client.post("/account/tokens", data={"csrf_token": token, "name": "端末"})
    assert made.status_code == 200 and "Authorization: Bearer" in made.get_data(as_text=True)
    assert "端末" in client.get("/account").get_data(as_text=True)


# ---------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def server(kb):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found")
    from web.serve import background_server

    with background_server(kb[0]) as running:
        yield running.url


@pytest.fixture
def browser(playwright, server, users):
    """open(login_key_or_(login, password), **context) -> a logged-in page; console errors fail the test."""
    from helpers.web import open_logged_in

    contexts, errors = [], []

    def open_as(who, **options):
        login, password = users[who] if isinstance(who, str) else who
        context, page = open_logged_in(playwright, server, login, password, errors, **(options or DESKTOP))
        contexts.append(context)
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert errors == []


WAIT_PLAYING = """([lo, hi]) => { const p = document.getElementById('editor-player');
  return !p.paused && p.currentTime >= lo && p.currentTime <= hi; }"""
WAIT_STOPPED = """([lo, hi]) => { const p = document.getElementById('editor-player');
  return p.paused && p.currentTime >= lo && p.currentTime <= hi; }"""


def line_times(page, n: int) -> tuple[float, float]:
    li = page.locator("[data-testid=editor-line]").nth(n)
    return float(li.locator("input[name=start]").input_value()), float(li.locator("input[name=end]").input_value())


def test_the_editor_plays_the_line_being_corrected(kb, server, browser):
    app, conn, ids = kb
    if ids["video"] is None:
        pytest.skip("demo videos not built")
    page = browser("coordinator")
    page.goto(f"{server}/r/{ids['video']}")
    page.locator("[data-testid=edit-transcript]").click()
    page.wait_for_selector("#transcript-editor[data-ready='1']")
    page.wait_for_function("() => document.getElementById('editor-player').readyState >= 1")
    shown = page.eval_on_selector_all(
        "[data-testid=line-start], [data-testid=line-end]", "els => els.map(e => e.value)"
    )
    assert shown and all(re.fullmatch(r"\d\d:\d\d", v) for v in shown), shown  # 00:05, never 5.06
    keys = page.locator("[data-testid=editor-keys]").inner_text()
    assert "Esc" in keys and "Alt" in keys and "R" in keys
    # the player sits beside the lines on a PC
    player, lines = page.locator(".editor-player").bounding_box(), page.locator("#editor-lines").bounding_box()
    assert player["x"] + player["width"] <= lines["x"] and player["y"] < lines["y"] + 200

    # a click on a line's text plays that line from its start, and stops at its end
    start, end = line_times(page, 2)
    page.locator("[data-testid=line-text]").nth(2).click()
    page.wait_for_function(WAIT_PLAYING, arg=[start - 0.05, end])
    assert "speaking" in page.locator("[data-testid=editor-line]").nth(2).get_attribute("class")
    page.wait_for_function(WAIT_STOPPED, arg=[end - 0.5, end + 0.8], timeout=30000)
    # Esc plays on and pauses, while the caret stays in the text
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('editor-player').paused")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.getElementById('editor-player').paused")
    assert page.evaluate("document.activeElement.id") == "line-text-3"
    # Alt+R: the current line again from its start
    page.evaluate("() => { document.getElementById('editor-player').currentTime = 0; }")
    page.keyboard.press("Alt+r")
    page.wait_for_function(WAIT_PLAYING, arg=[start - 0.05, end])
    # the ▶ button of another line plays that one
    start5, end5 = line_times(page, 4)
    page.locator("[data-testid=line-play]").nth(4).click()
    page.wait_for_function(WAIT_PLAYING, arg=[start5 - 0.05, end5])
    # retyping a shown time changes the line's exact time; leaving it keeps the exact one
    box = page.locator("[data-testid=line-end]").nth(4)
    box.fill("99:99")
    assert page.evaluate("() => !document.querySelectorAll('[data-testid=line-end]')[4].checkValidity()")
    box.fill(f"{int(end5) // 60:02d}:{int(end5) % 60:02d}")
    assert line_times(page, 4) == (start5, end5)
    page.evaluate("() => document.getElementById('editor-player').pause()")


def test_the_editor_on_a_phone_has_finger_sized_controls(kb, server, browser):
    app, conn, ids = kb
    if ids["video"] is None:
        pytest.skip("demo videos not built")
    page = browser("coordinator", **PHONE)
    page.goto(f"{server}/r/{ids['video']}/transcript/edit")
    page.wait_for_selector("#transcript-editor[data-ready='1']")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    sizes = page.eval_on_selector_all(
        "[data-testid=editor-line] :is(button, textarea, input:not([type=hidden]))",
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [e.name || e.dataset.action, r.width, r.height]; })",
    )
    assert sizes and all(h >= 44 for _, _, h in sizes), [s for s in sizes if s[2] < 44][:5]
    assert all(w >= 300 for name, w, _ in sizes if name == "text")  # a comfortable text box
    # the player stays on screen while a line further down is corrected, and a tap plays that line
    start, end = line_times(page, 6)
    page.locator("[data-testid=line-text]").nth(6).tap()
    page.wait_for_function(WAIT_PLAYING, arg=[start - 0.05, end])
    box = page.locator("#editor-player").bounding_box()
    assert box["y"] >= -1 and box["y"] + box["height"] <= 740
    page.evaluate("() => document.getElementById('editor-player').pause()")


def test_a_passage_opened_from_its_link_and_its_card_keeps_its_place(kb, server, browser):
    app, conn, ids = kb
    doc, chunk = ids["doc"], ids["chunk"]
    page = browser("apprentice")
    page.goto(f"{server}/r/{doc}?c={chunk}#c-{chunk}")
    target = page.locator(f"#c-{chunk}")
    assert "target" in target.get_attribute("class") and target.is_visible()
    assert page.evaluate(
        f"() => {{ const r = document.getElementById('c-{chunk}').getBoundingClientRect(); "
        "return r.top >= 0 && r.top < window.innerHeight; }"
    )
    link = page.locator("#share-link").input_value()
    assert link.startswith(f"{server}/r/{doc}?") and f"c={chunk}" in link and link.endswith(f"#c-{chunk}")
    assert f"c={chunk}" in page.locator("#share-qr").get_attribute("src")
    notice = page.locator("[data-testid=qr-unreachable]")
    assert notice.is_visible() and "127.0.0.1" in notice.inner_text() and "--public-url" in notice.inner_text()
    page.locator("#print-link").click()
    page.wait_for_url(re.compile(rf"/r/{doc}/print\?.*c={chunk}"))
    assert page.locator(".qr-url").inner_text() == link
    assert page.locator("[data-testid=qr-unreachable]").is_visible()
    page.get_by_text("記録に戻る").click()
    page.wait_for_url(re.compile(rf"/r/{doc}\?.*c={chunk}#c-{chunk}$"))
    assert "target" in page.locator(f"#c-{chunk}").get_attribute("class")


def test_written_documents_offer_no_transcript_editor(kb, server, browser):
    app, conn, ids = kb
    page = browser("meister")
    page.goto(f"{server}/r/{ids['doc']}")
    assert page.locator("[data-testid=edit-transcript]").count() == 0
    page.goto(f"{server}/studio")
    row = page.locator(f"tr:has(a[href='/studio/r/{ids['doc']}/edit'])")
    assert row.count() == 1 and row.get_by_text("文字起こしを直す").count() == 0
    if ids["video"] is not None:
        video_row = page.locator(f"tr:has(a[href='/studio/r/{ids['video']}/edit'])")
        assert video_row.get_by_text("文字起こしを直す").count() == 1


def test_small_things_in_the_browser(kb, server, browser, playwright):
    from helpers.web import launch_chromium

    app, conn, ids = kb
    page = browser("apprentice")
    page.goto(f"{server}/meisters/teach?q=旋盤")
    assert page.locator("main").get_by_text("誰に教われる?", exact=True).count() == 1
    page.goto(f"{server}/r/{ids['doc']}")
    page.locator("[data-testid=teach-link]").click()
    page.wait_for_url(re.compile(r"/meisters/teach\?q="))
    page.goto(f"{server}/r/{ids['doc']}")
    page.locator("[data-testid=meister-link]").click()
    page.wait_for_url(re.compile(r"/meisters/\d+$"))
    assert "田中 一郎" in page.locator("h1").inner_text()

    # a new apprentice's first login: the password page, without the API-token section
    from kb import users as accounts

    accounts.create_user(conn, "guides-newbie", NEW_PASSWORD, "apprentice", must_change_password=True)
    context = launch_chromium(playwright, locale="ja-JP", **DESKTOP)
    try:
        first = context.new_page()
        first.goto(server + "/login")
        first.fill("#login", "guides-newbie")
        first.fill("#password", NEW_PASSWORD)
        first.click("form.stack-form button[type=submit]")
        first.wait_for_url(re.compile(r"/account\?must_change=1"))
        text = first.locator("main").inner_text()
        assert "Authorization: Bearer" not in text and "APIトークン" not in text
        assert first.locator("#new_password").is_visible()
    finally:
        context.close()
