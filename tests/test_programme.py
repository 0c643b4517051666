"""Programme figures on a real SQLite knowledge base with fixture data whose answers are known.

The fixture (fiscal years: FY2024 = 2024-04-01 .. 2025-03-31, FY2025 = 2025-04-01 .. 2026-03-31):
organisations 本社 (1) and 第二工場 (A); meisters 田中 (both, registered 2024-06-01),
鈴木 (本社, 2025-05-01), 高橋 (第二工場, 2026-04-01); apprentices 小林 t1 and 佐藤 t2 (本社),
伊藤 t3 and 渡辺 t4 (第二工場), 山田 t5 (本社, joined FY2026).
"""

from __future__ import annotations

import codecs
import csv
import io

import pytest

from helpers.programme import account, add_recording
from kb import coaching, curricula, curricula_progress, meisters, programme, recordings, users
from kb.db import connect, migrate
from kb.errors import InputError

FY = 2025


def apprentice(conn, login, name, org, created_at):
    return account(conn, login, "apprentice", name, org, created_at)


@pytest.fixture
def kb(hash_config):
    from kb.home import init_home

    conn = init_home(hash_config)
    a = users.create_organisation(conn, "第二工場")
    m = {
        "tanaka": meisters.create_meister(conn, "田中", organisation_ids=[1, a], registered_on="2024-06-01"),
        "suzuki": meisters.create_meister(conn, "鈴木", organisation_ids=[1], registered_on="2025-05-01"),
        "takahashi": meisters.create_meister(conn, "高橋", organisation_ids=[a], registered_on="2026-04-01"),
    }
    u = {
        "coord": users.create_user(conn, "coord", users.generate_password(), "coordinator", display_name="山本"),
        "suzuki": users.create_user(
            conn, "suzuki", users.generate_password(), "meister", meister="鈴木", display_name="鈴木"
        ),
        "t1": apprentice(conn, "t1", "小林", 1, "2024-04-10T00:00:00Z"),
        "t2": apprentice(conn, "t2", "佐藤", 1, "2025-01-01T00:00:00Z"),
        "t3": apprentice(conn, "t3", "伊藤", a, "2025-05-01T00:00:00Z"),
        "t4": apprentice(conn, "t4", "渡辺", a, "2023-01-01T00:00:00Z"),
        "t5": apprentice(conn, "t5", "山田", 1, "2026-04-10T00:00:00Z"),
    }
    r = {
        "r1": add_recording(conn, "芯出し", meister="田中", organisation_id=1, done_at="2025-03-31T14:59:59Z"),
        "r2": add_recording(conn, "突っ切り", meister="田中", organisation_id=1, done_at="2025-03-31T15:00:00Z"),
        "r3": add_recording(conn, "ねじ切り", meister="鈴木", organisation_id=a, done_at="2025-10-01T00:00:00Z"),
        "r4": add_recording(conn, "未処理", meister="鈴木", organisation_id=1, status="pending"),
        "r5": add_recording(conn, "仕上げ", meister="田中", organisation_id=1, done_at="2026-03-31T14:00:00Z"),
    }
    coord, suzuki = users.get_account(conn, u["coord"]), users.get_account(conn, u["suzuki"])
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
            conn,
            coord,
            held_on="2025-12-01",
            meister_id=m["takahashi"],
            organisation_id=a,
            hours=2,
            technicians=[u["t3"]],
        ),
    }
    yield conn, a, m, u, r, s
    conn.close()


def ids(records):
    return [e["id"] for e in records]


def test_fiscal_year_arithmetic():
    from datetime import date

    assert programme.fiscal_year_of(date(2025, 3, 31)) == 2024
    assert programme.fiscal_year_of(date(2025, 4, 1)) == 2025
    assert programme.fiscal_year_bounds(2025) == ("2025-04-01", "2026-03-31")
    assert programme.utc_bounds(2025) == ("2025-03-31T15:00:00Z", "2026-03-31T15:00:00Z")
    assert programme.japan_day("2025-03-31T15:00:00Z") == "2025-04-01"
    with pytest.raises(InputError, match="the leaving date '2025-02-30' is not a date"):
        programme.check_day("2025-02-30", "the leaving date")


