"""The meister registry pages and API over a private copy of the demo knowledge base (real search).

Covers: the directory (search, filters, counts of only the recordings the reader may see), profiles
and the coaching record (names and notes only for the meister, coordinators and admins), editing
and its permissions, bad input kept and explained in Japanese, certifications, registering a
meister (with an unlinked account), "who can teach this?" as a page and through the JSON API.
"""

from __future__ import annotations

import re

from kb import coaching, meisters, users as accounts


def mid(conn, name: str) -> int:
    return conn.execute("SELECT id FROM meisters WHERE name = ?", (name,)).fetchone()[0]


def text(response) -> str:
    return response.get_data(as_text=True)


# ---------------------------------------------------------------- directory


def test_the_directory_lists_meisters_in_japanese_with_only_visible_recordings_counted(own, as_role):
    app, conn = own
    tanaka = mid(conn, "田中 一郎")
    client, _ = as_role("apprentice")
    page = client.get("/meisters")
    assert page.status_code == 200
    body = text(page)
    assert "技術マイスター" in body and "田中 一郎" in body and f'href="/meisters/{tanaka}"' in body
    data = client.get("/meisters", headers={"Accept": "application/json"}).get_json()
    own_count = {m["name"]: m["recording_count"] for m in data["meisters"]}
    # 本社's apprentice sees 田中's organisation-level recordings, not his private note
    visible = conn.execute(
        "SELECT COUNT(*) FROM recordings WHERE meister_id = ? AND status = 'done' "
        "AND visibility != 'private' AND organisation_id = 1",
        (tanaka,),
    ).fetchone()[0]
    assert own_count["田中 一郎"] == visible > 0
    other, _ = as_role("other_apprentice")
    counts = {m["name"]: m["recording_count"] for m in other.get("/api/v1/meisters").get_json()["meisters"]}
    assert counts["田中 一郎"] == 0, "第二工場's apprentice sees none of 本社's recordings"


def test_directory_search_and_filters(own, as_role):
    app, conn = own
    sato = mid(conn, "佐藤 健")
    meisters.update_profile(
        conn, sato, categories=["溶接"], tags=["TIG", "薄板"], areas=["大阪府"], organisation_ids=[1, 2]
    )
    meisters.add_certification(conn, sato, "技能検定1級", "溶接")
    client, _ = as_role("apprentice")

    def listed(**args):
        return [m["name"] for m in client.get("/api/v1/meisters", query_string=args).get_json()["meisters"]]

    assert listed(q="薄板") == ["佐藤 健"]
    assert listed(q="大阪") == ["佐藤 健"]
    assert listed(q="技能検定 溶接") == ["佐藤 健"]
    assert listed(category="溶接") == ["佐藤 健"]
    assert "佐藤 健" in listed(org="2") and "田中 一郎" not in listed(org="2")
    assert listed(q="存在しない言葉") == []
    page = client.get("/meisters?q=薄板")
    assert page.status_code == 200 and "技能検定1級" in text(page) and "大阪府" in text(page)
    assert client.get("/meisters?org=abc").status_code == 400


# ---------------------------------------------------------------- profile and record


def test_profile_lists_only_recordings_the_reader_may_see(own, as_role):
    app, conn = own
    tanaka = mid(conn, "田中 一郎")
    private = "田中の個人メモ:治具の寸法"
    for key, sees in (("apprentice", False), ("meister", True), ("coordinator", True), ("other_apprentice", False)):
        client, _ = as_role(key)
        page = client.get(f"/meisters/{tanaka}")
        assert page.status_code == 200
        assert (private in text(page)) is sees, key
    assert as_role("apprentice")[0].get("/meisters/999999").status_code == 404
    assert as_role("apprentice")[0].get("/api/v1/meisters/999999").status_code == 404


