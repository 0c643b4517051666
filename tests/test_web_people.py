"""Issue 14, items 11 and 12 through the real Flask app (test client, Japanese pages):
changing people, the CSV import with its preview and password sheet, the home page's "waiting for
you" list per role, and moments kept for later (後で見る)."""

from __future__ import annotations

import re

import pytest

from helpers.hardening import add_recording, make_kb
from kb import users

JA = {"Accept-Language": "ja"}


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    return make_kb(tmp_path_factory.mktemp("people"))


def _csrf(client) -> str:
    from helpers.web import csrf_token

    return csrf_token(client)


def _new(kb, login, role="apprentice", org=1):
    return users.create_user(kb.conn, login, users.generate_password(), role, organisation_id=org)


# ---------------------------------------------------------------- item 11: changing people


def test_a_coordinator_changes_name_role_and_organisation(kb):
    uid = _new(kb, "henshu")
    client = kb.client("coordinator")
    page = client.get(f"/admin/users/{uid}/edit", headers=JA).get_data(as_text=True)
    assert 'name="display_name"' in page and "コーディネーターが設定できるのは見習いとマイスターです" in page
    assert '<option value="admin"' not in page  # not offered
    listing = client.get("/admin/users", headers=JA).get_data(as_text=True)
    assert f'href="/admin/users/{uid}/edit"' in listing
    answer = client.post(
        f"/admin/users/{uid}/edit",
        headers=JA,
        data={
            "csrf_token": _csrf(client),
            "display_name": "編集 太郎",
            "role": "meister",
            "organisation_id": "2",
            "meister": "",
        },
    )
    assert answer.status_code == 303 and "done=changed" in answer.location
    now = users.get_account(kb.conn, uid)
    assert (now.display_name, now.role, now.organisation, now.meister) == (
        "編集 太郎",
        "meister",
        "第二工場",
        "編集 太郎",
    )
    assert "変更を保存しました" in client.get(answer.location, headers=JA).get_data(as_text=True)


def test_what_a_coordinator_may_not_grant_is_refused_and_said_in_japanese(kb):
    uid = _new(kb, "kyohi")
    client = kb.client("coordinator")
    token = _csrf(client)
    made_admin = client.post(
        f"/admin/users/{uid}/edit",
        headers=JA,
        data={"csrf_token": token, "display_name": "拒否", "role": "admin", "organisation_id": "1"},
    )
    assert made_admin.status_code == 403 and "管理者にできるのは管理者だけです" in made_admin.get_data(as_text=True)
    assert client.get(f"/admin/users/{kb.user_id('admin')}/edit").status_code == 403
    closed = users.create_organisation(kb.conn, "閉鎖した工場")
    kb.conn.execute("UPDATE organisations SET disabled = 1 WHERE id = ?", (closed,))
    kb.conn.commit()
    moved = client.post(
        f"/admin/users/{uid}/edit",
        headers=JA,
        data={"csrf_token": token, "display_name": "拒否", "role": "apprentice", "organisation_id": str(closed)},
    )
    assert moved.status_code == 400 and "無効になっているため" in moved.get_data(as_text=True)
    assert users.get_account(kb.conn, uid).organisation_id == 1


def test_an_admin_cannot_change_their_own_role(kb):
    client = kb.client("admin")
    me = kb.user_id("admin")
    page = client.get(f"/admin/users/{me}/edit", headers=JA).get_data(as_text=True)
    assert "自分の役割は変更できません" in page and '<option value="apprentice"' not in page
    answer = client.post(
        f"/admin/users/{me}/edit",
        headers=JA,
        data={"csrf_token": _csrf(client), "display_name": "管理者", "role": "apprentice", "organisation_id": "1"},
    )
    assert answer.status_code == 400 and users.get_account(kb.conn, me).role == "admin"


# ---------------------------------------------------------------- item 11: the CSV import


def _upload(client, raw: bytes, name="名簿.csv"):
    import io

    return client.post(
        "/admin/users/import",
        headers=JA,
        content_type="multipart/form-data",
        data={"csrf_token": _csrf(client), "file": (io.BytesIO(raw), name)},
    )


