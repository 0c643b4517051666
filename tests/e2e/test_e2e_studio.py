"""End to end in a real headless Chromium: a meister uploads, watches, corrects a line; an apprentice finds it.

The real server (waitress on a free loopback port) over a fresh knowledge base
with the default models, with the worker thread `kb serve` runs beside it.  The meister logs in through the login page, chooses jfk.flac
with the file input (upload.js sends it with a progress bar), watches the list
update itself until the recording is ready, opens it, and corrects the "fellow
Americans" line in the transcript editor with a word the recording never
said.  An apprentice then logs in and searches that word: the recording is
found at that moment.  Console errors (CSP violations show up there) fail it.
"""

from __future__ import annotations

import re

import pytest

from helpers.studio import PASSWORD, add_user, problems, studio_app
from helpers.web import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
)

NEW_WORD = "zebrafish"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_data):
    from web.serve import background_server

    app, config = studio_app(tmp_path_factory.mktemp("e2e-studio") / "kb")
    add_user(config, "tanaka", "meister", meister="田中 一郎")
    add_user(config, "deshi", "apprentice")
    with background_server(app, worker=True) as running:  # the web server and the worker, as `kb serve`
        yield running, config


def new_page(playwright, errors: list):
    from helpers.web import launch_chromium

    context = launch_chromium(playwright, locale="ja-JP", **DESKTOP)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(20000)
    return context, page


def test_meister_uploads_and_corrects_a_line_then_an_apprentice_finds_it(server, playwright, jfk):
    from helpers.web import browser_login

    running, config = server
    errors: list[str] = []

    context, page = new_page(playwright, errors)
    browser_login(page, running.url, "tanaka", PASSWORD)
    page.click("nav.main-nav a[href='/studio']")
    page.wait_for_url(running.url + "/studio")
    page.set_input_files("#upload-files", str(jfk))
    assert "jfk.flac" in page.locator("#upload-queue li").inner_text()
    page.fill("#meta-title", "ケネディ就任演説")
    page.fill("#meta-technique", "スピーチ")
    page.select_option("#meta-language", "en")
    page.click("#upload-submit")
    result = page.wait_for_selector("#upload-queue li.is-ok")
    assert page.locator("#upload-queue progress").get_attribute("value") == "100"
    assert result.inner_text().strip()

    # The list picks the new recording up by itself and follows it to the end, without a reload.
    page.wait_for_selector("#studio-list tr.studio-row")
    assert page.locator("#studio-list").get_attribute("data-active") in ("true", "false")
    page.wait_for_selector("#studio-list tr.studio-row.stage-done", timeout=600_000)
    assert page.locator("#studio-list").get_attribute("hx-trigger") == "kb-uploaded from:body"  # polling stopped
    assert page.locator("#upload-queue li.is-ok").count() == 1  # still the same page: nothing reloaded
    page.click("#studio-list tr.stage-done a.rec-title")
    page.wait_for_url(re.compile(r"/r/\d+$"))
    rid = int(page.url.rsplit("/", 1)[1])

    # Correct the line in the transcript editor.
    page.click("[data-testid=edit-transcript]")
    page.wait_for_selector("#transcript-editor[data-ready='1']")
    texts = page.locator("[data-testid=line-text]")
    lines = [texts.nth(i).input_value() for i in range(texts.count())]
    n = next(i for i, text in enumerate(lines) if "fellow" in text)
    corrected = lines[n].replace("fellow Americans", f"fellow Americans and {NEW_WORD} keepers")
    assert corrected != lines[n]
    texts.nth(n).fill(corrected)
    page.click("[data-testid=editor-save]")
    page.wait_for_url(re.compile(r"saved="))
    assert page.locator("[data-testid=line-text]").nth(n).input_value() == corrected
    context.close()

    # An apprentice finds the corrected words at that moment.
    context, page = new_page(playwright, errors)
    browser_login(page, running.url, "deshi", PASSWORD)
    page.goto(running.url + "/")
    page.fill("#q", NEW_WORD)
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    page.wait_for_selector(".hit")
    first = page.locator(".hit").first
    assert NEW_WORD in first.inner_text()
    href = first.locator(f"a[href^='/r/{rid}']").first.get_attribute("href")
    assert re.fullmatch(rf"/r/{rid}\?t=\d+&q=\S+", href), href  # the result link carries the search
    page.goto(running.url + href)
    assert NEW_WORD in page.locator("#transcript").inner_text()
    context.close()

    assert errors == []
    assert problems(config) == []
