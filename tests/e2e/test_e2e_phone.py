"""Everyone on a phone (issue 14, items 5 and 6), in headless Chromium over a private copy of the demo.

At 360 x 740, for each role (apprentice, meister, coordinator, admin):

- the メニュー button opens a drawer that shows every section the role has (and no other); each
  link is visible, clickable and goes to its page; the account menu holds the role's admin pages;
  Escape closes the drawer (focus back on the button), aria-expanded follows; the header reads in
  Japanese (no English word in the header of the Japanese interface);
- every page the role can reach (the HTML pages of tests/access_rules for that role) fits the screen
  (``scrollWidth <= innerWidth``: wide tables scroll inside their own box) and every visible
  control (a, button, input, select, textarea, summary) is at least 44 px high.  Exceptions, as
  in WCAG 2.5.5: a link inside running text ("inline": the link is displayed inline and its block holds
  words of its own besides the links), and a checkbox or radio button whose label, the real target,
  is at least 44 px high;
- the skills matrix scrolls as a table: no cell breaks its words one character per line.

At 1280 px the row of sections is shown as before, every section of the role visible in the header.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from helpers.web import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
)

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
ROLES = ("apprentice", "meister", "coordinator", "admin")
LATHE = "旋盤:長い軸のびびり対策(実演)"
MIN_TARGET = 44

# The sections of each role, written out by hand from docs/accounts.md and the access rules (not read back
# from the template): path -> the Japanese label.
SECTIONS = {
    "/": "検索",
    "/recordings": "すべての記録",
    "/studio": "スタジオ",
    "/learning": "私の学習",
    "/curricula": "教程",
    "/meisters": "技術マイスター",
    "/coaching": "指導実績",
    "/programme": "事業指標",
    "/help": "ヘルプ",
}
ROLE_SECTIONS = {
    "apprentice": ["/", "/recordings", "/learning", "/meisters", "/help"],
    "meister": ["/", "/recordings", "/studio", "/learning", "/meisters", "/coaching", "/help"],
    "coordinator": [
        "/",
        "/recordings",
        "/studio",
        "/learning",
        "/curricula",
        "/meisters",
        "/coaching",
        "/programme",
        "/help",
    ],
}
ROLE_SECTIONS["admin"] = ROLE_SECTIONS["coordinator"]
ACCOUNT_PAGES = {
    "apprentice": ["/account"],
    "meister": ["/account"],
    "coordinator": ["/account", "/admin/users"],
    "admin": ["/account", "/admin/users", "/admin/organisations"],
}


def fixture_ids(conn) -> dict:
    """A curriculum (two sections, items, assigned to each demo role, one item done by the apprentice,
    so the matrix and the sign-off list have rows) and the ids the page list needs."""
    from kb import curricula, curricula_progress, users

    rec = conn.execute("SELECT id FROM recordings WHERE title = ?", (LATHE,)).fetchone()[0]
    doc = conn.execute(
        "SELECT id FROM recordings WHERE kind = 'document' AND status = 'done' "
        "AND visibility = 'organisation' AND organisation_id = 1 ORDER BY id"
    ).fetchone()[0]
    cid = curricula.create(conn, title="スマホ確認用の教程", goal="長い軸を一人で削れるようになる", level="basic")
    curricula.add_section(conn, cid, "基礎")
    first = curricula.add_item(conn, cid, rec, start=0, end=20, note="まず全体を見る")
    curricula.add_item(conn, cid, rec, start=20, end=40)
    curricula.add_item(conn, cid, doc)
    curricula.create_cohort(conn, "2026年度 新人", organisation_id=1)
    logins = {}
    for role in ROLES:
        account = users.find_account(conn, role)
        logins[role] = account.id
        if role in curricula.ASSIGNABLE_ROLES:  # coordinators and admins are never given a curriculum
            curricula.assign(conn, cid, user_id=account.id, due_date="2030-03-31")
    curricula_progress.record_event(conn, logins["apprentice"], event_id=str(uuid.uuid4()), item_id=first, kind="done")
    meister = conn.execute("SELECT id FROM meisters WHERE name = '田中 一郎'").fetchone()[0]
    own_waiting = conn.execute(
        "SELECT id FROM coaching_sessions WHERE meister_id = ? AND confirmed_at IS NULL AND logged_by = ? ORDER BY id",
        (meister, logins["meister"]),
    ).fetchone()
    return {
        "rec": rec,
        "doc": doc,
        "cur": cid,
        "mid": meister,
        "sid": own_waiting[0] if own_waiting else None,
        "apprentice": logins["apprentice"],
    }


def pages_for(role: str, ids: dict) -> list[str]:
    """Every HTML page ``role`` can open (see tests/access_rules), with real ids."""
    rec, cur = ids["rec"], ids["cur"]
    out = [
        "/",
        "/search?q=旋盤のびびり",
        "/recordings",
        f"/r/{rec}",
        f"/r/{rec}?t=5",
        f"/r/{ids['doc']}",
        f"/r/{rec}/print?t=2",
        "/account",
        "/learning",
        "/meisters",
        f"/meisters/{ids['mid']}",
        "/meisters/teach",
        "/meisters/teach?q=旋盤のびびり",
        "/glossary",
        "/help",
        "/help/search",
        "/help/watch",
    ]
    if role in ("apprentice", "meister"):  # the people a curriculum is given to
        out += [f"/learning/c/{cur}"]
    if role != "apprentice":
        out += [
            "/studio",
            f"/studio/r/{rec}/edit",
            f"/studio/r/{rec}/delete",
            f"/r/{rec}/transcript/edit",
            f"/r/{rec}/transcript/history",
            "/coaching",
            "/coaching/new",
            "/learning/signoff",
            f"/meisters/{ids['mid']}/edit",
            "/help/upload",
            "/help/recording",
            "/help/coaching",
        ]
        if ids["sid"]:  # a session the meister logged himself, still waiting: everyone here may open and edit it
            out += [f"/coaching/{ids['sid']}", f"/coaching/{ids['sid']}/edit"]
    if role in ("coordinator", "admin"):
        out += [
            "/curricula",
            "/curricula/new",
            f"/curricula/{cur}",
            f"/curricula/add?recording_id={rec}&start=10",
            "/curricula/cohorts",
            f"/curricula/{cur}/matrix",
            f"/curricula/{cur}/suggest?goal=",
            f"/curricula/{cur}/print",
            "/curricula/import",
            "/admin/users",
            "/admin/users/import",
            f"/admin/users/{ids['apprentice']}/edit",
            "/meisters/new",
            "/programme",
            "/programme/figures/technique_records",
            "/programme/targets",
            "/help/curricula",
            "/help/figures",
        ]
    if role == "admin":
        out += ["/admin/organisations"]
    return out


# Run in the page: the controls under 44 px (with the exceptions of the module docstring).
SMALL_CONTROLS = r"""(min) => {
  const TARGETS = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
  const describe = (el, r) => {
    const id = el.id ? '#' + el.id : '';
    const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '';
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 30);
    return `${el.tagName.toLowerCase()}${id}${cls} "${text}" ${Math.round(r.width)}x${Math.round(r.height)}`;
  };
  const inRunningText = (el) => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    let block = el.parentElement;
    while (block && getComputedStyle(block).display.startsWith('inline')) block = block.parentElement;
    if (!block) return false;
    const rest = block.cloneNode(true);
    rest.querySelectorAll(TARGETS).forEach((n) => n.remove());
    return rest.textContent.replace(/[\s\p{P}\p{S}]/gu, '').length >= 2;
  };
  const labelBox = (el) => {
    const label = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`));
    return label ? label.getBoundingClientRect() : null;
  };
  const bad = [];
  for (const el of document.querySelectorAll(TARGETS)) {
    if (!el.checkVisibility({visibilityProperty: true, contentVisibilityAuto: false})) continue;
    if (el.closest('[hidden], [inert], .visually-hidden')) continue;
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;
    if (r.height >= min - 0.5) continue;
    if (inRunningText(el)) continue;
    if (el.type === 'checkbox' || el.type === 'radio') {
      const box = labelBox(el);
      if (box && box.height >= min - 0.5) continue;
    }
    bad.push(describe(el, r));
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def server(own, users):
    from web.serve import background_server

    app, conn = own
    ids = fixture_ids(conn)
    with background_server(app) as running:
        yield running, users, ids


def open_as(playwright, running, users, role, errors, **options):
    from helpers.web import open_logged_in

    login, password = users[role]
    return open_logged_in(playwright, running.url, login, password, errors, **options)


def overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("role", ROLES)
def test_every_section_of_the_role_is_in_the_phone_menu(server, playwright, role):
    running, users, _ = server
    errors: list[str] = []
    context, page = open_as(playwright, running, users, role, errors, **PHONE)
    try:
        page.goto(running.url + "/")
        assert page.locator("nav.main-nav").is_hidden()  # the PC row is not what a phone shows
        button = page.locator("details.nav-drawer > summary")
        assert button.is_visible() and button.inner_text().strip() == "メニュー"
        assert button.bounding_box()["height"] >= MIN_TARGET
        assert button.get_attribute("aria-expanded") == "false"
        header = page.locator("header.site-header")
        assert header.bounding_box()["height"] < 80  # one line: logo, メニュー, account, language
        assert overflow(page) <= 0

        button.click()
        # aria-expanded follows the "toggle" event, which is dispatched as a task after the click
        expect(button).to_have_attribute("aria-expanded", "true")
        links = page.locator("#drawer-nav a")
        shown = [(link.get_attribute("href"), link.inner_text().strip()) for link in links.all()]
        assert shown == [(p, SECTIONS[p]) for p in ROLE_SECTIONS[role]], shown
        for link in links.all():
            box = link.bounding_box()
            assert (
                link.is_visible() and box["height"] >= MIN_TARGET and box["x"] >= 0 and box["x"] + box["width"] <= 360
            )
            assert box["y"] + box["height"] <= 740, (role, link.inner_text(), box)  # the whole list on one screen
        assert overflow(page) <= 0
        english = page.evaluate("""() => [...document.querySelectorAll('header.site-header *')]
            .filter(el => el.checkVisibility() && !el.closest('[lang]:not([lang=ja])'))
            .flatMap(el => [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent.trim()))
            .filter(t => /[A-Za-z]{2,}/.test(t))""")
        assert english == [], english

        page.keyboard.press("Escape")
        assert not page.locator("#drawer-nav").is_visible()
        expect(button).to_have_attribute("aria-expanded", "false")
        assert page.evaluate("() => document.activeElement.matches('details.nav-drawer > summary')")

        # Each section, through the menu: visible after opening it, clickable, and it goes there.
        for path in ROLE_SECTIONS[role]:
            page.locator("details.nav-drawer > summary").click()
            link = page.locator(f"#drawer-nav a[href='{path}']")
            assert link.is_visible()
            link.click()
            page.wait_for_url(lambda url, path=path: url.split("?")[0] == running.url + path)
            assert page.locator(f"#drawer-nav a[href='{path}']").get_attribute("aria-current") == "page"
            assert not page.locator("#drawer-nav").is_visible()  # a new page starts with the menu closed
            assert overflow(page) <= 0, path

        # The account menu: the role's own pages (users, organisations) are there too, at finger size.
        page.locator("details.user-menu > summary").click()
        account = page.locator(".user-menu-panel a")
        assert [a.get_attribute("href") for a in account.all()] == ACCOUNT_PAGES[role]
        for link in account.all() + [page.locator("#logout")]:
            box = link.bounding_box()
            assert (
                link.is_visible() and box["height"] >= MIN_TARGET and box["x"] >= 0 and box["x"] + box["width"] <= 360
            )
        # While the account menu is open, a tap anywhere else (here on メニュー) only closes it.
        box = button.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert not page.locator(".user-menu-panel").is_visible() and not page.locator("#drawer-nav").is_visible()
        # Opening one menu from the keyboard closes the other.
        page.locator("details.user-menu > summary").click()
        button.focus()
        page.keyboard.press("Enter")
        # "toggle" events are dispatched as a task after the press: wait for it rather than race it
        page.wait_for_function("() => !document.querySelector('details.user-menu').open", timeout=5000)
        assert page.locator("#drawer-nav").is_visible() and not page.locator(".user-menu-panel").is_visible()
        # A tap on the dimmed page closes the drawer and does nothing else (no link under the finger followed).
        where = page.url
        page.mouse.click(180, 700)
        assert not page.locator("#drawer-nav").is_visible()
        page.wait_for_timeout(300)
        assert page.url == where
        assert errors == []
    finally:
        context.close()


def test_the_menu_opens_without_javascript(server, playwright):
    running, users, _ = server
    errors: list[str] = []
    context, page = open_as(playwright, running, users, "coordinator", errors, java_script_enabled=False, **PHONE)
    try:
        page.goto(running.url + "/meisters")
        page.locator("details.nav-drawer > summary").click()
        assert [
            a.get_attribute("href") for a in page.locator("#drawer-nav a").all() if a.is_visible()
        ] == ROLE_SECTIONS["coordinator"]
        page.locator("#drawer-nav a[href='/programme']").click()
        page.wait_for_url(running.url + "/programme")
    finally:
        context.close()


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_the_role_fits_a_phone_with_finger_sized_controls(server, playwright, role):
    running, users, ids = server
    errors: list[str] = []
    context, page = open_as(playwright, running, users, role, errors, **PHONE)
    problems = {}
    try:
        for path in pages_for(role, ids):
            answer = page.goto(running.url + path)
            assert answer.status == 200, (path, answer.status)
            page.wait_for_load_state("load")
            found = []
            if overflow(page) > 0:
                wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
                    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
                    .slice(0, 3).map(el => el.tagName + '.' + el.className)""")
                found.append(f"wider than the screen by {overflow(page)} px: {wide}")
            found += page.evaluate(SMALL_CONTROLS, MIN_TARGET)
            if found:
                problems[path] = found
        assert problems == {}, "\n".join(f"{p}: {v}" for p, v in problems.items())
    finally:
        context.close()


def test_the_skills_matrix_scrolls_as_a_table_on_a_phone(server, playwright):
    running, users, ids = server
    errors: list[str] = []
    context, page = open_as(playwright, running, users, "coordinator", errors, **PHONE)
    try:
        page.goto(running.url + f"/curricula/{ids['cur']}/matrix")
        assert overflow(page) <= 0
        # The lines each cell's text takes (distinct tops of the text's line boxes).
        cells = page.evaluate("""() => [...document.querySelectorAll('#matrix td, #matrix thead th')].map(c => {
            const range = document.createRange();
            range.selectNodeContents(c);
            const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
            return {text: c.innerText.trim(), lines: tops.size}; })""")
        assert cells and any(c["text"] == "いいえ" for c in cells)
        for cell in cells:  # a one-line label stays on one line (one character per line would be several)
            if "\n" not in cell["text"]:
                assert cell["lines"] == 1, cell
        # The due dates beside the technicians' names never break inside the date.
        dates = page.evaluate("""() => [...document.querySelectorAll('#matrix tbody th')].flatMap(th => {
            const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
            const out = [];
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
              const m = /\\d{4}-\\d{2}-\\d{2}/.exec(n.textContent);
              if (!m) continue;
              const range = document.createRange();
              range.setStart(n, m.index);
              range.setEnd(n, m.index + m[0].length);
              out.push(new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size);
            }
            return out; })""")
        assert dates and set(dates) == {1}, dates
        scroller = page.evaluate("""() => { const s = document.querySelector('.matrix-scroll');
            return [s.scrollWidth, s.clientWidth, getComputedStyle(s).overflowX]; }""")
        assert scroller[2] == "auto" and scroller[1] <= 360
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("role", ["apprentice", "admin"])
def test_the_pc_header_still_shows_every_section(server, playwright, role):
    running, users, _ = server
    errors: list[str] = []
    context, page = open_as(playwright, running, users, role, errors, **DESKTOP)
    try:
        page.goto(running.url + "/recordings")
        assert page.locator("details.nav-drawer").is_hidden()
        links = page.locator("nav.main-nav a")
        assert [a.get_attribute("href") for a in links.all()] == ROLE_SECTIONS[role]
        tops = set()
        for link in links.all():
            box = link.bounding_box()
            assert link.is_visible() and box["x"] + box["width"] <= 1280 and box["height"] >= MIN_TARGET
            tops.add(round(box["y"]))
        assert len(tops) == 1 and tops.pop() < 20, "one row of sections at the top, as before"
        assert page.locator("nav.main-nav a[aria-current=page]").get_attribute("href") == "/recordings"
        page.locator("nav.main-nav a[href='/help']").click()
        page.wait_for_url(running.url + "/help")
        assert overflow(page) <= 0
        assert errors == []
    finally:
        context.close()


def test_a_small_tablet_gets_the_menu_too(server, playwright):
    """Between a phone and a PC (768 px) nine sections do not fit on one line: the menu button, nothing overflows."""
    running, users, _ = server
    errors: list[str] = []
    context, page = open_as(playwright, running, users, "admin", errors, viewport={"width": 768, "height": 1024})
    try:
        page.goto(running.url + "/programme")
        assert page.locator("nav.main-nav").is_hidden() and overflow(page) <= 0
        page.locator("details.nav-drawer > summary").click()
        assert [
            a.get_attribute("href") for a in page.locator("#drawer-nav a").all() if a.is_visible()
        ] == ROLE_SECTIONS["admin"]
        assert errors == []
    finally:
        context.close()
