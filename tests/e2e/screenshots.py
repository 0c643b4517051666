"""Screenshots for docs/screenshots/: search and recording pages and the phone menu (apprentice), studio and
editor (meister), the programme dashboard and "who can teach this?" (coordinator), and the pages the printable quick
guides show (guide-*.png: a curriculum built, assigned and learnt; web/guides_pdf.py puts them on A4).

    python tests/e2e/screenshots.py                 # builds the demo knowledge base in a temporary folder
    python tests/e2e/screenshots.py --home kb-data  # or uses an existing one (after `kb demo`)
    python tests/e2e/screenshots.py --only programme
    make guides                                     # all of them, then the guides' PDFs (docs/guides/)

The "guides" group builds a curriculum in the knowledge base it is given (as the demo coordinator)
and assigns it to the demo apprentice: use it on a demo knowledge base only (the default).

Real server (waitress on a free loopback port), real headless Chromium
(/usr/bin/chromium), Japanese interface, logged in through the login page as the
demo apprentice (KB_HOME/demo-accounts.txt, written by `kb demo`).  Japanese glyphs need a Japanese font
on the machine (Debian: fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the test helpers (tests/helpers): logins, Chromium, the demo knowledge base

OUT = REPO / "docs" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 740}}
QUERY = "旋盤のびびりを抑えるには"


GROUPS = ("apprentice", "meister", "programme", "guides")


def take(home: Path, out: Path = OUT, only: tuple[str, ...] = GROUPS) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from helpers.web import browser_login, demo_users, launch_chromium
    from web.app import create_app
    from web.serve import background_server

    accounts = demo_users(home)
    if "apprentice" not in accounts:
        raise SystemExit(f"no demo accounts in {home}: run `kb --home {home} demo` first")
    login, password = accounts["apprentice"]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    app = create_app({"KB_HOME": str(home)})
    with background_server(app) as server, sync_playwright() as p:
        for name, viewport in VIEWPORTS.items() if "apprentice" in only else ():
            phone = name == "phone"
            context = launch_chromium(
                p,
                viewport=viewport,
                locale="ja-JP",
                device_scale_factor=2 if phone else 1,
                is_mobile=phone,
                has_touch=phone,
            )
            page = context.new_page()
            browser_login(page, server.url, login, password)
            page.goto(f"{server.url}/search?q={QUERY}")
            page.wait_for_selector(".hit")
            page.wait_for_load_state("networkidle")
            written.append(out / f"search-{name}.png")
            page.screenshot(path=str(written[-1]), full_page=not phone)
            link = page.locator(".hit a[href*='t=']").first
            if not link.count():
                link = page.locator(".hit-title a").first
            href = link.get_attribute("href")
            page.goto(server.url + href)
            page.wait_for_selector("li.current")
            page.evaluate("() => { const v = document.getElementById('player'); if (v) { v.pause(); } }")
            page.wait_for_timeout(500)
            written.append(out / f"recording-{name}.png")
            page.screenshot(path=str(written[-1]), full_page=not phone)
            if phone:  # the phone's menu, open (docs/ja/phones.md)
                page.locator("details.nav-drawer > summary").click()
                written.append(out / "menu-phone.png")
                page.screenshot(path=str(written[-1]))
            context.close()
        if "meister" in only:
            written += _meister_pages(p, server.url, accounts["meister"], out)
        if "programme" in only:
            written += _programme_pages(p, server.url, accounts["coordinator"], out)
        if "guides" in only:
            written += _guide_pages(p, server.url, accounts, out)
    return written


GUIDE_TITLE = "旋盤の基本(かんたんガイド)"
GUIDE_GOAL = "長い軸をびびりなく削れるようになる"


def _guide_pages(p, url: str, accounts: dict, out: Path) -> list[Path]:
    """The quick guides' pictures: the coordinator builds, fills and assigns a curriculum (new, suggest,
    outline, assign, skills matrix); the apprentice's search page and "my learning" show it."""
    import re

    from helpers.web import browser_login, launch_chromium

    written = []
    context = launch_chromium(p, viewport=VIEWPORTS["desktop"], locale="ja-JP")
    page = context.new_page()
    browser_login(page, url, *accounts["coordinator"])
    page.goto(f"{url}/curricula/new")
    page.fill("#cur-title", GUIDE_TITLE)
    page.fill("#cur-goal", GUIDE_GOAL)
    written.append(out / "guide-curriculum-new.png")
    page.screenshot(path=str(written[-1]))
    page.click("#create-curriculum")
    page.wait_for_url(re.compile(r"/curricula/\d+$"))
    cid = int(page.url.rsplit("/", 1)[1])
    page.fill("#new-section", "基礎")
    page.click("#new-section ~ button")
    page.wait_for_load_state("networkidle")
    page.goto(f"{url}/curricula/{cid}/suggest?goal={GUIDE_GOAL}")
    page.wait_for_load_state("networkidle")
    written.append(out / "guide-curriculum-suggest.png")
    page.screenshot(path=str(written[-1]))
    if page.locator("#accept-suggestions").count():
        page.click("#accept-suggestions")
        page.wait_for_url(re.compile(rf"/curricula/{cid}"))
    page.goto(f"{url}/curricula/{cid}")
    page.wait_for_load_state("networkidle")
    written.append(out / "guide-curriculum-edit.png")
    page.screenshot(path=str(written[-1]))
    # the apprentices come first (kb.curricula.assignable_people); the demo's 本社 apprentice is the one who logs in
    value = page.locator("#assign-target optgroup:first-of-type option", has_text=", 本社)").first.get_attribute(
        "value"
    )
    page.select_option("#assign-target", value=value)
    page.fill("#assign-due", "2031-03-31")
    page.locator("#assign").scroll_into_view_if_needed()
    written.append(out / "guide-curriculum-assign.png")
    page.locator("#assign").screenshot(path=str(written[-1]))
    page.click("#assign-submit")
    page.wait_for_url(re.compile(rf"/curricula/{cid}"))
    page.goto(f"{url}/curricula/{cid}/matrix")
    page.wait_for_load_state("networkidle")
    written.append(out / "guide-curriculum-matrix.png")
    page.screenshot(path=str(written[-1]))
    context.close()

    context = launch_chromium(p, viewport=VIEWPORTS["desktop"], locale="ja-JP")
    page = context.new_page()
    browser_login(page, url, *accounts["apprentice"])
    page.goto(f"{url}/")
    page.wait_for_load_state("networkidle")
    written.append(out / "guide-search-home.png")
    page.screenshot(path=str(written[-1]))
    page.goto(f"{url}/learning")
    page.wait_for_selector(".learning-card")
    written.append(out / "guide-learning.png")
    page.screenshot(path=str(written[-1]))
    context.close()
    return written


