"""The programme dashboard, its traces, CSV files, targets and "record leaving", through the Flask app.

Two knowledge bases: a small fixture one (real SQLite, rows made directly, answers known) for the
numbers, and the demo one (the real `kb demo` content) for who may see what and the demo programme data.

The fixture (FY2025 = 2025-04-01 .. 2026-03-31): organisations 本社 (1) and 第二工場 (A); meisters
田中 (both, registered 2024-06-01) and 鈴木 (本社, 2025-05-01); apprentices 小林 t1 and 佐藤 t2
(本社), 伊藤 t3 (第二工場), all in the programme since before FY2025; recordings r1 (田中, 本社) done
23:59 on 31 March 2025 Japan time (FY2024), r2 (田中, 本社) done 00:00 on 1 April (FY2025), r3 (鈴木,
第二工場) done 2025-10-01; coaching sessions s1 31 March 2025 (田中, 本社, 2 h, t1), s2 1 April (田中,
第二工場, 3 h, t1 t2), s3 10 June (鈴木, 本社, 1.5 h, t1, logged by 鈴木 himself: unconfirmed),
s4 1 December (田中, 本社, 2 h, t3); curriculum 旋盤の基本 (one required item) assigned to t1 and t3
in May 2025, t1 signed off.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from urllib.parse import unquote

import pytest

from helpers.programme import account, add_recording
from kb import coaching, curricula, curricula_progress, meisters, programme, users

FY = 2025


# ---------------------------------------------------------------- the fixture knowledge base


@pytest.fixture
def small(hash_config):
    """(app, conn, ids) over the fixture knowledge base described above."""
    from kb.home import init_home
    from web.app import create_app

    conn = init_home(hash_config)
    a = users.create_organisation(conn, "第二工場")
    m = {
        "tanaka": meisters.create_meister(conn, "田中", organisation_ids=[1, a], registered_on="2024-06-01"),
        "suzuki": meisters.create_meister(conn, "鈴木", organisation_ids=[1], registered_on="2025-05-01"),
    }
    u = {
        "coord": account(conn, "coord", "coordinator", "山本"),
        "admin": account(conn, "boss", "admin", "管理者"),
        "suzuki_account": account(conn, "suzuki", "meister", "鈴木", meister="鈴木"),
        "t1": account(conn, "t1", "apprentice", "小林"),
        "t2": account(conn, "t2", "apprentice", "佐藤"),
        "t3": account(conn, "t3", "apprentice", "伊藤", org=a, created_at="2025-01-05T00:00:00Z"),
    }
    r = {
        "r1": add_recording(conn, "芯出し", meister="田中", organisation_id=1, done_at="2025-03-31T14:59:59Z"),
        "r2": add_recording(conn, "突っ切り", meister="田中", organisation_id=1, done_at="2025-03-31T15:00:00Z"),
        "r3": add_recording(conn, "ねじ切り", meister="鈴木", organisation_id=a, done_at="2025-10-01T00:00:00Z"),
    }
    coord, suzuki = users.get_account(conn, u["coord"]), users.get_account(conn, u["suzuki_account"])
    s = {
        "s1": coaching.log_session(
            conn, coord, held_on="2025-03-31", meister_id=m["tanaka"], organisation_id=1, hours=2, technicians=[u["t1"]]
        ),
        "s2": coaching.log_session(
            conn,
            coord,
            held_on="2025-04-01",
            meister_id=m["tanaka"],
            organisation_id=a,
            hours=3,
            technique="旋盤",
            technicians=[u["t1"], u["t2"]],
        ),
        "s3": coaching.log_session(
            conn,
            suzuki,
            held_on="2025-06-10",
            meister_id=m["suzuki"],
            organisation_id=1,
            hours=1.5,
            technicians=[u["t1"]],
        ),
        "s4": coaching.log_session(
            conn, coord, held_on="2025-12-01", meister_id=m["tanaka"], organisation_id=1, hours=2, technicians=[u["t3"]]
        ),
    }
    c1 = curricula.create(conn, title="旋盤の基本")
    item = curricula.add_item(conn, c1, r["r2"])
    for who in ("t1", "t3"):
        aid = curricula.assign(conn, c1, user_id=u[who])
        with conn:
            conn.execute("UPDATE curriculum_assignments SET created_at = '2025-05-01T00:00:00Z' WHERE id = ?", (aid,))
    curricula_progress.sign_off(conn, item, u["t1"], coord)
    app = create_app({"KB_CONFIG": hash_config, "TESTING": True})
    yield app, conn, {"org": a, "c1": c1, **m, **u, **r, **s}
    conn.close()


def client_as(app, login, language="en"):
    from helpers.web import session_client
    from web.i18n import COOKIE

    client = session_client(app, login)
    client.set_cookie(COOKIE, language)
    return client


def card_values(page: str) -> dict[str, str]:
    """data-figure -> the text of its .figure-value (the contract the e2e test relies on)."""
    return dict(re.findall(r'data-figure="(\w+)".*?class="figure-value"[^>]*>([^<]*)</a>', page, flags=re.S))


def card_links(page: str) -> dict[str, str]:
    return {
        name: href.replace("&amp;", "&")
        for name, href in re.findall(r'data-figure="(\w+)".*?<a class="figure-value" href="([^"]+)"', page, flags=re.S)
    }


def traced_ids(page: str) -> list[tuple[str, int]]:
    return [(kind, int(i)) for kind, i in re.findall(r'<tr class="[\w-]+" data-kind="(\w+)" data-id="(\d+)"', page)]


# ---------------------------------------------------------------- the numbers


def test_dashboard_numbers_are_the_figures_of_kb_programme(small):
    from web.views.programme import shown

    app, conn, ids = small
    client = client_as(app, "coord")
    for org in (None, 1, ids["org"]):
        page = client.get(f"/programme?fy={FY}&org={org or ''}").get_data(as_text=True)
        expected = {f.name: shown(f.unit, f.value) for f in programme.figures(conn, FY, org)}
        assert card_values(page) == expected
    everyone = card_values(client.get(f"/programme?fy={FY}").get_data(as_text=True))
    assert everyone == {
        "technique_records": "2",
        "meisters_registered": "2",
        "meisters_active": "2",
        "coaching_sessions": "2",
        "coaching_hours": "5",
        "technicians_reached": "3",
        "curricula_run": "1",
        "completion_rate": "50.0",
        "retention_rate": "100.0",
    }
    second = card_values(client.get(f"/programme?fy={FY}&org={ids['org']}").get_data(as_text=True))
    assert (second["technique_records"], second["coaching_hours"], second["meisters_registered"]) == ("1", "3", "1")
    assert second["completion_rate"] == "0.0"


def test_confirming_a_session_changes_the_dashboard(small):
    app, conn, ids = small
    client = client_as(app, "coord")
    before = card_values(client.get(f"/programme?fy={FY}").get_data(as_text=True))
    coaching.confirm(conn, ids["s3"], users.get_account(conn, ids["coord"]))
    after = card_values(client.get(f"/programme?fy={FY}").get_data(as_text=True))
    assert (before["coaching_sessions"], after["coaching_sessions"]) == ("2", "3")
    assert (before["coaching_hours"], after["coaching_hours"]) == ("5", "6.5")


def test_the_fiscal_year_boundary_31_march_and_1_april(small):
    app, conn, ids = small
    client = client_as(app, "coord")
    for year, session, recording, month in ((2024, "s1", "r1", "2025-03"), (FY, "s2", "r2", "2025-04")):
        data = client.get(f"/programme?fy={year}", headers={"Accept": "application/json"}).get_json()
        by_name = {f["name"]: f for f in data["figures"]}
        assert by_name["coaching_sessions"]["value"] == (1 if year == 2024 else 2)
        bars = {m["month"]: m["value"] for m in by_name["coaching_sessions"]["months"]}
        assert list(bars) == programme.months(year) and bars[month] == 1
        page = client.get(f"/programme/figures/coaching_sessions?fy={year}&month={month}").get_data(as_text=True)
        assert traced_ids(page) == [("coaching_session", ids[session])]
        page = client.get(f"/programme/figures/technique_records?fy={year}&month={month}").get_data(as_text=True)
        assert traced_ids(page) == [("recording", ids[recording])]


def test_monthly_bars_count_their_month_and_link_to_their_records(small):
    app, conn, ids = small
    client = client_as(app, "coord")
    data = client.get(f"/programme?fy={FY}", headers={"Accept": "application/json"}).get_json()
    for f in data["figures"]:
        if f["name"] not in programme.MONTHLY:
            assert f["months"] == [] and f["months_help"] is None
            continue
        total = round(sum(m["value"] for m in f["months"]), 2)
        if f["name"] in programme.ADDS_UP:
            assert total == f["value"] and f["months_add_up"] is True, f["name"]
        else:  # each meister / technician / curriculum once in the year, once in every month it was active
            assert total >= f["value"] and f["months_add_up"] is False, f["name"]
        for m in f["months"]:
            listed = client.get(m["trace"], headers={"Accept": "application/json"}).get_json()
            assert len(listed["records"]) == m["count"], (f["name"], m["month"])
            assert all(r["date"].startswith(m["month"]) for r in listed["records"]), (f["name"], m["month"])
    page = client.get(f"/programme?fy={FY}").get_data(as_text=True)
    assert '<svg viewBox="0 0 360 150" role="group"' in page and "style=" not in page
    assert f'href="/programme/figures/coaching_hours?fy={FY}&amp;org=&amp;month=2025-12"' in page
    for name in programme.MONTHLY:  # twelve bars, each a link to its month's records
        card = page.split(f'data-figure="{name}"')[1].split("</article>")[0]
        months = re.findall(r'<a href="([^"]+)" class="chart-link" data-month="([\d-]+)"', card)
        assert [m for _, m in months] == programme.months(FY), name
        assert all(href.endswith(f"month={m}") and f"/programme/figures/{name}?" in href for href, m in months)


def test_december_bars_count_who_was_active_in_december(small):
    """Issue 14, item 9: 田中, active since April, coached 伊藤 on 1 December; 小林 (coached in April) is
    coached again on 2 December.  December's bars now show them; the year still counts each once."""
    app, conn, ids = small
    coaching.log_session(
        conn,
        users.get_account(conn, ids["coord"]),
        held_on="2025-12-02",
        meister_id=ids["tanaka"],
        organisation_id=1,
        hours=1.5,
        technicians=[ids["t1"]],
    )
    client = client_as(app, "coord", "ja")
    data = client.get(f"/programme?fy={FY}", headers={"Accept": "application/json"}).get_json()
    by_name = {f["name"]: f for f in data["figures"]}
    december = {
        name: {m["month"]: m for m in by_name[name]["months"]}["2025-12"]
        for name in ("meisters_active", "technicians_reached", "coaching_sessions")
    }
    assert [december[n]["value"] for n in december] == [1, 2, 2]
    assert (by_name["meisters_active"]["value"], by_name["technicians_reached"]["value"]) == (2, 3)
    page = client.get(december["technicians_reached"]["trace"]).get_data(as_text=True)
    assert traced_ids(page) == [("user", ids["t3"]), ("user", ids["t1"])]  # 伊藤 (1 Dec), 小林 (2 Dec)
    assert "2025年12月" in page and "2025-12-02" in page and "その月に指導を受けた技術者の人数" in page
    page = client.get(december["meisters_active"]["trace"]).get_data(as_text=True)
    assert traced_ids(page) == [("meister", ids["tanaka"])] and "2025-12-01" in page
    rows = read_csv(client.get(f"/programme/figures/technicians_reached.csv?fy={FY}&month=2025-12").data)
    assert [(row[1], row[3]) for row in rows[1:]] == [(str(ids["t3"]), "2025-12-01"), (str(ids["t1"]), "2025-12-02")]
    dashboard = client.get(f"/programme?fy={FY}").get_data(as_text=True)
    assert dashboard.count('class="chart-help"') == len(programme.MONTHLY)
    assert (
        "各棒:その月に活動した" in dashboard and "棒の合計は、一人を一度だけ数える年度の数より多くなります" in dashboard
    )
    assert "各棒:その月に完成した記録の数。棒を合計すると年度の数になります。" in dashboard
    english = client_as(app, "coord").get(f"/programme?fy={FY}").get_data(as_text=True)
    assert "Each bar: different technicians coached in that month." in english