def test_technique_records_split_at_the_fiscal_year_boundary_in_japan_time(kb):
    conn, a, m, u, r, s = kb
    assert ids(programme.trace(conn, "technique_records", 2024)) == [r["r1"]]
    assert ids(programme.trace(conn, "technique_records", FY)) == [r["r2"], r["r3"], r["r5"]]
    assert programme.figure(conn, "technique_records", FY, 1).records[0]["date"] == "2025-04-01"
    assert ids(programme.trace(conn, "technique_records", FY, 1)) == [r["r2"], r["r5"]]
    assert ids(programme.trace(conn, "technique_records", FY, a)) == [r["r3"]]


def test_a_deleted_recording_no_longer_counts(kb):
    conn, a, m, u, r, s = kb
    with conn:
        conn.execute("DELETE FROM recordings WHERE id = ?", (r["r5"],))
    fig = programme.figure(conn, "technique_records", FY)
    assert (fig.value, ids(fig.records)) == (2, [r["r2"], r["r3"]])


def test_done_at_is_set_when_a_recording_first_reaches_done_and_kept(kb):
    conn, *_ = kb
    rid = add_recording(conn, "新しい記録", meister="田中", organisation_id=1, status="pending")
    assert recordings.get(conn, rid)["done_at"] is None
    with conn:
        recordings.update(conn, rid, status="done")
    first = recordings.get(conn, rid)["done_at"]
    assert first and first.endswith("Z")
    with conn:
        conn.execute("UPDATE recordings SET done_at = '2025-05-05T00:00:00Z' WHERE id = ?", (rid,))
        recordings.update(conn, rid, status="processing")  # re-processed after a replaced file
        recordings.update(conn, rid, status="done")
        recordings.update(conn, rid, title="題名を変更")
    assert recordings.get(conn, rid)["done_at"] == "2025-05-05T00:00:00Z"


def test_coaching_figures_count_confirmed_sessions_by_fiscal_year(kb):
    conn, a, m, u, r, s = kb
    assert ids(programme.trace(conn, "coaching_sessions", 2024)) == [s["s1"]]
    fig = programme.figure(conn, "coaching_sessions", FY)
    assert (fig.value, ids(fig.records)) == (2, [s["s2"], s["s4"]])  # s3 is not confirmed yet
    assert programme.figure(conn, "coaching_hours", FY).value == 5
    coaching.confirm(conn, s["s3"], users.get_account(conn, u["coord"]))
    assert ids(programme.trace(conn, "coaching_sessions", FY)) == [s["s2"], s["s3"], s["s4"]]
    hours = programme.figure(conn, "coaching_hours", FY)
    assert hours.value == 6.5 == sum(e["hours"] for e in hours.records)
    reached = programme.figure(conn, "technicians_reached", FY)
    assert sorted(ids(reached.records)) == sorted([u["t1"], u["t2"], u["t3"]]) and reached.value == 3
    assert programme.figure(conn, "coaching_hours", FY, 1).value == 1.5
    assert ids(programme.trace(conn, "technicians_reached", FY, 1)) == [u["t1"]]
    assert programme.figure(conn, "coaching_hours", FY, a).value == 5


def test_a_meister_in_two_organisations_counts_once_overall_and_once_in_each(kb):
    conn, a, m, u, r, s = kb
    everyone = programme.figure(conn, "meisters_registered", FY)
    assert sorted(ids(everyone.records)) == sorted([m["tanaka"], m["suzuki"]]) and everyone.value == 2
    assert sorted(ids(programme.trace(conn, "meisters_registered", FY, 1))) == sorted([m["tanaka"], m["suzuki"]])
    assert ids(programme.trace(conn, "meisters_registered", FY, a)) == [m["tanaka"]]
    assert ids(programme.trace(conn, "meisters_registered", 2024)) == [m["tanaka"]]
    assert programme.figure(conn, "meisters_registered", 2026).value == 3


