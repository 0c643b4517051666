"""The curricula model on a real SQLite knowledge base: building, order, assignments, progress, matrix, CSV."""

from __future__ import annotations

import codecs
import csv
import io
import uuid

import pytest

from kb import curricula, curricula_progress as progress, recordings, users
from kb.errors import InputError, NotFound
from kb.recordings import RecordingMeta


@pytest.fixture
def kb(hash_config):
    from kb.home import init_home

    conn = init_home(hash_config)
    second = users.create_organisation(conn, "第二工場")
    ids = {
        "coord": users.create_user(conn, "coord", users.generate_password(), "coordinator", display_name="山本"),
        "meister": users.create_user(conn, "tanaka", users.generate_password(), "meister", display_name="田中 一郎"),
        "tech": users.create_user(conn, "kobayashi", users.generate_password(), "apprentice", display_name="小林 翔"),
        "tech2": users.create_user(conn, "sato", users.generate_password(), "apprentice", display_name="佐藤"),
        "other": users.create_user(
            conn, "ito", users.generate_password(), "apprentice", organisation_id=second, display_name="伊藤"
        ),
        "other_meister": users.create_user(
            conn, "nakamura", users.generate_password(), "meister", organisation_id=second, display_name="中村"
        ),
    }
    yield conn, ids, second
    conn.close()


def add_recording(
    conn,
    title,
    *,
    kind="video",
    visibility="organisation",
    organisation_id=1,
    meister="田中 一郎",
    technique="旋盤",
    tags=(),
    status="done",
    duration=120.0,
):
    meta = RecordingMeta(
        title=title,
        meister=meister,
        technique=technique,
        tags=list(tags),
        language="ja",
        visibility=visibility,
        organisation_id=organisation_id,
    )
    with conn:
        rid = recordings.create(
            conn,
            title=title,
            kind=kind,
            fmt="mp4" if kind != "document" else "txt",
            source_name=f"{title}.mp4",
            sha256=uuid.uuid4().hex,
            size_bytes=10,
            meta=meta,
            status=status,
        )
        recordings.update(conn, rid, duration=duration if kind != "document" else None)
        if kind == "document":
            segs = [{"page": 1, "text": "安全第一。"}, {"page": 2, "text": "刃物の交換手順。"}]
        else:
            segs = [
                {"start": 0.0, "end": 30.0, "text": "チャックを締める"},
                {"start": 30.0, "end": 70.0, "text": "芯出しをする"},
            ]
        recordings.replace_segments(conn, rid, segs)
    return rid


def event(conn, user, item, kind="done", fraction=None, event_id=None):
    return progress.record_event(
        conn, user, event_id=event_id or str(uuid.uuid4()), item_id=item, kind=kind, fraction=fraction
    )


def test_build_a_curriculum_with_the_three_kinds_of_item(kb):
    conn, ids, _ = kb
    video = add_recording(conn, "NC旋盤の段取り")
    doc = add_recording(conn, "作業手順書", kind="document")
    cid = curricula.create(
        conn,
        title="NC旋盤 入門",
        goal="NC旋盤の段取りを一人でできるようになる",
        level="basic",
        description="新人向け",
        created_by=ids["coord"],
    )
    whole = curricula.add_item(conn, cid, video, note="全体を見る")
    moment = curricula.add_item(conn, cid, video, start=25, end=65, required=False)
    passage = curricula.add_item(conn, cid, doc, page=2)
    its = curricula.items(conn, cid)
    assert [i["id"] for i in its] == [whole, moment, passage]
    assert [i["kind"] for i in its] == ["recording", "moment", "passage"]
    assert its[1]["start"] == 25 and its[1]["end"] == 65 and its[1]["required"] == 0
    assert "芯出し" in its[1]["excerpt"] and "チャック" in its[1]["excerpt"]
    assert its[2]["excerpt"] == "刃物の交換手順。"
    assert its[0]["note"] == "全体を見る" and its[0]["title"] == "NC旋盤の段取り"
    assert curricula.get(conn, cid)["goal"] == "NC旋盤の段取りを一人でできるようになる"
    assert curricula.curricula_using(conn, video) == [{"id": cid, "title": "NC旋盤 入門", "archived": 0}]


def test_a_moment_without_an_end_lasts_a_minute_cut_at_the_recording_end(kb):
    conn, ids, _ = kb
    video = add_recording(conn, "短い動画", duration=90.0)
    cid = curricula.create(conn, title="t")
    item = curricula.get_item(conn, curricula.add_item(conn, cid, video, start=50))
    assert (item["start"], item["end"]) == (50, 90)