def test_each_trace_lists_exactly_the_records_counted(small):
    app, conn, ids = small
    client = client_as(app, "coord")
    for org in (None, 1, ids["org"]):
        page = client.get(f"/programme?fy={FY}&org={org or ''}").get_data(as_text=True)
        links = card_links(page)
        assert set(links) == set(programme.FIGURES)
        for name, href in links.items():
            listed = traced_ids(client.get(href).get_data(as_text=True))
            assert listed == [(e["kind"], e["id"]) for e in programme.trace(conn, name, FY, org)], (name, org)
    page = client.get(f"/programme/figures/coaching_sessions?fy={FY}").get_data(as_text=True)
    assert f'href="/coaching/{ids["s2"]}"' in page and f'href="/coaching/{ids["s3"]}"' not in page  # unconfirmed
    page = client.get(f"/programme/figures/technique_records?fy={FY}").get_data(as_text=True)
    assert f'href="/r/{ids["r2"]}"' in page and f'href="/r/{ids["r1"]}"' not in page
    page = client.get(f"/programme/figures/meisters_registered?fy={FY}").get_data(as_text=True)
    assert f'href="/meisters/{ids["suzuki"]}"' in page
    page = client.get(f"/programme/figures/curricula_run?fy={FY}").get_data(as_text=True)
    assert f'href="/curricula/{ids["c1"]}"' in page