def test_active_meisters_coached_or_recorded_in_the_year(kb):
    conn, a, m, u, r, s = kb
    coaching.confirm(conn, s["s3"], users.get_account(conn, u["coord"]))
    active = {e["id"]: e["reason"] for e in programme.trace(conn, "meisters_active", FY)}
    assert active == {m["tanaka"]: "coached+recorded", m["suzuki"]: "coached+recorded", m["takahashi"]: "coached"}
    assert {e["id"] for e in programme.trace(conn, "meisters_active", FY, 1)} == {m["tanaka"], m["suzuki"]}
    assert {e["id"] for e in programme.trace(conn, "meisters_active", FY, a)} == {
        m["tanaka"],
        m["suzuki"],
        m["takahashi"],
    }
    assert {e["id"] for e in programme.trace(conn, "meisters_active", 2024)} == {m["tanaka"]}


def bars(conn, name, year, org=None):
    """{month: value} of a figure's monthly bars, only the months that are not 0."""
    return {b["month"]: b["value"] for b in programme.by_month(programme.figure(conn, name, year, org)) if b["value"]}


@pytest.fixture
def december(kb):
    """The fixture plus a busy December 2025 (issue 14, item 9): 鈴木 finishes a recording on 5 December,
    田中 one at 00:30 on 1 December Japan time (30 November in UTC), and 田中 coaches 小林 (t1, coached in
    April already) on 2 December."""
    conn, a, m, u, r, s = kb
    r["r6"] = add_recording(conn, "面取り", meister="鈴木", organisation_id=1, done_at="2025-12-05T01:00:00Z")
    r["r7"] = add_recording(conn, "段付け", meister="田中", organisation_id=1, done_at="2025-11-30T15:30:00Z")
    s["s5"] = coaching.log_session(
        conn,
        users.get_account(conn, u["coord"]),
        held_on="2025-12-02",
        meister_id=m["tanaka"],
        organisation_id=1,
        hours=1,
        technicians=[u["t1"]],
    )
    return kb


def test_active_meisters_bar_counts_the_meisters_active_in_that_month(december):
    conn, a, m, u, r, s = december
    fig = programme.figure(conn, "meisters_active", FY)
    assert fig.value == 3  # the year counts each meister once
    # 田中: April (r2, s2), December (r7, s5), March (r5: 23:00 on 31 March Japan time); 鈴木: October (r3) and
    # December (r6); 高橋: December (s4).  Before issue 14 December showed 1 (高橋, the only first activity).
    assert bars(conn, "meisters_active", FY) == {"2025-04": 1, "2025-10": 1, "2025-12": 3, "2026-03": 1}
    dec = programme.in_month(fig.records, "2025-12")
    assert {e["id"]: (e["date"], e["reason"]) for e in dec} == {
        m["tanaka"]: ("2025-12-01", "coached+recorded"),
        m["suzuki"]: ("2025-12-05", "recorded"),
        m["takahashi"]: ("2025-12-01", "coached"),
    }
    assert {e["id"]: e["reason"] for e in fig.records}[m["suzuki"]] == "recorded"  # the year's reason stays
    assert sum(bars(conn, "meisters_active", FY).values()) > fig.value  # bars no longer add up to the year
    assert bars(conn, "meisters_active", FY, a) == {"2025-04": 1, "2025-10": 1, "2025-12": 1}