def test_bad_input_gets_one_clear_message(kb):
    conn, ids, _ = kb
    video = add_recording(conn, "動画")
    with pytest.raises(InputError, match="title"):
        curricula.create(conn, title="  ")
    with pytest.raises(InputError, match="skill level"):
        curricula.create(conn, title="x", level="expert")
    cid = curricula.create(conn, title="x")
    with pytest.raises(InputError, match="end must come after"):
        curricula.add_item(conn, cid, video, start=30, end=10)
    with pytest.raises(NotFound):
        curricula.add_item(conn, cid, 999999)
    with pytest.raises(InputError, match="due date"):
        curricula.assign(conn, cid, user_id=ids["tech"], due_date="来週")
    assert curricula.items(conn, cid) == []


def test_sections_and_reordering_by_keyboard_and_by_layout(kb):
    conn, ids, _ = kb
    video = add_recording(conn, "動画")
    cid = curricula.create(conn, title="順番")
    a, b = (curricula.add_item(conn, cid, video, start=s) for s in (0, 10))
    basics = curricula.add_section(conn, cid, "基礎")
    advanced = curricula.add_section(conn, cid, "応用")
    c = curricula.add_item(conn, cid, video, start=20, section_id=basics)
    d = curricula.add_item(conn, cid, video, start=30, section_id=advanced)
    assert curricula.layout(conn, cid) == [(None, [a, b]), (basics, [c]), (advanced, [d])]

    curricula.move_item(conn, b, -1)
    assert curricula.layout(conn, cid)[0] == (None, [b, a])
    curricula.move_item(conn, a, +1)  # past the bottom of its group: first of the next section
    assert curricula.layout(conn, cid)[:2] == [(None, [b]), (basics, [a, c])]
    curricula.move_item(conn, d, +1)  # already last: nothing changes
    curricula.move_item(conn, b, -1)  # already first
    assert curricula.layout(conn, cid) == [(None, [b]), (basics, [a, c]), (advanced, [d])]
    curricula.move_section(conn, advanced, -1)
    assert [sid for sid, _ in curricula.layout(conn, cid)] == [None, advanced, basics]

    curricula.set_layout(conn, cid, [(None, []), (basics, [d, c, b]), (advanced, [a])])
    assert [i["id"] for i in curricula.items(conn, cid)] == [d, c, b, a]
    with pytest.raises(InputError, match="reload"):
        curricula.set_layout(conn, cid, [(None, [a]), (basics, [b, c]), (advanced, [])])  # d missing
    with pytest.raises(InputError, match="reload"):
        curricula.set_layout(conn, cid, [(basics, [a, b, c, d]), (None, []), (advanced, [])])  # None not first
    assert [i["id"] for i in curricula.items(conn, cid)] == [d, c, b, a]

    curricula.remove_section(conn, basics)
    assert curricula.layout(conn, cid) == [(None, [d, c, b]), (advanced, [a])]
    curricula.remove_item(conn, c)
    assert curricula.layout(conn, cid) == [(None, [d, b]), (advanced, [a])]


def test_copy_keeps_sections_and_items_but_not_assignments_and_archive_hides(kb):
    conn, ids, _ = kb
    video = add_recording(conn, "動画")
    cid = curricula.create(conn, title="元", goal="目標")
    s = curricula.add_section(conn, cid, "第一章")
    curricula.add_item(conn, cid, video, start=5, section_id=s, note="メモ")
    curricula.assign(conn, cid, user_id=ids["tech"])
    new = curricula.copy(conn, cid, created_by=ids["coord"])
    assert curricula.get(conn, new)["title"] == "元 (copy)" and curricula.get(conn, new)["copied_from"] == cid
    copied = curricula.items(conn, new)
    assert len(copied) == 1 and copied[0]["section_title"] == "第一章" and copied[0]["note"] == "メモ"
    assert copied[0]["section_id"] != curricula.items(conn, cid)[0]["section_id"]
    assert curricula.assignments(conn, new) == []
    curricula.set_archived(conn, cid, True)
    assert [c["id"] for c in curricula.list_curricula(conn)] == [new]
    assert [c["id"] for c in curricula.list_curricula(conn, archived=True)] == [cid]
    assert curricula.curricula_for_user(conn, ids["tech"]) == []