def test_a_rate_lists_everyone_it_is_out_of_marked_counted_or_not(small):
    app, conn, ids = small
    data = (
        client_as(app, "coord")
        .get(f"/programme/figures/completion_rate?fy={FY}", headers={"Accept": "application/json"})
        .get_json()
    )
    assert {r["id"]: r["counted"] for r in data["records"]} == {ids["t1"]: True, ids["t3"]: False}
    assert data["value"] == "50.0" and data["figure"]["parts"] == "1 of 2 technicians completed"
    page = client_as(app, "coord").get(f"/programme/figures/completion_rate?fy={FY}").get_data(as_text=True)
    assert f'<tr class="not-counted" data-kind="user" data-id="{ids["t3"]}">' in page
    assert f'href="/admin/users#user-{ids["t3"]}"' in page


def test_bad_selections_are_400_and_an_unknown_figure_404(small):
    app, conn, ids = small
    client = client_as(app, "coord")
    for url in (
        "/programme?fy=abc",
        "/programme?fy=1899",
        "/programme?org=99",
        "/programme?org=x",
        f"/programme/figures/coaching_hours?fy={FY}&month=2024-12",
        "/programme/figures.csv?fy=二〇二五",
        "/programme/targets?fy=abc",
    ):
        r = client.get(url)
        assert r.status_code == 400, url
        assert "Traceback" not in r.get_data(as_text=True)
    assert "Choose a fiscal year" in client.get("/programme?fy=abc").get_data(as_text=True)
    assert client.get("/programme/figures/happiness").status_code == 404
    assert client.get("/programme/figures/happiness.csv").status_code == 404
    assert client.get("/api/v1/programme/figures?fy=abc").get_json()["status"] == 400
    assert client.get("/api/v1/programme/figures?fy=abc").get_json()["code"] == "fiscal_year"