def test_technicians_bar_counts_the_technicians_coached_in_that_month(december):
    conn, a, m, u, r, s = december
    fig = programme.figure(conn, "technicians_reached", FY)
    assert fig.value == 3  # 小林, 佐藤, 伊藤, each once in the year
    # 小林 was coached in April and again on 2 December: December counts him (before: 1, only 伊藤).
    assert bars(conn, "technicians_reached", FY) == {"2025-04": 2, "2025-12": 2}
    assert ids(programme.in_month(fig.records, "2025-12")) == [u["t3"], u["t1"]]  # 伊藤, 小林 by name
    assert programme.in_month(fig.records, "2025-05") == []  # a month with none
    coaching.confirm(conn, s["s3"], users.get_account(conn, u["coord"]))  # 小林 on 10 June, once confirmed
    assert bars(conn, "technicians_reached", FY) == {"2025-04": 2, "2025-06": 1, "2025-12": 2}
    assert programme.figure(conn, "technicians_reached", FY).value == 3


def test_monthly_bars_respect_the_fiscal_year_april_to_march(december):
    conn, a, m, u, r, s = december
    # r1 finished at 23:59:59 on 31 March 2025 Japan time and s1 was held that day: FY2024's March bar;
    # r2 (00:00 on 1 April) and s2 (1 April): FY2025's April bar.
    assert bars(conn, "meisters_active", 2024) == {"2025-03": 1}
    assert bars(conn, "technicians_reached", 2024) == {"2025-03": 1}
    assert (
        [b["month"] for b in programme.by_month(programme.figure(conn, "meisters_active", FY))]
        == programme.months(FY)
        == [
            "2025-04",
            "2025-05",
            "2025-06",
            "2025-07",
            "2025-08",
            "2025-09",
            "2025-10",
            "2025-11",
            "2025-12",
            "2026-01",
            "2026-02",
            "2026-03",
        ]
    )
    assert programme.in_month(programme.trace(conn, "meisters_active", FY), "2025-03") == []  # not this year's
    # a year with nothing: twelve bars of 0, never an error
    empty = programme.by_month(programme.figure(conn, "technicians_reached", 2030))
    assert [b["value"] for b in empty] == [0] * 12 and programme.figure(conn, "technicians_reached", 2030).value == 0


def test_bars_of_counted_records_still_add_up_to_the_year(december):
    conn, a, m, u, r, s = december
    for name in programme.ADDS_UP:
        fig = programme.figure(conn, name, FY)
        assert round(sum(b["value"] for b in programme.by_month(fig)), 2) == fig.value, name
    assert bars(conn, "technique_records", FY) == {"2025-04": 1, "2025-10": 1, "2025-12": 2, "2026-03": 1}
    assert bars(conn, "coaching_hours", FY) == {"2025-04": 3, "2025-12": 3}


@pytest.fixture
def with_curricula(kb):
    conn, a, m, u, r, s = kb
    coord = users.get_account(conn, u["coord"])
    c1 = curricula.create(conn, title="旋盤の基本")
    i1 = curricula.add_item(conn, c1, r["r2"])
    i2 = curricula.add_item(conn, c1, r["r3"])
    curricula.update_item(conn, i2, note="", required=False)
    cohort = curricula.create_cohort(conn, "2025年度入社")
    curricula.set_members(conn, cohort, [u["t2"], u["t3"]])
    direct = curricula.assign(conn, c1, user_id=u["t1"])
    via_cohort = curricula.assign(conn, c1, cohort_id=cohort)
    c2 = curricula.create(conn, title="フライス盤")
    i3 = curricula.add_item(conn, c2, r["r1"])
    old = curricula.assign(conn, c2, user_id=u["t4"])
    with conn:
        for aid, at in (
            (direct, "2025-05-01T00:00:00Z"),
            (via_cohort, "2025-06-01T00:00:00Z"),
            (old, "2024-05-01T00:00:00Z"),
        ):
            conn.execute("UPDATE curriculum_assignments SET created_at = ? WHERE id = ?", (at, aid))
    curricula_progress.sign_off(conn, i1, u["t1"], coord)  # the required item: t1 completed c1
    curricula_progress.sign_off(conn, i2, u["t2"], coord)  # only the optional one: t2 did not
    return kb, c1, c2, i3