def test_assign_to_users_and_cohorts(kb):
    conn, ids, _ = kb
    cid = curricula.create(conn, title="割当")
    cohort = curricula.create_cohort(conn, "2025年度 新人", 1, [ids["tech"], ids["tech2"]])
    curricula.assign(conn, cid, cohort_id=cohort, due_date="2025-09-30")
    curricula.assign(conn, cid, user_id=ids["tech"], due_date="2025-06-30")
    people = {p["login"]: p for p in curricula.assignees(conn, cid)}
    assert set(people) == {"kobayashi", "sato"}
    assert people["kobayashi"]["due_date"] == "2025-06-30"  # the earlier of the two
    assert curricula.is_assigned(conn, cid, ids["tech2"]) and not curricula.is_assigned(conn, cid, ids["other"])
    assert [c["id"] for c in curricula.curricula_for_user(conn, ids["tech2"])] == [cid]
    # assigning again changes the due date, not the count
    curricula.assign(conn, cid, user_id=ids["tech"], due_date="2025-07-31")
    assert len(curricula.assignments(conn, cid)) == 2
    # a member who joins the cohort later gets it too
    curricula.set_members(conn, cohort, [ids["tech"], ids["tech2"], ids["other"]])
    assert {p["login"] for p in curricula.assignees(conn, cid)} == {"kobayashi", "sato", "ito"}
    assert {p["login"] for p in curricula.assignees(conn, cid, organisation_id=1)} == {"kobayashi", "sato"}
    with pytest.raises(InputError):
        curricula.assign(conn, cid)


def test_only_active_apprentices_and_meisters_can_be_given_a_curriculum(kb):
    """Issue 14, item 10: the assign form offered the administrator first and called everyone 技術者."""
    conn, ids, _ = kb
    admin = users.create_user(conn, "boss", users.generate_password(), "admin", display_name="管理者")
    cid = curricula.create(conn, title="割当の相手")
    people = curricula.assignable_people(conn)
    assert [(p["login"], p["role"]) for p in people] == [
        ("sato", "apprentice"),
        ("kobayashi", "apprentice"),
        ("ito", "apprentice"),  # 本社 by name, then 第二工場
        ("tanaka", "meister"),
        ("nakamura", "meister"),
    ]
    users.set_disabled(conn, ids["tech2"])
    assert "sato" not in {p["login"] for p in curricula.assignable_people(conn)}
    for who in (ids["coord"], admin, ids["tech2"]):
        with pytest.raises(InputError) as refused:
            curricula.assign(conn, cid, user_id=who)
        assert refused.value.code == "assign_role"
    assert curricula.assignments(conn, cid) == []
    curricula.assign(conn, cid, user_id=ids["meister"])  # a meister taking up a neighbouring technique
    cohort = curricula.create_cohort(conn, "新人", 1, [ids["tech"]])
    with pytest.raises(InputError, match="cannot be given a curriculum"):
        curricula.set_members(conn, cohort, [ids["tech"], ids["coord"]])
    with pytest.raises(InputError, match="cannot be given a curriculum"):
        curricula.create_cohort(conn, "管理者も", 1, [admin])
    assert curricula.cohort_members(conn, cohort) == [ids["tech"]]  # nothing changed
    with pytest.raises(NotFound):
        curricula.assign(conn, cid, user_id=99999)


def test_progress_events_are_counted_once_and_states_rise(kb):
    conn, ids, _ = kb
    video = add_recording(conn, "動画")
    cid = curricula.create(conn, title="進捗")
    item = curricula.add_item(conn, cid, video, start=0, end=60)
    curricula.assign(conn, cid, user_id=ids["tech"])
    tech = ids["tech"]
    state = lambda: progress.states(conn, [tech], [item])[(tech, item)]  # noqa: E731
    assert state() == "not_started"
    with pytest.raises(InputError, match="80%"):
        event(conn, tech, item, "watched", fraction=0.5)
    same = str(uuid.uuid4())
    assert event(conn, tech, item, "watched", fraction=0.85, event_id=same) == "recorded"
    # sent again after a lost connection: counted once
    assert event(conn, tech, item, "watched", fraction=0.85, event_id=same) == "duplicate"
    assert conn.execute("SELECT COUNT(*) FROM progress_events").fetchone()[0] == 1
    assert state() == "watched"
    event(conn, tech, item, "done")
    assert state() == "done"
    event(conn, tech, item, "undone")
    assert state() == "watched"
    event(conn, tech, item, "done")
    # someone it is not assigned to: the same answer as a missing item
    with pytest.raises(NotFound):
        event(conn, ids["tech2"], item, "done")
    with pytest.raises(NotFound):
        event(conn, tech, 999999, "done")
    with pytest.raises(InputError, match="event_id"):
        event(conn, tech, item, "done", event_id="x")
    meister = users.get_account(conn, ids["meister"])
    progress.sign_off(conn, item, tech, meister, "一人で段取りできた")
    assert state() == "signed_off"
    s = progress.signoffs(conn, tech, [item])[item]
    assert s["signed_by_name"] == "田中 一郎" and s["comment"] == "一人で段取りできた" and s["signed_at"]