TEACH_QUESTION = "長い軸を削るとびびる"


def _programme_pages(p, url: str, account: tuple[str, str], out: Path) -> list[Path]:
    """The programme dashboard and "who can teach this?" (desktop), as the demo coordinator."""
    from helpers.web import browser_login, launch_chromium

    written = []
    context = launch_chromium(p, viewport=VIEWPORTS["desktop"], locale="ja-JP")
    page = context.new_page()
    browser_login(page, url, *account)
    page.goto(f"{url}/programme")
    page.wait_for_selector("[data-figure='coaching_sessions']")
    written.append(out / "programme-desktop.png")
    page.screenshot(path=str(written[-1]), full_page=True)
    page.goto(f"{url}/meisters/teach?q={TEACH_QUESTION}")
    page.wait_for_load_state("networkidle")
    written.append(out / "teach-desktop.png")
    page.screenshot(path=str(written[-1]), full_page=False)
    context.close()
    return written


def _meister_pages(p, url: str, account: tuple[str, str], out: Path = OUT) -> list[Path]:
    """The studio (desktop and phone) and the transcript editor (desktop), as the demo meister."""
    from helpers.web import browser_login, launch_chromium

    written = []
    for name, viewport in VIEWPORTS.items():
        phone = name == "phone"
        context = launch_chromium(
            p,
            viewport=viewport,
            locale="ja-JP",
            device_scale_factor=2 if phone else 1,
            is_mobile=phone,
            has_touch=phone,
        )
        page = context.new_page()
        browser_login(page, url, *account)
        page.goto(f"{url}/studio")
        page.wait_for_load_state("networkidle")
        written.append(out / f"studio-{name}.png")
        page.screenshot(path=str(written[-1]), full_page=not phone)
        if not phone:
            # the first recording with a transcript to correct (written documents have no editor)
            edits = page.eval_on_selector_all(
                "a[href$='/transcript/edit']", "els => els.map(e => e.getAttribute('href'))"
            )
            if edits:
                page.goto(url + edits[0])
                page.wait_for_selector("#transcript-editor[data-ready='1']")
                written.append(out / "editor-desktop.png")
                page.screenshot(path=str(written[-1]), full_page=False)
        context.close()
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, help="an existing knowledge base (default: build the demo one)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--only", choices=GROUPS, action="append", help="only these pages (repeatable)")
    args = ap.parse_args()
    home = args.home
    if home is None:
        from helpers.web import build_demo_home

        home = Path(tempfile.mkdtemp(prefix="takumi-shots-")) / "kb"
        build_demo_home(home)
    for path in take(home, args.out, tuple(args.only or GROUPS)):
        print(path)


if __name__ == "__main__":
    main()