def test_the_record_shows_names_and_notes_only_to_the_meister_and_coordinators(own, as_role):
    """Two confirmed sessions in FY2019 (the demo's own sessions are in the current year), one technician."""
    app, conn = own
    tanaka = mid(conn, "田中 一郎")
    coordinator = accounts.find_account(conn, "coordinator")
    technician = accounts.create_user(
        conn, "minarai", accounts.generate_password(), "apprentice", display_name="見習い 太郎"
    )
    session = coaching.log_session(
        conn,
        coordinator,
        held_on="2019-05-12",
        meister_id=tanaka,
        organisation_id=1,
        hours=2.5,
        technique="旋盤",
        notes="芯出しの極意メモ",
        technicians=[technician],
    )
    coaching.log_session(
        conn,
        coordinator,
        held_on="2020-02-03",
        meister_id=tanaka,
        organisation_id=1,
        hours=1,
        technique="旋盤",
        technicians=[technician],
    )
    for key, detailed in (
        ("meister", True),
        ("coordinator", True),
        ("admin", True),
        ("apprentice", False),
        ("other_meister", False),
    ):
        client, _ = as_role(key)
        body = text(client.get(f"/meisters/{tanaka}"))
        assert ("芯出しの極意メモ" in body) is detailed, key
        assert ("見習い 太郎" in body) is detailed, key
        assert (f'href="/coaching/{session}"' in body) is detailed, key
        assert "2019年度" in body and "2019-05-12" in body
        data = client.get(f"/api/v1/meisters/{tanaka}").get_json()["record"]
        fy = next(y for y in data["by_year"] if y["fiscal_year"] == 2019)
        assert (fy["sessions"], fy["hours"], fy["technicians"]) == (2, 3.5, 1), "2020-02 is still FY2019"
        assert [m["month"] for m in fy["months"]] == ["2019-05", "2020-02"]
        assert ("technicians" in data) is detailed and all(("notes" in s) is detailed for s in data["sessions"])
        if detailed:
            minarai = next(t for t in data["technicians"] if t["display_name"] == "見習い 太郎")
            assert (minarai["sessions"], minarai["hours"], minarai["last"]) == (2, 3.5, "2020-02-03")


# ---------------------------------------------------------------- editing


def test_edit_permissions(own, as_role):
    app, conn = own
    tanaka, nakamura = mid(conn, "田中 一郎"), mid(conn, "中村 誠")
    meister, token = as_role("meister")
    assert meister.get(f"/meisters/{tanaka}/edit").status_code == 200
    assert meister.get(f"/meisters/{nakamura}/edit").status_code == 403
    assert meister.post(f"/meisters/{nakamura}/edit", data={"name": "中村 誠", "csrf_token": token}).status_code == 403
    apprentice, atoken = as_role("apprentice")
    assert apprentice.get(f"/meisters/{tanaka}/edit").status_code == 403
    assert (
        apprentice.post(f"/meisters/{tanaka}/certifications", data={"name": "x", "csrf_token": atoken}).status_code
        == 403
    )
    # The meister edits their own profile; organisations and the registration date are not theirs to set.
    before = meisters.profile(conn, tanaka)
    r = meister.post(
        f"/meisters/{tanaka}/edit",
        data={
            "name": "田中 一郎",
            "years_experience": "35",
            "availability": "火・木の午後",
            "categories": "旋盤、フライス",
            "tags": "びびり, 芯出し",
            "areas": "大阪府\n兵庫県",
            "organisation_ids": ["2"],
            "registered_on": "2000-01-01",
            "csrf_token": token,
        },
    )
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/meisters/{tanaka}?saved=1")
    p = meisters.profile(conn, tanaka)
    assert (p["years_experience"], p["categories"], p["tags"], p["areas"]) == (
        35,
        ["旋盤", "フライス"],
        ["びびり", "芯出し"],
        ["大阪府", "兵庫県"],
    )
    assert p["organisations"] == before["organisations"] and p["registered_on"] == before["registered_on"]
    assert "火・木の午後" in text(meister.get(f"/meisters/{tanaka}?saved=1"))
    # A coordinator sets them.
    coordinator, ctoken = as_role("coordinator")
    r = coordinator.post(
        f"/meisters/{tanaka}/edit",
        data={
            "name": "田中 一郎",
            "years_experience": "35",
            "categories": "旋盤",
            "organisation_ids": ["1", "2"],
            "registered_on": "2024-06-01",
            "csrf_token": ctoken,
        },
    )
    assert r.status_code == 303
    p = meisters.profile(conn, tanaka)
    assert [o["id"] for o in p["organisations"]] == [1, 2] and p["registered_on"] == "2024-06-01"