def test_a_shift_jis_file_from_excel_is_previewed_created_and_printed_once(kb):
    client = kb.client("coordinator")
    text = (
        "ログイン,氏名,役割,所属\r\nimp.yamada,山田 太郎,見習い,本社\r\nimp.takahashi,髙橋 一郎,マイスター,第二工場\r\n"
    )
    before = users.count_users(kb.conn)
    preview = _upload(client, text.encode("cp932"))
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "2人を追加します" in page and "髙橋 一郎" in page
    assert users.count_users(kb.conn) == before  # nothing yet
    csv_field = re.search(r'name="csv" value="([^"]*)"', page).group(1)
    import html

    sheet = client.post(
        "/admin/users/import/confirm", headers=JA, data={"csrf_token": _csrf(client), "csv": html.unescape(csv_field)}
    )
    body = sheet.get_data(as_text=True)
    assert sheet.status_code == 200 and sheet.headers["Cache-Control"] == "no-store"
    assert "2人を追加しました" in body and "初回パスワード" in body
    passwords = re.findall(r'<code class="first-password">([^<]+)</code>', body)
    assert len(passwords) == 2
    takahashi = users.find_account(kb.conn, "imp.takahashi")
    assert takahashi.must_change_password and takahashi.meister == "髙橋 一郎" and takahashi.organisation == "第二工場"
    stored = kb.conn.execute("SELECT password_hash FROM users WHERE login = 'imp.takahashi'").fetchone()[0]
    assert passwords[1] not in stored
    # the first login leads to choosing one's own password (the ordinary first-login page)
    fresh = kb.app.test_client()
    from helpers.web import login

    answer = login(fresh, "imp.takahashi", passwords[1])
    assert "must_change=1" in answer.location
    # sending the same file again creates nobody: the logins are taken now
    again = client.post(
        "/admin/users/import/confirm", headers=JA, data={"csrf_token": _csrf(client), "csv": html.unescape(csv_field)}
    )
    assert again.status_code == 400 and "すでに使われています" in again.get_data(as_text=True)
    assert users.count_users(kb.conn) == before + 2


def test_bad_rows_are_listed_in_japanese_and_nothing_can_be_confirmed(kb):
    client = kb.client("coordinator")
    raw = "\ufeffログイン,氏名,役割,所属\n,名無し,見習い,\nimp.boss,社長,管理者,\nimp.x,X,班長,\nimp.far,遠い,見習い,大阪\n"
    answer = _upload(client, raw.encode("utf-8"))
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "4行に問題があります" in page
    for message in (
        "ログインIDがありません",
        "管理者にできるのは管理者だけです",
        "役割「班長」は使えません",
        "事業所「大阪」はありません",
    ):
        assert message in page
    assert 'data-testid="import-confirm"' not in page


@pytest.mark.parametrize(
    "raw,message",
    [
        (b"", "取り込むCSVファイルを選んでください"),
        (b"x" * (512 * 1024 + 1), "ファイルが大きすぎます"),
        ("氏名,役割\n山田,見習い\n".encode("cp932"), "足りない列:ログイン"),
        ("ログイン,氏名,役割\n".encode("utf-16"), "「CSV UTF-8」または「CSV」"),
    ],
)
def test_a_file_that_cannot_be_read_gets_one_japanese_error(kb, raw, message):
    answer = _upload(kb.client("coordinator"), raw)
    assert answer.status_code == 400 and message in answer.get_data(as_text=True)


def test_the_example_file_and_the_import_page_are_for_coordinators(kb):
    client = kb.client("coordinator")
    example = client.get("/admin/users/import/example.csv")
    assert example.status_code == 200 and example.data.startswith(b"\xef\xbb\xbf")
    assert "CSVファイルからまとめて追加" in client.get("/admin/users/import", headers=JA).get_data(as_text=True)
    assert kb.client("meister").get("/admin/users/import").status_code == 403


# ---------------------------------------------------------------- item 12: waiting for you, kept for later


@pytest.fixture(scope="module")
def work(kb):
    """A curriculum overdue for the apprentice with one item done (waiting for the meister's sign-off), an
    unconfirmed coaching session, and a recording whose transcript looks incomplete."""
    from kb import coaching, curricula, curricula_progress as progress

    rid = add_recording(
        kb, title="研ぎの基本", text="砥石を水に浸してから角度を十五度に保って研ぐ。", timed=True, technique="研ぎ"
    )
    cid = curricula.create(kb.conn, title="研ぎ入門")
    first = curricula.add_item(kb.conn, cid, rid, start=0.0, end=10.0)
    curricula.assign(kb.conn, cid, user_id=kb.user_id("apprentice"), due_date="2020-04-01")
    progress.record_event(kb.conn, kb.user_id("apprentice"), event_id="ev-web-0001", item_id=first, kind="done")
    curricula.add_item(kb.conn, cid, rid, start=5.0, end=10.0)
    meister = users.get_account(kb.conn, kb.user_id("meister"))
    coaching.log_session(
        kb.conn,
        meister,
        held_on="2026-11-20",
        meister_id=meister.meister_id,
        organisation_id=1,
        hours=1.5,
        technique="研ぎ",
    )
    kb.conn.execute(
        "INSERT INTO jobs(recording_id, stage, payload) VALUES (?, 'done', ?)",
        (rid, '{"transcript_check": {"incomplete": true, "chars": 4}}'),
    )
    kb.conn.commit()
    return {"recording": rid, "curriculum": cid}


