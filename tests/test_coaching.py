"""Coaching sessions on a real SQLite knowledge base: meisters log, coordinators confirm, who and when kept."""

from __future__ import annotations

import uuid

import pytest

from kb import coaching, curricula, meisters, recordings, users
from kb.errors import InputError, NotFound
from kb.recordings import RecordingMeta


@pytest.fixture
def kb(hash_config):
    from kb.home import init_home

    conn = init_home(hash_config)
    second = users.create_organisation(conn, "第二工場")
    tanaka = meisters.create_meister(conn, "田中", organisation_ids=[1, second])
    suzuki = meisters.create_meister(conn, "鈴木", organisation_ids=[1])
    acc = {
        role: users.get_account(conn, uid)
        for role, uid in {
            "coord": users.create_user(conn, "coord", users.generate_password(), "coordinator", display_name="山本"),
            "tanaka": users.create_user(
                conn, "tanaka", users.generate_password(), "meister", meister="田中", display_name="田中"
            ),
            "t1": users.create_user(conn, "t1", users.generate_password(), "apprentice", display_name="小林"),
            "t2": users.create_user(
                conn, "t2", users.generate_password(), "apprentice", organisation_id=second, display_name="伊藤"
            ),
        }.items()
    }
    meta = RecordingMeta(title="芯出し", meister="田中", technique="旋盤")
    with conn:
        rid = recordings.create(
            conn,
            title="芯出し",
            kind="video",
            fmt="mp4",
            source_name="芯出し.mp4",
            sha256=uuid.uuid4().hex,
            size_bytes=10,
            meta=meta,
            status="done",
        )
    yield conn, second, {"tanaka": tanaka, "suzuki": suzuki}, acc, rid
    conn.close()


def test_a_meister_logs_their_own_session_and_a_coordinator_confirms_it(kb):
    conn, second, m, acc, rid = kb
    cid = curricula.create(conn, title="旋盤の基本")
    item = curricula.add_item(conn, cid, rid)
    sid = coaching.log_session(
        conn,
        acc["tanaka"],
        held_on="2025-06-10",
        meister_id=m["tanaka"],
        organisation_id=second,
        hours="2.5",
        technique="旋盤",
        notes="芯出しを三回練習",
        technicians=[acc["t1"].id, acc["t2"].id, acc["t1"].id],
        recording_ids=[rid],
        item_ids=[item],
    )
    s = coaching.get_session(conn, sid)
    assert (s["held_on"], s["meister"], s["organisation"], s["hours"], s["notes"]) == (
        "2025-06-10",
        "田中",
        "第二工場",
        2.5,
        "芯出しを三回練習",
    )
    assert (s["logged_by"], s["logged_by_name"], s["confirmed"], s["confirmed_by"]) == (
        acc["tanaka"].id,
        "田中",
        False,
        None,
    )
    assert sorted(t["id"] for t in s["technicians"]) == sorted([acc["t1"].id, acc["t2"].id])
    assert (s["recording_ids"], s["item_ids"]) == ([rid], [item])
    with pytest.raises(coaching.NotAllowed, match="only a coordinator confirms"):
        coaching.confirm(conn, sid, acc["tanaka"])
    coaching.confirm(conn, sid, acc["coord"])
    s = coaching.get_session(conn, sid)
    assert (s["confirmed"], s["confirmed_by"], s["confirmed_by_name"]) == (True, acc["coord"].id, "山本")
    assert s["confirmed_at"].endswith("Z")
    with pytest.raises(coaching.NotAllowed):
        coaching.update_session(conn, sid, acc["tanaka"], hours=3)
    with pytest.raises(coaching.NotAllowed):
        coaching.delete_session(conn, sid, acc["tanaka"])
    assert coaching.get_session(conn, sid)["hours"] == 2.5


def test_a_coordinators_entry_is_confirmed_at_once_and_a_meister_cannot_log_for_another(kb):
    conn, second, m, acc, rid = kb
    sid = coaching.log_session(
        conn, acc["coord"], held_on="2025-04-01", meister_id=m["suzuki"], organisation_id=1, hours=1
    )
    s = coaching.get_session(conn, sid)
    assert (s["confirmed"], s["confirmed_by_name"], s["logged_by_name"]) == (True, "山本", "山本")
    with pytest.raises(coaching.NotAllowed, match="only their own"):
        coaching.log_session(
            conn, acc["tanaka"], held_on="2025-04-01", meister_id=m["suzuki"], organisation_id=1, hours=1
        )
    with pytest.raises(coaching.NotAllowed):
        coaching.log_session(conn, acc["t1"], held_on="2025-04-01", meister_id=m["tanaka"], organisation_id=1, hours=1)