def test_completion_needs_every_required_item_signed_off(kb):
    conn, ids, _ = kb
    video = add_recording(conn, "動画")
    cid = curricula.create(conn, title="完了")
    required = curricula.add_item(conn, cid, video, start=0)
    optional = curricula.add_item(conn, cid, video, start=60, required=False)
    curricula.assign(conn, cid, user_id=ids["tech"])
    coord = users.get_account(conn, ids["coord"])
    event(conn, ids["tech"], required, "done")
    event(conn, ids["tech"], optional, "done")
    p = progress.user_progress(conn, cid, ids["tech"])
    assert not p["completed"] and p["done"] == 2 and p["percent"] == 100
    progress.sign_off(conn, required, ids["tech"], coord)
    p = progress.user_progress(conn, cid, ids["tech"])
    assert p["completed"] and p["signed_off"] == 1  # the optional item need not be signed off
    progress.withdraw_sign_off(conn, required, ids["tech"])
    assert not progress.user_progress(conn, cid, ids["tech"])["completed"]


def test_who_may_sign_off():
    from kb.access import Viewer

    assert progress.may_sign_off(Viewer(1, "meister", 1), 1)
    assert not progress.may_sign_off(Viewer(1, "meister", 2), 1)
    assert progress.may_sign_off(Viewer(1, "coordinator", 2), 1)
    assert not progress.may_sign_off(Viewer(1, "apprentice", 1), 1)


def test_deleted_and_hidden_recordings_are_flagged_not_dropped(kb):
    conn, ids, second = kb
    kept = add_recording(conn, "残る動画")
    gone = add_recording(conn, "消える動画")
    private = add_recording(conn, "非公開", visibility="private")
    other_org = add_recording(conn, "第二工場の動画", organisation_id=second, meister="中村")
    cid = curricula.create(conn, title="旗")
    items = [curricula.add_item(conn, cid, r, start=0) for r in (kept, gone, private, other_org)]
    curricula.assign(conn, cid, user_id=ids["tech"])
    event(conn, ids["tech"], items[1], "done")
    with conn:
        conn.execute("DELETE FROM recordings WHERE id = ?", (gone,))
    p = progress.user_progress(conn, cid, ids["tech"])
    by_id = {i["id"]: i for i in p["items"]}
    assert len(p["items"]) == 4
    assert by_id[items[0]]["flag"] is None
    assert by_id[items[1]]["flag"] == "removed" and by_id[items[1]]["title"] == "消える動画"
    assert by_id[items[1]]["state"] == "done"  # progress kept
    assert by_id[items[2]]["flag"] == "hidden" and by_id[items[3]]["flag"] == "hidden"
    assert p["flagged"] == 3 and p["next_item"]["id"] == items[0]
    assert curricula.curricula_using(conn, gone) == []