def test_the_home_page_shows_what_waits_for_each_role(kb, work):
    apprentice = kb.client("apprentice").get("/", headers=JA).get_data(as_text=True)
    assert 'data-testid="waiting-due"' in apprentice and "研ぎ入門" in apprentice and "期限を" in apprentice
    assert 'data-testid="waiting-coaching"' not in apprentice and 'data-testid="waiting-signoffs"' not in apprentice
    meister = kb.client("meister").get("/", headers=JA).get_data(as_text=True)
    assert "1件の実技確認があなたの承認を待っています" in meister and 'href="/learning/signoff"' in meister
    coordinator = kb.client("coordinator").get("/", headers=JA).get_data(as_text=True)
    assert "1件の指導記録が確認を待っています" in coordinator
    assert "文字起こしが不完全に見える記録が1件あります" in coordinator and "研ぎの基本" in coordinator
    other = kb.client("other_apprentice").get("/", headers=JA).get_data(as_text=True)
    assert "今、待っていることはありません" in other
    waiting = kb.client("coordinator").get("/", headers={"Accept": "application/json"}).get_json()["waiting"]
    assert waiting["coaching"]["count"] == 1 and waiting["signoffs"] is None


def test_an_apprentice_keeps_a_moment_from_the_results_and_removes_it(kb, work):
    rid = work["recording"]
    client = kb.client("apprentice")
    results = client.get("/search?q=砥石", headers=JA).get_data(as_text=True)
    assert 'data-testid="save-later"' in results and "後で見る" in results
    token = _csrf(client)
    start = re.search(
        rf'action="/r/{rid}/later"[^>]*>\s*<input[^>]*>\s*<input type="hidden" name="t" value="([^"]*)"', results
    ).group(1)
    answer = client.post(
        f"/r/{rid}/later", headers=JA, data={"csrf_token": token, "t": start, "next": "/search?q=砥石"}
    )
    assert answer.status_code == 303 and answer.location.startswith("/search?q=") and "saved=1" in answer.location
    again = client.get(answer.location, headers=JA).get_data(as_text=True)
    assert "後で見るに保存済み ✓" in again
    home = client.get("/", headers=JA).get_data(as_text=True)
    assert 'data-testid="saved-home"' in home and f'href="/r/{rid}?t={int(float(start))}"' in home
    mine = client.get("/learning", headers=JA).get_data(as_text=True)
    saved_id = re.search(r'action="/saved/(\d+)/delete"', mine).group(1)
    # someone else cannot remove it, and a recording one may not see cannot be kept
    other = kb.client("other_apprentice")
    assert other.post(f"/saved/{saved_id}/delete", data={"csrf_token": _csrf(other)}).status_code == 404
    hidden = add_recording(kb, title="非公開メモ", text="秘密の段取り", visibility="private")
    assert client.post(f"/r/{hidden}/later", data={"csrf_token": token, "t": "0"}).status_code == 404
    assert client.post(f"/r/{rid}/later", data={"csrf_token": token, "t": "nan"}).status_code == 400
    removed = client.post(f"/saved/{saved_id}/delete", headers=JA, data={"csrf_token": token, "next": "/learning"})
    assert removed.status_code == 303
    after = client.get(removed.location, headers=JA).get_data(as_text=True)
    assert "一覧から外しました" in after and f'action="/saved/{saved_id}/delete"' not in after


def test_the_recording_page_offers_to_keep_the_moment_it_opened_at(kb, work):
    """The form carries the moment of the link (?t=5); web/static/js/saved.js puts the player's time there."""
    page = kb.client("apprentice").get(f"/r/{work['recording']}?t=5", headers=JA).get_data(as_text=True)
    assert 'form class="save-later-form"' in page and 'name="t" value="5' in page and "js/saved.js" in page