# ---------------------------------------------------------------- CSV and JSON


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_figures_csv_is_excel_ready_and_in_the_interface_language(small):
    app, conn, ids = small
    r = client_as(app, "coord", "ja").get(f"/programme/figures.csv?fy={FY}&org={ids['org']}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = read_csv(r.data)
    assert rows[0] == ["指標", "年度", "事業所", "値", "単位", "集計対象", "母数", "目標", "目標達成"]
    by_label = {row[0]: row for row in rows[1:]}
    assert len(rows) == 1 + len(programme.FIGURES)
    assert by_label["技術記録の作成数"][1:4] == ["2025年度", "第二工場", "1"]
    assert by_label["技能継承の修了率"][3:] == ["0", "%", "0", "1", "80", "いいえ"]
    disposition = r.headers["Content-Disposition"]
    assert 'filename="programme-FY2025-org2.csv"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "事業指標-2025年度-第二工場.csv"
    english = read_csv(client_as(app, "coord").get(f"/programme/figures.csv?fy={FY}").data)
    assert english[0][0] == "Figure" and english[1][:3] == ["Technique records created", "FY2025", "All organisations"]


def test_trace_csv_lists_the_records_of_one_figure(small):
    app, conn, ids = small
    r = client_as(app, "coord", "ja").get(f"/programme/figures/coaching_hours.csv?fy={FY}")
    rows = read_csv(r.data)
    assert rows[0] == ["種類", "番号", "名前", "日付", "集計対象", "時間"]
    assert [(row[1], row[5]) for row in rows[1:]] == [(str(ids["s2"]), "3"), (str(ids["s4"]), "2")]
    assert rows[1][0] == "指導実績" and rows[1][2] == "田中 旋盤"
    assert 'filename="coaching_hours-FY2025-all.csv"' in r.headers["Content-Disposition"]
    month = read_csv(client_as(app, "coord").get(f"/programme/figures/coaching_hours.csv?fy={FY}&month=2025-12").data)
    assert [row[1] for row in month[1:]] == [str(ids["s4"])]


def test_json_api_with_a_token(small):
    app, conn, ids = small
    _, token = users.create_token(conn, ids["coord"], "dashboard")
    r = app.test_client().get(f"/api/v1/programme/figures?fy={FY}&org=1", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    data = r.get_json()
    assert (data["fiscal_year"], data["organisation"]) == (FY, "本社")
    assert {f["name"]: f["value"] for f in data["figures"]} == {f.name: f.value for f in programme.figures(conn, FY, 1)}
    _, apprentice_token = users.create_token(conn, ids["t1"], "curious")
    assert (
        app.test_client()
        .get("/api/v1/programme/figures", headers={"Authorization": f"Bearer {apprentice_token}"})
        .status_code
        == 403
    )
    assert app.test_client().get("/api/v1/programme/figures").status_code == 401


# ---------------------------------------------------------------- targets


def test_admin_edits_targets_and_the_dashboard_follows(small):
    from helpers.web import csrf_token

    app, conn, ids = small
    admin = client_as(app, "boss")
    form = {
        "fy": str(FY),
        "action": "save",
        "csrf_token": csrf_token(admin),
        "default-technique_records": "100",
        "default-meisters_registered": "200",
        "default-completion_rate": "80",
        "default-retention_rate": "85",
        "year-technique_records": "2",
        "year-meisters_registered": "",
        "year-completion_rate": "",
        "year-retention_rate": "",
    }
    r = admin.post("/programme/targets", data=form)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/programme/targets?fy={FY}&done=saved")
    assert programme.target_table(conn, FY)[0] == {
        "name": "technique_records",
        "unit": "count",
        "default": 100.0,
        "year": 2.0,
        "value": 2.0,
    }
    page = admin.get(f"/programme?fy={FY}").get_data(as_text=True)
    card = page.split('data-figure="technique_records"')[1].split("</article>")[0]
    assert "Target met" in card and "Target: 2 records" in card
    assert programme.get_target(conn, "technique_records", 2024) == 100  # other years keep the default

    clear = {"fy": str(FY), "action": "clear", "name": "technique_records", "csrf_token": form["csrf_token"]}
    assert admin.post("/programme/targets", data=clear).status_code == 303
    assert programme.get_target(conn, "technique_records", FY) == 100
    card = (
        admin.get(f"/programme?fy={FY}")
        .get_data(as_text=True)
        .split('data-figure="technique_records"')[1]
        .split("</article>")[0]
    )
    assert "Not met yet" in card and "2.0% of the target" in card


@pytest.mark.parametrize(
    "field, value",
    [
        ("default-technique_records", "-1"),
        ("default-retention_rate", "abc"),
        ("year-completion_rate", "101"),
        ("default-coaching_hours", ""),
    ],
)
def test_bad_targets_are_refused_with_a_clear_message_and_nothing_saved(small, field, value):
    from helpers.web import csrf_token

    app, conn, ids = small
    admin = client_as(app, "boss")
    before = programme.target_table(conn, FY)
    form = {
        "fy": str(FY),
        "csrf_token": csrf_token(admin),
        "default-technique_records": "150",
        "default-meisters_registered": "200",
        "default-completion_rate": "80",
        "default-retention_rate": "85",
        field: value,
    }
    r = admin.post("/programme/targets", data=form)
    if field == "default-coaching_hours":  # not a target: ignored, the rest is saved
        assert r.status_code == 303 and programme.get_target(conn, "technique_records", FY) == 150
        return
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "must be a number of at least 0 (a rate at most 100)" in page
    assert f'value="{value}"' in page  # what was typed stays in the form
    assert programme.target_table(conn, FY) == before


def test_coordinators_read_targets_but_only_admins_change_them(small):
    from helpers.web import csrf_token

    app, conn, ids = small
    coord = client_as(app, "coord")
    page = coord.get("/programme/targets").get_data(as_text=True)
    assert "Only an administrator changes targets." in page and 'name="default-technique_records"' not in page
    r = coord.post(
        "/programme/targets", data={"fy": str(FY), "default-technique_records": "1", "csrf_token": csrf_token(coord)}
    )
    assert r.status_code == 403 and programme.get_target(conn, "technique_records", FY) == 100


# ---------------------------------------------------------------- record leaving


def test_recording_that_an_apprentice_left_changes_retention_and_can_be_undone(small):
    from helpers.web import csrf_token

    app, conn, ids = small
    coord = client_as(app, "coord")
    token = csrf_token(coord)
    r = coord.post(
        f"/admin/users/{ids['t2']}/leaving", data={"left_on": "2025-09-30", "note": "家業を継ぐ", "csrf_token": token}
    )
    assert r.status_code == 303 and r.headers["Location"].endswith(f"done=left#user-{ids['t2']}")
    users_page = coord.get("/admin/users").get_data(as_text=True)
    row = users_page.split(f'id="user-{ids["t2"]}"')[1].split("</tr>")[0]
    assert "Left the programme on 2025-09-30" in row and "家業を継ぐ" in row and "Undo leaving" in row
    assert card_values(coord.get(f"/programme?fy={FY}").get_data(as_text=True))["retention_rate"] == "66.7"
    trace = coord.get(f"/programme/figures/retention_rate?fy={FY}").get_data(as_text=True)
    assert f'<tr class="not-counted" data-kind="user" data-id="{ids["t2"]}">' in trace and "2025-09-30" in trace
    listed = coord.get("/admin/users", headers={"Accept": "application/json"}).get_json()["users"]
    assert {u["id"]: u["left_on"] for u in listed}[ids["t2"]] == "2025-09-30"

    assert coord.post(f"/admin/users/{ids['t2']}/leaving/undo", data={"csrf_token": token}).status_code == 303
    assert card_values(coord.get(f"/programme?fy={FY}").get_data(as_text=True))["retention_rate"] == "100.0"


def test_leaving_refuses_bad_dates_and_non_apprentices(small):
    from helpers.web import csrf_token

    app, conn, ids = small
    coord = client_as(app, "coord")
    token = csrf_token(coord)
    r = coord.post(f"/admin/users/{ids['t1']}/leaving", data={"left_on": "2025/09/30", "csrf_token": token})
    assert r.status_code == 400 and "is not a date (write it as 2025-04-30)" in r.get_data(as_text=True)
    r = coord.post(f"/admin/users/{ids['t1']}/leaving", data={"left_on": "", "csrf_token": token})
    assert r.status_code == 400 and "Enter the date they left." in r.get_data(as_text=True)
    r = coord.post(f"/admin/users/{ids['suzuki_account']}/leaving", data={"left_on": "2025-09-30", "csrf_token": token})
    assert r.status_code == 400 and "apprentices only" in r.get_data(as_text=True)
    assert (
        coord.post(
            f"/admin/users/{ids['admin']}/leaving", data={"left_on": "2025-09-30", "csrf_token": token}
        ).status_code
        == 403
    )
    assert programme.leavings(conn) == {}
    meister = client_as(app, "suzuki")
    assert (
        meister.post(
            f"/admin/users/{ids['t1']}/leaving", data={"left_on": "2025-09-30", "csrf_token": csrf_token(meister)}
        ).status_code
        == 403
    )


# ---------------------------------------------------------------- the demo knowledge base


def test_only_coordinators_and_admins_see_the_programme(client_for):
    for key in ("apprentice", "meister", "other_apprentice", "other_meister"):
        client = client_for(key)
        for url in (
            "/programme",
            "/programme/figures/technique_records",
            "/programme/figures.csv",
            "/programme/targets",
            "/api/v1/programme/figures",
        ):
            assert client.get(url).status_code == 403, (key, url)
    for key in ("coordinator", "admin"):
        assert client_for(key).get("/programme").status_code == 200


def test_the_demo_programme_is_not_empty(client_for, home):
    from kb import db

    page = client_for("coordinator").get("/programme").get_data(as_text=True)
    values = card_values(page)
    conn = db.connect(home / "kb.sqlite3")
    try:
        figures = {f.name: f for f in programme.figures(conn, programme.current_fiscal_year())}
    finally:
        conn.close()
    assert figures["coaching_sessions"].value >= 6 and figures["meisters_registered"].value >= 5
    assert figures["technique_records"].value >= 7
    assert values["coaching_sessions"] == str(figures["coaching_sessions"].value)


def test_demo_programme_data_is_made_once(hash_config):
    from datetime import date

    from cli.demo import DEMO_PROFILES, DEMO_SESSIONS, ensure_demo_accounts, ensure_demo_programme
    from kb.home import init_home

    conn = init_home(hash_config)
    try:
        lines = list(ensure_demo_accounts(hash_config, conn))
        assert any("coaching sessions added" in line for line in lines)
        assert "demo passwords are kept" in lines[-1]
        sessions = coaching.list_sessions(conn)
        assert len(sessions) == len(DEMO_SESSIONS) and sum(not s["confirmed"] for s in sessions) == 1
        first, last = programme.fiscal_year_bounds(programme.current_fiscal_year())
        assert all(first <= s["held_on"] <= last for s in sessions)
        for p in DEMO_PROFILES:
            mid = conn.execute("SELECT id FROM meisters WHERE name = ?", (p.meister,)).fetchone()[0]
            profile = meisters.profile(conn, mid)
            assert profile["certifications"][0]["name"].startswith("技能検定") and profile["areas"]
            assert profile["categories"] and profile["organisations"]
        again = list(ensure_demo_programme(hash_config, conn, today=date(2030, 6, 1)))
        assert again == ["demo programme data exists already"]
        assert len(coaching.list_sessions(conn)) == len(DEMO_SESSIONS)
        assert conn.execute("SELECT COUNT(*) FROM meister_certifications").fetchone()[0] == len(DEMO_PROFILES)
    finally:
        conn.close()