def test_matrix_by_item_and_by_technique_and_csv_with_bom(kb):
    conn, ids, second = kb
    lathe = add_recording(conn, "旋盤の段取り", technique="旋盤")
    press = add_recording(conn, "プレスの安全", technique="プレス")
    cid = curricula.create(conn, title="行列")
    i1 = curricula.add_item(conn, cid, lathe, start=0)
    i2 = curricula.add_item(conn, cid, lathe, start=60)
    i3 = curricula.add_item(conn, cid, press, start=0)
    cohort = curricula.create_cohort(conn, "新人", 1, [ids["tech"]])
    curricula.assign(conn, cid, cohort_id=cohort)
    curricula.assign(conn, cid, user_id=ids["other"])
    event(conn, ids["tech"], i1, "watched", fraction=0.9)
    event(conn, ids["tech"], i2, "done")
    progress.sign_off(conn, i3, ids["tech"], users.get_account(conn, ids["meister"]))
    m = progress.matrix(conn, cid)
    rows = {r["user"]["login"]: [c["state"] for c in r["cells"]] for r in m["rows"]}
    assert rows == {"kobayashi": ["watched", "done", "signed_off"], "ito": ["not_started"] * 3}
    assert [c["title"] for c in m["columns"]] == ["旋盤の段取り", "旋盤の段取り", "プレスの安全"]
    by_tech = progress.matrix(conn, cid, by="technique")
    assert [c["title"] for c in by_tech["columns"]] == ["旋盤", "プレス"]
    assert [c["state"] for c in by_tech["rows"][0]["cells"]] == ["watched", "signed_off"]
    assert [r["user"]["login"] for r in progress.matrix(conn, cid, organisation_id=second)["rows"]] == ["ito"]
    assert [r["user"]["login"] for r in progress.matrix(conn, cid, cohort_id=cohort)["rows"]] == ["kobayashi"]

    labels = {
        "not_started": "未着手",
        "watched": "視聴済み",
        "done": "完了",
        "signed_off": "認定済み",
        "removed": "削除",
        "hidden": "非公開",
        "unavailable": "準備中",
        "yes": "はい",
        "no": "いいえ",
    }
    headings = {"login": "ログイン", "name": "氏名", "organisation": "組織", "due": "期限", "completed": "修了"}
    data = progress.matrix_csv(m, labels, headings)
    assert data.startswith(codecs.BOM_UTF8)
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == ["ログイン", "氏名", "組織", "期限", "旋盤の段取り", "旋盤の段取り", "プレスの安全", "修了"]
    assert ["kobayashi", "小林 翔", "本社", "", "視聴済み", "完了", "認定済み", "いいえ"] in table
    assert b"\r\n" in data


def test_pending_signoffs_for_a_meister_are_their_organisations(kb):
    conn, ids, second = kb
    video = add_recording(conn, "動画", visibility="shared")
    cid = curricula.create(conn, title="確認待ち")
    item = curricula.add_item(conn, cid, video, start=0)
    curricula.assign(conn, cid, user_id=ids["tech"])
    curricula.assign(conn, cid, user_id=ids["other"])
    event(conn, ids["tech"], item, "done")
    event(conn, ids["other"], item, "done")
    meister = users.get_account(conn, ids["meister"]).viewer
    assert [p["user"]["login"] for p in progress.pending_signoffs(conn, meister)] == ["kobayashi"]
    coord = users.get_account(conn, ids["coord"]).viewer
    assert {p["user"]["login"] for p in progress.pending_signoffs(conn, coord)} == {"kobayashi", "ito"}
    progress.sign_off(conn, item, ids["tech"], users.get_account(conn, ids["meister"]))
    assert progress.pending_signoffs(conn, meister) == []


def test_suggest_orders_basic_to_advanced_by_tags_then_title_then_technique_and_recording():
    from kb.curricula_suggest import Suggestion, level_of, order, parse_key

    assert level_of(["基礎", "旋盤"]) == 1 and level_of([], "応用:難削材の加工") == 3
    assert level_of(["中級"]) == 2 and level_of(["新人向け"]) == 1
    assert level_of([], "旋盤の段取り") is None  # the recording says nothing: no made-up 中級 (issue 13)
    assert level_of(["上級"], "入門") == 3  # tags decide before the title

    def s(rid, level, technique, rank, start=0.0):
        return Suggestion(rid, f"r{rid}", "video", technique, start, start + 30, None, None, "", level, rank)

    found = [s(5, 3, "旋盤", 0), s(2, 1, "フライス", 3), s(4, 1, "旋盤", 1), s(3, 2, "旋盤", 2), s(1, 1, "旋盤", 4)]
    assert [x.recording_id for x in order(found)] == [1, 4, 2, 3, 5]
    # a moment without a level is ordered between basic and advanced
    assert [x.recording_id for x in order(found + [s(6, None, "旋盤", 5)])] == [1, 4, 2, 3, 6, 5]
    key = found[0].key()
    assert key == "5:0:30::" and parse_key(key) == {
        "recording_id": 5,
        "start": 0.0,
        "end": 30.0,
        "page": None,
        "chunk_id": None,
    }
    with pytest.raises(ValueError):
        parse_key("x:1")