def test_curricula_run_and_succession_completion(with_curricula):
    (conn, a, m, u, r, s), c1, c2, i3 = with_curricula
    assert ids(programme.trace(conn, "curricula_run", FY)) == [c1]
    assert ids(programme.trace(conn, "curricula_run", 2024)) == [c2]
    # c1 was assigned to 小林 in May and to a cohort in June: in both months' bars, once in the year
    assert bars(conn, "curricula_run", FY) == {"2025-05": 1, "2025-06": 1}
    assert ids(programme.trace(conn, "curricula_run", FY, a)) == [c1]
    assert programme.trace(conn, "curricula_run", 2026) == []
    fig = programme.figure(conn, "completion_rate", FY)
    assert (fig.numerator, fig.denominator, fig.value) == (1, 3, 33.3)
    assert {e["id"]: e["counted"] for e in fig.records} == {u["t1"]: True, u["t2"]: False, u["t3"]: False}
    assert programme.figure(conn, "completion_rate", FY, 1).value == 50.0
    assert programme.figure(conn, "completion_rate", FY, a).value == 0.0
    assert programme.figure(conn, "completion_rate", 2026).value is None
    curricula_progress.sign_off(conn, i3, u["t4"], users.get_account(conn, u["coord"]))
    assert programme.figure(conn, "completion_rate", 2024).value == 100.0


def test_retention_counts_who_had_not_left_by_the_year_end(kb):
    conn, a, m, u, r, s = kb
    programme.record_leaving(conn, u["t2"], "2025-09-30", "家業を継ぐ")
    programme.record_leaving(conn, u["t4"], "2025-03-31")
    fig = programme.figure(conn, "retention_rate", FY)
    assert {e["id"]: e["counted"] for e in fig.records} == {u["t1"]: True, u["t2"]: False, u["t3"]: True}
    assert (fig.numerator, fig.denominator, fig.value) == (2, 3, 66.7)
    assert programme.figure(conn, "retention_rate", FY, 1).value == 50.0
    assert programme.figure(conn, "retention_rate", FY, a).value == 100.0
    last_year = programme.figure(conn, "retention_rate", 2024)
    assert {e["id"]: e["counted"] for e in last_year.records} == {u["t1"]: True, u["t2"]: True, u["t4"]: False}
    programme.record_leaving(conn, u["t2"], None)  # recorded by mistake: taken back
    assert programme.figure(conn, "retention_rate", FY).value == 100.0
    with pytest.raises(InputError, match="not a date"):
        programme.record_leaving(conn, u["t1"], "2025/09/30")


def test_targets_default_and_overridden(kb):
    conn, *_ = kb
    assert programme.targets(conn, FY) == {
        "technique_records": 100,
        "meisters_registered": 200,
        "completion_rate": 80,
        "retention_rate": 85,
    }
    programme.set_target(conn, "technique_records", 120, fiscal_year=FY)
    assert programme.get_target(conn, "technique_records", FY) == 120
    assert programme.get_target(conn, "technique_records", 2024) == 100
    programme.set_target(conn, "technique_records", 150)
    assert (
        programme.get_target(conn, "technique_records", 2024),
        programme.get_target(conn, "technique_records", FY),
    ) == (150, 120)
    programme.clear_target(conn, "technique_records", FY)
    assert programme.figure(conn, "technique_records", FY).target == 150
    fig = programme.figure(conn, "technique_records", FY)
    assert fig.met is False and programme.figure(conn, "coaching_hours", FY).target is None
    with pytest.raises(InputError, match="at most 100"):
        programme.set_target(conn, "retention_rate", 120)
    with pytest.raises(InputError, match="unknown target"):
        programme.set_target(conn, "happiness", 1)
    assert conn.execute("SELECT COUNT(*) FROM programme_targets WHERE name = 'technique_records'").fetchone()[0] == 1


