"""End to end in headless Chromium: a curriculum built from search results, assigned, learnt, signed off.

Over a private copy of the demo knowledge base, served by the real server:

1. the coordinator creates a curriculum, adds two moments from search results
   ("Add to curriculum"), and assigns it to two 本社 technicians;
2. technician 1 opens the first item from "my learning" with the connection
   to the server's progress address cut, plays it past the threshold (progress.js queues the event in
   localStorage), comes back online and loads a page: the queued event is
   sent and counted once; then marks the second item done;
3. technician 2 marks the first item done;
4. the meister signs off technician 1's second item;
5. the coordinator's skills matrix shows watched / signed off / done / not
   started, and its CSV opens with the Japanese text intact.

Console errors (CSP violations show up there) fail the test.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

import pytest

from helpers.web import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
)

TITLE = "E2E 旋盤の段取り教程"
PASSWORD = "curricula-pass-123"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="module")
def server(own, users):
    from kb import users as accounts
    from web.serve import background_server

    app, conn = own
    accounts.create_user(conn, "deshi2", PASSWORD, "apprentice", display_name="弟子 二郎")
    with background_server(app) as running:
        yield running, conn, users


def open_as(playwright, running, login: str, password: str, errors: list):
    from helpers.web import open_logged_in

    return open_logged_in(playwright, running.url, login, password, errors, **DESKTOP)


def states(conn, cid: int) -> dict[str, list[str]]:
    from kb import curricula_progress

    m = curricula_progress.matrix(conn, cid)
    return {r["user"]["login"]: [c["state"] for c in r["cells"]] for r in m["rows"]}


def test_build_assign_learn_sign_off_and_follow(server, playwright, tmp_path):
    running, conn, users = server
    errors: list[str] = []
    coord_login, coord_password = users["coordinator"]
    apprentice_login, apprentice_password = users["apprentice"]

    # 1. The coordinator builds the curriculum from two search results and assigns it.
    context, page = open_as(playwright, running, coord_login, coord_password, errors)
    page.click("nav.main-nav a[href='/curricula']")
    page.click("#new-curriculum")
    page.fill("#cur-title", TITLE)
    page.fill("#cur-goal", "NC旋盤の段取りを一人でできるようになる")
    page.click("#create-curriculum")
    page.wait_for_url(re.compile(r"/curricula/\d+$"))
    cid = int(page.url.rsplit("/", 1)[1])
    for n in range(2):
        page.goto(running.url + "/search?q=長い軸+びびり+旋盤&kind=video")
        if page.locator("details.weak-hits").count():  # the nearer-miss videos are folded below the answer
            page.locator("details.weak-hits summary").click()
        page.locator(".hit a.add-to-curriculum").nth(n).click()
        page.wait_for_url(re.compile(r"/curricula/add\?"))
        page.select_option("#add-curriculum", label=TITLE)
        page.fill("#add-note", f"{n + 1} 番目に見る")
        page.click("#add-submit")
        page.wait_for_url(re.compile(rf"/curricula/{cid}\?added=\d+"))
    assert page.locator("#cur-outline li.cur-item").count() == 2
    for login in (apprentice_login, "deshi2"):
        user_id = conn.execute("SELECT id FROM users WHERE login = ?", (login,)).fetchone()[0]
        page.select_option("#assign-target", value=f"user:{user_id}")
        page.fill("#assign-due", "2030-03-31")
        page.click("#assign-submit")
        page.wait_for_url(re.compile(rf"/curricula/{cid}"))
    assert page.locator(".cur-assignments li").count() == 2
    context.close()
    first, second = [
        row[0]
        for row in conn.execute("SELECT id FROM curriculum_items WHERE curriculum_id = ? ORDER BY position", (cid,))
    ]

    # 2. Technician 1 watches the first item offline, comes back online, marks the second done.
    context, page = open_as(playwright, running, apprentice_login, apprentice_password, errors)
    page.click("nav.main-nav a[href='/learning']")
    page.click(f".learning-card[data-curriculum='{cid}'] h2 a")
    page.wait_for_url(re.compile(rf"/learning/c/{cid}$"))
    page.click(f"#item-{first} a.learning-title")
    page.wait_for_selector("#learning-item")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.route("**/learning/events", lambda route: route.abort("internetdisconnected"))  # the connection drops
    page.evaluate(
        "() => { const p = document.getElementById('player'); p.muted = true; p.playbackRate = 16; return p.play(); }"
    )
    try:
        page.wait_for_selector("#learning-item[data-reported='1']", timeout=60000)
    except Exception:
        raise AssertionError(
            page.evaluate(
                "() => { const p = document.getElementById('player');"
                " return [p.currentTime, p.paused, p.readyState, p.error && p.error.code,"
                " document.getElementById('learning-item').dataset]; }"
            )
        ) from None
    page.evaluate("() => document.getElementById('player').pause()")
    queued = page.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('kb-progress-queue:'))"
        ".map(k => JSON.parse(localStorage.getItem(k))).flat()"
    )
    assert [e["kind"] for e in queued] == ["watched"] and queued[0]["fraction"] >= 0.8
    assert states(conn, cid)[apprentice_login] == ["not_started", "not_started"]  # nothing arrived yet
    page.unroute("**/learning/events")
    page.goto(running.url + f"/learning/c/{cid}")
    page.wait_for_function("() => document.documentElement.hasAttribute('data-progress-sent')")
    assert (
        page.evaluate(
            "() => JSON.parse(localStorage.getItem(Object.keys(localStorage)"
            ".find(k => k.startsWith('kb-progress-queue:'))))"
        )
        == []
    )
    assert states(conn, cid)[apprentice_login] == ["watched", "not_started"]
    page.reload()
    assert page.locator(f"#item-{first}").get_attribute("data-state") == "watched"
    page.click(f"#item-{second} button.mark-done")
    page.wait_for_selector(f"#item-{second}[data-state='done']")
    assert (
        conn.execute(
            "SELECT COUNT(*) FROM progress_events WHERE item_id = ? AND kind = 'watched'", (first,)
        ).fetchone()[0]
        == 1
    )
    context.close()

    # 3. Technician 2 marks the first item done.
    context, page = open_as(playwright, running, "deshi2", PASSWORD, errors)
    page.goto(running.url + f"/learning/c/{cid}")
    page.click(f"#item-{first} button.mark-done")
    page.wait_for_selector(f"#item-{first}[data-state='done']")
    context.close()

    # 4. The meister signs off technician 1's second item.
    meister_login, meister_password = users["meister"]
    context, page = open_as(playwright, running, meister_login, meister_password, errors)
    page.click("nav.main-nav a[href='/learning']")
    page.click("#open-signoff")
    row = page.locator(f".signoff-item[data-user='{apprentice_login}'][data-item='{second}']")
    row.locator("input[name=comment]").fill("一人で段取りできた")
    row.locator("button.sign-off").click()
    page.wait_for_url(re.compile(r"/learning/signoff\?signed=1"))
    context.close()

    # 5. The coordinator's matrix shows every state; the CSV keeps the Japanese text.
    context, page = open_as(playwright, running, coord_login, coord_password, errors)
    page.goto(running.url + f"/curricula/{cid}/matrix")
    cells = lambda login: page.eval_on_selector_all(  # noqa: E731
        f"#matrix tr[data-login='{login}'] td[data-state]", "els => els.map(e => e.dataset.state)"
    )
    assert cells(apprentice_login) == ["watched", "signed_off"]
    assert cells("deshi2") == ["done", "not_started"]
    with page.expect_download() as download:
        page.click("#matrix-csv")
    path = tmp_path / "matrix.csv"
    download.value.save_as(path)
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert "弟子 二郎" in [r[1] for r in table]
    assert any("視聴済み" in r or "Watched" in r for r in table)
    assert all("\ufffd" not in cell for r in table for cell in r)
    context.close()

    # the one failed load the test caused itself (the progress post while "disconnected") is expected
    assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e] == []
    assert len(errors) <= 2, errors
