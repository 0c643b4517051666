"""Issue 14, items 1 and 4, in a real headless Chromium: the studio in Japanese, plain words first and the
technical detail folded away; titles taken from a file name marked until the meister gives them words.

The real server (waitress on a free loopback port) and the worker thread `kb serve` runs beside it, over a
fresh knowledge base (the model-free hash embedder: processing speed is not the subject).  A meister with a
Japanese browser chooses four files with the file input (upload.js sends each on its own): a text file named
.mp4, an empty .mp3, a video cut in half (ffmpeg: "moov atom not found") and a text note named
07_safety_ja.txt; then a video without sound, which only the worker finds wrong.  Desktop and a 360 px phone.
"""

from __future__ import annotations

import re

import pytest

from helpers.studio import PASSWORD, add_user, problems, small_video, studio_app
from helpers.web import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
)

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
ENGLISH_WORDS = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from web.serve import background_server

    app, config = studio_app(
        tmp_path_factory.mktemp("e2e-studio-ja") / "kb", embed_model="hash", second_embed_model="none"
    )
    add_user(config, "tanaka", "meister", meister="田中 一郎")
    with background_server(app, worker=True) as running:
        yield running, config


@pytest.fixture(scope="module")
def files(tmp_path_factory, shared_data):
    folder = tmp_path_factory.mktemp("files")
    (folder / "broken.mp4").write_bytes("これは動画ではありません。ただの文章です。\n".encode() * 20)
    (folder / "empty.mp3").write_bytes(b"")
    whole = small_video(shared_data / "jfk.flac", folder / "whole.mp4").read_bytes()
    (folder / "途中まで.mp4").write_bytes(whole[: len(whole) // 2])
    (folder / "07_safety_ja.txt").write_text("保護めがねを掛けてから旋盤を回す。\n", "utf-8")
    small_video(None, folder / "音のない動画.mp4")
    return folder


def open_page(playwright, running, errors: list, **options):
    from helpers.web import browser_login, launch_chromium

    context = launch_chromium(playwright, locale="ja-JP", **options)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(30000)
    browser_login(page, running.url, "tanaka", PASSWORD)
    page.goto(running.url + "/studio")
    return context, page


def item(page, name: str):
    return page.locator("#upload-queue li", has_text=name)


def test_refusals_and_failures_are_said_in_plain_japanese_with_the_detail_folded_away(server, playwright, files):
    running, config = server
    errors: list[str] = []
    context, page = open_page(playwright, running, errors, **DESKTOP)
    chosen = ["broken.mp4", "empty.mp3", "途中まで.mp4", "07_safety_ja.txt"]
    page.set_input_files("#upload-files", [str(files / n) for n in chosen])
    assert "(0 バイト)" in item(page, "empty.mp3").locator(".upload-name").inner_text()
    assert re.search(r"\(\d+ バイト\)", item(page, "07_safety_ja.txt").locator(".upload-name").inner_text())
    page.click("#upload-submit")
    page.locator("#upload-queue li.is-ok, #upload-queue li.is-refused").nth(3).wait_for()  # each file answered

    said = {
        "broken.mp4": "中身は動画ではなく文章です",
        "empty.mp3": "ファイルが空です",
        "途中まで.mp4": "途中で切れているか、壊れています",
    }
    for name, words in said.items():
        li = item(page, name)
        assert "is-refused" in li.get_attribute("class")
        message = li.locator(".upload-message").inner_text()
        assert words in message, message
        assert not ENGLISH_WORDS.search(message.replace(name, "")), message  # no English besides the name
        details = li.locator("details.problem-detail")
        assert details.locator("summary").inner_text() == "技術的な詳細"
        assert not details.locator("code").is_visible()  # folded away until asked for
        details.locator("summary").click()
        assert details.locator("code").is_visible()
    assert "moov atom not found" in item(page, "途中まで.mp4").locator("details code").inner_text()
    assert "empty file (0 bytes)" in item(page, "empty.mp3").locator("details code").inner_text()
    assert "is-ok" in item(page, "07_safety_ja.txt").get_attribute("class")
    assert item(page, "07_safety_ja.txt").locator("details").count() == 0

    # A video without sound is taken, and the worker finds it cannot be written down: the list says so.
    page.set_input_files("#upload-files", str(files / "音のない動画.mp4"))
    page.click("#upload-submit")
    row = page.wait_for_selector("#studio-list tr.studio-row.stage-failed", timeout=300_000)
    failure = row.query_selector(".failure").inner_text()
    assert "この動画には音声が入っていない" in failure and not ENGLISH_WORDS.search(failure), failure
    assert row.query_selector(".stage").inner_text() == "失敗"
    row.query_selector("details.problem-detail summary").click()
    assert "no audio stream" in row.query_selector("details.problem-detail code").inner_text()
    page.wait_for_selector("#studio-list[data-active='false']", timeout=300_000)
    for state in page.locator("#studio-list .state-cell").all_inner_texts():  # stage names in Japanese too
        visible = state.split("技術的な詳細")[0]
        assert not ENGLISH_WORDS.search(visible), state
    context.close()
    refused = "Failed to load resource: the server responded with a status of 400"  # the refused uploads
    assert [e for e in errors if not e.startswith(refused)] == []
    assert problems(config) == []


@pytest.mark.parametrize("device", ["pc", "phone"])
def test_a_title_from_the_file_name_is_marked_until_the_meister_names_it(server, playwright, files, device):
    running, config = server
    errors: list[str] = []
    name = f"test_en_{device}"
    note = files / f"{name}.txt"  # plain text: no heading of its own to take the title from
    note.write_text(f"切粉を払ってから測る。{device}\n", "utf-8")
    context, page = open_page(playwright, running, errors, **(PHONE if device == "phone" else DESKTOP))
    page.set_input_files("#upload-files", str(note))
    page.click("#upload-submit")
    page.wait_for_selector("#upload-queue li.is-ok")
    row = page.locator("#studio-list tr.studio-row", has_text=name)
    row.wait_for()
    mark = row.locator("a.title-from-filename")
    assert mark.inner_text() == "題名がファイル名のままです。題名を付けてください"
    assert mark.is_visible()
    box = mark.bounding_box()
    assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
    mark.click()
    page.wait_for_url(re.compile(r"/studio/r/\d+/edit#meta-title$"))
    assert page.locator(".title-from-filename-hint").is_visible()
    page.fill("#meta-title", f"切粉の払い方（{device}）")
    page.click("form.meta-form button[type=submit]")
    page.wait_for_url(re.compile(r"saved=1"))
    assert page.locator(".title-from-filename-hint").count() == 0
    page.goto(running.url + "/studio")
    row = page.locator("#studio-list tr.studio-row", has_text=f"切粉の払い方（{device}）")
    row.wait_for()
    assert row.locator("a.title-from-filename").count() == 0
    assert (
        page.locator("#studio-list tr.studio-row", has_text="07_safety_ja").locator("a.title-from-filename").count()
        == 1
    )  # the other file name is still waiting for its title
    context.close()
    assert errors == []