def test_the_new_pages_show_no_english_in_japanese(kb, work):
    """Every page of items 11 and 12, as each role, holds no untranslated interface text."""
    from helpers.i18n import english_patterns, visible_text

    patterns = english_patterns(kb.app)
    coordinator = kb.client("coordinator")
    uid = _new(kb, "i18n.check")
    bad = _upload(coordinator, "ログイン,氏名,役割\n,名無し,班長\n".encode("cp932")).get_data(as_text=True)
    good = _upload(coordinator, "ログイン,氏名,役割\ni18n.new,新人,見習い\n".encode()).get_data(as_text=True)
    import html

    csv_text = html.unescape(re.search(r'name="csv" value="([^"]*)"', good).group(1))
    sheet = coordinator.post(
        "/admin/users/import/confirm", headers=JA, data={"csrf_token": _csrf(coordinator), "csv": csv_text}
    ).get_data(as_text=True)
    shown = [("import preview with errors", bad), ("import preview", good), ("password sheet", sheet)]
    for key in ("apprentice", "meister", "coordinator", "admin"):
        client = kb.client(key)
        shown += [
            (f"/ as {key}", client.get("/", headers=JA).get_data(as_text=True)),
            (f"/learning as {key}", client.get("/learning", headers=JA).get_data(as_text=True)),
        ]
    shown += [
        (url, coordinator.get(url, headers=JA).get_data(as_text=True))
        for url in ("/admin/users", "/admin/users/import", f"/admin/users/{uid}/edit", "/search?q=砥石")
    ]
    leaks = [
        (where, source, text)
        for where, page in shown
        for text in visible_text(page)
        for source, pattern in patterns
        if pattern.fullmatch(text) or (" " in source and pattern.search(text))
    ]
    assert leaks == []


# ---------------------------------------------------------------- in Chromium, on a phone


PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(scope="module")
def browser_server(kb, work):
    from helpers.web import CHROMIUM
    from web.serve import background_server

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (make sysdeps)")
    with background_server(kb.app) as running:
        yield running


def test_in_chromium_a_coordinator_imports_a_shift_jis_file_on_a_phone(kb, browser_server, playwright, tmp_path):
    from helpers.web import open_logged_in

    csv_file = tmp_path / "名簿.csv"
    csv_file.write_bytes(
        "ログイン,氏名,役割,所属\r\nbr.kato,加藤 髙子,見習い,本社\r\nbr.ito,伊藤 誠,マイスター,\r\n".encode("cp932")
    )
    errors: list[str] = []
    context, page = open_logged_in(playwright, browser_server.url, *kb.logins["coordinator"][:2], errors, **PHONE)
    try:
        page.goto(browser_server.url + "/admin/users")
        page.click('[data-testid="import-users"]')
        page.set_input_files("#import-file", str(csv_file))
        page.click('[data-testid="import-check"]')
        assert page.locator('[data-testid="import-row"]').count() == 2
        assert "加藤 髙子" in page.locator('[data-testid="import-preview"]').inner_text()
        confirm = page.locator('[data-testid="import-confirm"]')
        box = confirm.bounding_box()
        assert box is not None and box["height"] >= 44
        confirm.click()
        page.wait_for_selector('[data-testid="password-slip"]')
        slips = page.locator('[data-testid="password-slip"]')
        assert slips.count() == 2 and "加藤 髙子" in slips.first.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # the sheet fits the phone
        assert users.find_account(kb.conn, "br.kato").must_change_password
    finally:
        context.close()
    assert not errors, errors


def test_in_chromium_an_apprentice_keeps_a_result_for_later_and_removes_it(kb, browser_server, playwright):
    from helpers.web import open_logged_in

    errors: list[str] = []
    context, page = open_logged_in(playwright, browser_server.url, *kb.logins["apprentice"][:2], errors, **PHONE)
    try:
        page.goto(browser_server.url + "/")
        assert page.locator('[data-testid="waiting-due"]').is_visible()
        page.goto(browser_server.url + "/search?q=" + "砥石")
        if page.locator('[data-testid="weak-hits"]').count():  # the model-free embedder finds it weakly
            page.locator('[data-testid="weak-hits"] summary').click()
        button = page.locator('[data-testid="save-later"]').first
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44
        button.click()
        page.wait_for_selector('[data-testid="unsave-later"]', state="attached")
        assert "/search?q=" in page.url
        page.goto(browser_server.url + "/")
        item = page.locator('[data-testid="saved-home"] [data-testid="saved-item"]')
        assert item.count() == 1 and "研ぎの基本" in item.inner_text()
        page.goto(browser_server.url + "/learning")
        page.locator('[data-testid="saved-section"] [data-testid="saved-remove"]').first.click()
        page.wait_for_selector("text=一覧から外しました")
        assert page.locator('[data-testid="saved-section"] [data-testid="saved-item"]').count() == 0
    finally:
        context.close()
    assert not errors, errors