def test_changes_unconfirm_a_meisters_edit_and_reconfirm_a_coordinators(kb):
    conn, second, m, acc, rid = kb
    sid = coaching.log_session(
        conn,
        acc["tanaka"],
        held_on="2025-05-01",
        meister_id=m["tanaka"],
        organisation_id=1,
        hours=1,
        technicians=[acc["t1"].id],
    )
    coaching.update_session(conn, sid, acc["tanaka"], hours=1.5, notes="追記")
    s = coaching.get_session(conn, sid)
    assert (s["hours"], s["notes"], s["confirmed"], [t["id"] for t in s["technicians"]]) == (
        1.5,
        "追記",
        False,
        [acc["t1"].id],
    )
    coaching.update_session(conn, sid, acc["coord"], technicians=[acc["t2"].id])
    s = coaching.get_session(conn, sid)
    assert (s["confirmed_by_name"], [t["id"] for t in s["technicians"]], s["hours"]) == ("山本", [acc["t2"].id], 1.5)
    with pytest.raises(ValueError):
        coaching.update_session(conn, sid, acc["coord"], logged_by=1)
    other = coaching.log_session(
        conn, acc["tanaka"], held_on="2025-05-02", meister_id=m["tanaka"], organisation_id=1, hours=1
    )
    coaching.delete_session(conn, other, acc["tanaka"])
    with pytest.raises(NotFound):
        coaching.get_session(conn, other)


def test_bad_input_gets_one_clear_message_and_nothing_is_stored(kb):
    conn, second, m, acc, rid = kb
    base = dict(held_on="2025-05-01", meister_id=m["tanaka"], organisation_id=1, hours=1)
    for change, message in (
        ({"hours": 0}, "more than 0"),
        ({"hours": 25}, "at most 24"),
        ({"hours": "二時間"}, "must be a number"),
        ({"held_on": "2025-02-30"}, "the date of the session '2025-02-30' is not a date"),
        ({"held_on": ""}, "date of the session is required"),
        ({"notes": "あ" * 5000}, "too long"),
    ):
        with pytest.raises(InputError, match=message):
            coaching.log_session(conn, acc["coord"], **{**base, **change})
    for change, message in (
        ({"meister_id": 99}, "no meister"),
        ({"organisation_id": 99}, "no organisation"),
        ({"technicians": [999]}, "no user with id 999"),
        ({"recording_ids": [999]}, "no recording"),
        ({"item_ids": [999]}, "no curriculum item"),
    ):
        with pytest.raises(NotFound, match=message):
            coaching.log_session(conn, acc["coord"], **{**base, **change})
    assert conn.execute("SELECT COUNT(*) FROM coaching_sessions").fetchone()[0] == 0


def test_list_filters_and_a_deleted_recording_leaves_the_session(kb):
    conn, second, m, acc, rid = kb
    a = coaching.log_session(
        conn,
        acc["coord"],
        held_on="2025-04-01",
        meister_id=m["tanaka"],
        organisation_id=second,
        hours=2,
        recording_ids=[rid],
    )
    b = coaching.log_session(
        conn, acc["tanaka"], held_on="2025-05-01", meister_id=m["tanaka"], organisation_id=1, hours=1
    )
    c = coaching.log_session(
        conn, acc["coord"], held_on="2026-04-01", meister_id=m["suzuki"], organisation_id=1, hours=1
    )
    assert [s["id"] for s in coaching.list_sessions(conn)] == [c, b, a]
    assert [s["id"] for s in coaching.list_sessions(conn, meister_id=m["tanaka"])] == [b, a]
    assert [s["id"] for s in coaching.list_sessions(conn, organisation_id=1, confirmed=True)] == [c]
    assert [s["id"] for s in coaching.list_sessions(conn, confirmed=False)] == [b]
    assert [s["id"] for s in coaching.list_sessions(conn, start="2025-04-01", end="2026-03-31")] == [b, a]
    with conn:
        conn.execute("DELETE FROM recordings WHERE id = ?", (rid,))
    assert coaching.get_session(conn, a)["recording_ids"] == []