def test_bad_input_keeps_what_was_typed_and_says_why_in_japanese(own, as_role):
    app, conn = own
    tanaka = mid(conn, "田中 一郎")
    client, token = as_role("meister")
    before = meisters.profile(conn, tanaka)
    r = client.post(
        f"/meisters/{tanaka}/edit",
        data={"name": "匠" * 101, "years_experience": "12", "availability": "平日のみ 残しておく", "csrf_token": token},
    )
    assert r.status_code == 400
    body = text(r)
    assert "名前" in body and "100" in body and 'role="alert"' in body
    assert "平日のみ 残しておく" in body and "匠" * 101 in body, "what was typed is kept"
    r = client.post(
        f"/meisters/{tanaka}/edit",
        data={"name": "田中 一郎", "years_experience": "-1", "tags": "残るタグ", "csrf_token": token},
    )
    assert r.status_code == 400 and "経験年数" in text(r) and "残るタグ" in text(r)
    assert meisters.profile(conn, tanaka)["tags"] == before["tags"], "nothing was saved"
    r = client.post(f"/meisters/{tanaka}/edit", data={"name": "", "csrf_token": token})
    assert r.status_code == 400 and "名前" in text(r)
    r = client.post(f"/meisters/{tanaka}/edit", data={"name": "佐藤 健", "csrf_token": token})
    assert r.status_code == 400 and "佐藤 健" in text(r) and "登録されています" in text(r)
    # English on request
    r = client.post(
        f"/meisters/{tanaka}/edit",
        data={"name": "田中 一郎", "years_experience": "abc", "csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 400 and "Years of experience must be a whole number" in text(r)


def test_script_in_a_tag_is_shown_as_text(own, as_role):
    app, conn = own
    tanaka = mid(conn, "田中 一郎")
    client, token = as_role("meister")
    r = client.post(
        f"/meisters/{tanaka}/edit", data={"name": "田中 一郎", "tags": "<script>alert(1)</script>", "csrf_token": token}
    )
    assert r.status_code == 303
    for path in (f"/meisters/{tanaka}", "/meisters"):
        body = text(client.get(path))
        assert "<script>alert(1)</script>" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    meisters.update_profile(conn, tanaka, tags=[])


def test_certifications_are_added_and_removed(own, as_role):
    app, conn = own
    tanaka, nakamura = mid(conn, "田中 一郎"), mid(conn, "中村 誠")
    client, token = as_role("meister")
    r = client.post(
        f"/meisters/{tanaka}/certifications",
        data={"name": "技能検定1級", "trade": "機械加工", "obtained_on": "1998-03-01", "csrf_token": token},
    )
    assert r.status_code == 303
    cert = meisters.profile(conn, tanaka)["certifications"][-1]
    assert (cert["name"], cert["trade"], cert["obtained_on"]) == ("技能検定1級", "機械加工", "1998-03-01")
    assert "技能検定1級(機械加工)" in text(client.get(f"/meisters/{tanaka}"))
    r = client.post(
        f"/meisters/{tanaka}/certifications", data={"name": "技能検定2級", "obtained_on": "昨年", "csrf_token": token}
    )
    assert r.status_code == 400 and "2025-04-30" in text(r) and "技能検定2級" in text(r)
    # another meister's certification through this meister's address: 404
    other = meisters.add_certification(conn, nakamura, "技能検定1級", "プレス")
    assert (
        client.post(f"/meisters/{tanaka}/certifications/{other}/delete", data={"csrf_token": token}).status_code == 404
    )
    r = client.post(f"/meisters/{tanaka}/certifications/{cert['id']}/delete", data={"csrf_token": token})
    assert r.status_code == 303
    assert cert["id"] not in [c["id"] for c in meisters.profile(conn, tanaka)["certifications"]]


def test_a_coordinator_registers_a_meister_with_a_japanese_name_and_links_an_account(own, as_role):
    app, conn = own
    # a meister account with no meister row (e.g. an apprentice made a meister later)
    uid = accounts.create_user(conn, "yamada", accounts.generate_password(), "apprentice", display_name="山田 花子")
    with conn:
        conn.execute("UPDATE users SET role = 'meister' WHERE id = ?", (uid,))
    coordinator, token = as_role("coordinator")
    page = coordinator.get("/meisters/new")
    assert page.status_code == 200 and "山田 花子" in text(page)
    assert as_role("meister")[0].get("/meisters/new").status_code == 403
    r = coordinator.post(
        "/meisters/new",
        data={
            "name": "山田 花子",
            "years_experience": "20",
            "categories": "研削",
            "areas": "京都府",
            "organisation_ids": ["2"],
            "account_id": str(uid),
            "csrf_token": token,
        },
    )
    assert r.status_code == 303
    new_id = int(re.search(r"/meisters/(\d+)", r.headers["Location"]).group(1))
    assert accounts.get_account(conn, uid).meister_id == new_id
    assert [o["id"] for o in meisters.profile(conn, new_id)["organisations"]] == [2]
    page = coordinator.get(r.headers["Location"])
    assert "山田 花子" in text(page) and "京都府" in text(page)
    assert [m["name"] for m in coordinator.get("/api/v1/meisters?q=山田").get_json()["meisters"]] == ["山田 花子"]
    # the same name again: refused, what was typed kept
    r = coordinator.post("/meisters/new", data={"name": "山田 花子", "areas": "奈良県", "csrf_token": token})
    assert r.status_code == 400 and "登録されています" in text(r) and "奈良県" in text(r)


def test_only_an_unlinked_meister_account_can_be_linked(own, as_role):
    app, conn = own
    coordinator, token = as_role("coordinator")
    linked = accounts.find_account(conn, "meister").id  # 田中 一郎's own account
    apprentice = accounts.find_account(conn, "apprentice").id
    for account, message in (
        (linked, "すでに別の技術マイスターに紐づいています"),
        (apprentice, "マイスターのアカウントだけ"),
    ):
        r = coordinator.post(
            "/meisters/new", data={"name": "紐づけ 試験", "account_id": str(account), "csrf_token": token}
        )
        assert r.status_code == 400 and message in text(r)
    assert conn.execute("SELECT 1 FROM meisters WHERE name = '紐づけ 試験'").fetchone() is None, "nothing created"


# ---------------------------------------------------------------- who can teach this


def test_who_can_teach_this_page_and_api(demo_own, demo_as_role):
    """Ranked by meaning behind the relevance bar: the real embedders (the demo of the real pipeline)."""
    app, conn = demo_own
    client, _ = demo_as_role("apprentice")
    page = client.get("/meisters/teach", query_string={"q": "薄いステンレス板を溶接すると歪む"})
    assert page.status_code == 200
    body = text(page)
    first = re.search(r'data-testid="teacher" data-meister-id="(\d+)"', body)
    assert first and int(first.group(1)) == mid(conn, "佐藤 健")
    assert re.search(r'href="/r/\d+', body)
    data = client.get("/api/v1/meisters/teach", query_string={"q": "旋盤のびびりを抑える"}).get_json()
    assert data["meisters"][0]["name"] == "田中 一郎"
    evidence = data["meisters"][0]["evidence"]
    assert evidence and all(e["url"].startswith(f"/r/{e['recording_id']}") for e in evidence)
    own_recordings = {
        r[0] for r in conn.execute("SELECT id FROM recordings WHERE meister_id = ?", (mid(conn, "田中 一郎"),))
    }
    assert {e["recording_id"] for e in evidence} <= own_recordings
    # an empty question: the page explains, the API refuses clearly
    assert client.get("/meisters/teach").status_code == 200
    r = client.get("/api/v1/meisters/teach")
    assert r.status_code == 400 and r.get_json()["code"] == "q_required" and "q" in r.get_json()["error"]


def test_who_can_teach_never_shows_a_hidden_recording(demo_own, demo_as_role):
    """田中's private note (quokka) is evidence for him and coordinators, never for the apprentices
    (behind the relevance bar of the real embedders: the demo of the real pipeline)."""
    app, conn = demo_own
    private = conn.execute("SELECT id FROM recordings WHERE title = ?", ("田中の個人メモ:治具の寸法",)).fetchone()[0]
    for key, sees in (("apprentice", False), ("other_apprentice", False), ("meister", True), ("coordinator", True)):
        client, _ = demo_as_role(key)
        data = client.get("/api/v1/meisters/teach", query_string={"q": "quokka 治具の内径"}).get_json()
        shown = {e["recording_id"] for t in data["meisters"] for e in t["evidence"]}
        assert (private in shown) is sees, key


def test_the_api_needs_a_login(own):
    app, _ = own
    anon = app.test_client()
    for path in ("/api/v1/meisters", "/api/v1/meisters/1", "/api/v1/meisters/teach?q=溶接"):
        assert anon.get(path).status_code == 401
    assert anon.get("/meisters").status_code == 302


def test_pages_in_english(own, as_role):
    app, conn = own
    client, _ = as_role("apprentice")
    body = text(client.get("/meisters", headers={"Accept-Language": "en"}))
    assert "Who can teach this?" in body and "Directory" in body