def test_every_figure_equals_its_trace(with_curricula):
    (conn, a, m, u, r, s), *_ = with_curricula
    for org in (None, 1, a):
        for year in (2024, FY, 2026):
            for fig in programme.figures(conn, year, org):
                assert fig.records == programme.trace(conn, fig.name, year, org)
                counted = [e for e in fig.records if e["counted"]]
                if fig.unit == "count":
                    assert fig.value == len(fig.records) == len(counted)
                elif fig.unit == "hours":
                    assert fig.value == sum(e["hours"] for e in fig.records)
                else:
                    assert (fig.numerator, fig.denominator) == (len(counted), len(fig.records))
                for e in fig.records:
                    assert set(e) >= {"kind", "id", "label", "date", "counted"} and e["label"]
    assert [f.name for f in programme.figures(conn, FY)] == list(programme.FIGURES)
    with pytest.raises(InputError, match="unknown figure"):
        programme.trace(conn, "nope", FY)


def test_csv_exports_have_bom_crlf_and_japanese(with_curricula):
    (conn, a, m, u, r, s), *_ = with_curricula
    labels = {"technique_records": "技能記録数", "count": "件", "percent": "%", "hours": "時間"}
    headings = {"figure": "指標", "organisation": "事業所", "all": "全体"}
    data = programme.figures_csv(conn, programme.figures(conn, FY, a), labels, headings)
    assert data.startswith(codecs.BOM_UTF8)
    text = data[len(codecs.BOM_UTF8) :].decode("utf-8")
    assert text.count("\r\n") == len(programme.FIGURES) + 1 and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][:3] == ["指標", "Fiscal year", "事業所"]
    assert rows[1] == ["技能記録数", "FY2025", "第二工場", "1", "件", "1", "1", "100", "no"]
    completion = next(row for row in rows if row[0] == "completion_rate")
    assert completion[3:7] == ["0", "%", "0", "1"]
    whole = programme.figures_csv(conn, programme.figures(conn, FY), labels, headings)
    assert "全体" in whole.decode("utf-8-sig")
    trace = programme.trace_csv(programme.trace(conn, "meisters_registered", FY))
    assert trace.startswith(codecs.BOM_UTF8) and trace.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(trace.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["Kind", "Id", "Name", "Date", "Counted", "Hours"]
    assert sorted(row[2] for row in rows[1:]) == sorted(["田中", "鈴木"])
    hours = programme.trace_csv(programme.trace(conn, "coaching_hours", FY))
    assert "\r\ncoaching_session," in hours.decode("utf-8-sig")


def test_migration_fills_done_at_and_registration_of_an_existing_knowledge_base(tmp_path):
    """A knowledge base from before migration 009: done_at from the first finished job, else creation."""
    from kb.db import _migrations

    conn = connect(tmp_path / "kb.sqlite")
    for number, name, sql in _migrations():
        if number < 9:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    with conn:
        conn.execute("INSERT INTO meisters(id, name, created_at) VALUES (1, '田中', '2025-03-31T16:00:00Z')")
        for rid, status, created in (
            (1, "done", "2025-01-01T00:00:00Z"),
            (2, "done", "2025-02-01T00:00:00Z"),
            (3, "failed", "2025-02-01T00:00:00Z"),
        ):
            conn.execute(
                """INSERT INTO recordings(id, title, kind, format, source_name, sha256, size_bytes, status,
                            meister_id, created_at) VALUES (?, '記録', 'video', 'mp4', 'a.mp4', ?, 1, ?, 1, ?)""",
                (rid, f"h{rid}", status, created),
            )
        conn.execute("INSERT INTO jobs(recording_id, stage, finished_at) VALUES (1, 'done', '2025-04-02T00:00:00Z')")
        conn.execute("INSERT INTO jobs(recording_id, stage, finished_at) VALUES (1, 'done', '2025-06-02T00:00:00Z')")
    assert migrate(conn)[0] == "009_programme.sql"  # and any later migrations
    done_at = dict(conn.execute("SELECT id, done_at FROM recordings"))
    assert done_at == {1: "2025-04-02T00:00:00Z", 2: "2025-02-01T00:00:00Z", 3: None}
    assert conn.execute("SELECT registered_on FROM meisters").fetchone()[0] == "2025-04-01"
    conn.close()
