"""The meister registry on a real SQLite knowledge base: profiles, two organisations, who can teach what."""

from __future__ import annotations

import uuid

import pytest

from kb import meisters, recordings, users
from kb.errors import InputError, NotFound
from kb.recordings import RecordingMeta


@pytest.fixture
def kb(hash_config):
    from kb.home import init_home

    conn = init_home(hash_config)
    second = users.create_organisation(conn, "第二工場")
    yield conn, second
    conn.close()


def add_recording(conn, title, meister, technique, *, organisation_id=1, visibility="organisation", status="done"):
    meta = RecordingMeta(
        title=title, meister=meister, technique=technique, organisation_id=organisation_id, visibility=visibility
    )
    with conn:
        return recordings.create(
            conn,
            title=title,
            kind="video",
            fmt="mp4",
            source_name=f"{title}.mp4",
            sha256=uuid.uuid4().hex,
            size_bytes=10,
            meta=meta,
            status=status,
        )


def test_a_full_profile_survives_a_round_trip(kb):
    conn, second = kb
    mid = meisters.create_meister(
        conn,
        "田中 一郎",
        organisation_ids=[1, second],
        years_experience=35,
        availability="火・木の午後",
        categories=["旋盤", "研削"],
        tags=["芯出し", "旋盤"],
        areas=["大阪府", "兵庫県"],
        registered_on="2024-06-01",
    )
    cert = meisters.add_certification(conn, mid, "技能検定1級", "機械加工", "1998-03-01")
    p = meisters.profile(conn, mid)
    assert (p["name"], p["years_experience"], p["availability"], p["registered_on"]) == (
        "田中 一郎",
        35,
        "火・木の午後",
        "2024-06-01",
    )
    assert [o["name"] for o in p["organisations"]] == ["本社", "第二工場"]
    assert (p["categories"], p["tags"], p["areas"]) == (["旋盤", "研削"], ["芯出し", "旋盤"], ["大阪府", "兵庫県"])
    assert p["certifications"] == [
        {"id": cert, "name": "技能検定1級", "trade": "機械加工", "obtained_on": "1998-03-01"}
    ]
    meisters.update_profile(conn, mid, organisation_ids=[second], tags=[], years_experience="36")
    p = meisters.profile(conn, mid)
    assert ([o["id"] for o in p["organisations"]], p["tags"], p["categories"], p["years_experience"]) == (
        [second],
        [],
        ["旋盤", "研削"],
        36,
    )
    meisters.remove_certification(conn, cert)
    assert meisters.profile(conn, mid)["certifications"] == []
    with pytest.raises(NotFound):
        meisters.remove_certification(conn, cert)


def test_bad_input_is_refused_and_changes_nothing(kb):
    conn, _ = kb
    mid = meisters.create_meister(conn, "佐藤", years_experience=10)
    with pytest.raises(InputError, match="registered already"):
        meisters.create_meister(conn, "佐藤")
    with pytest.raises(InputError, match="whole number"):
        meisters.update_profile(conn, mid, years_experience="たくさん", tags=["溶接"])
    with pytest.raises(InputError, match="between 0 and 80"):
        meisters.create_meister(conn, "鈴木", years_experience=200)
    with pytest.raises(NotFound, match="no organisation with id 99"):
        meisters.update_profile(conn, mid, organisation_ids=[99], areas=["東京都"])
    with pytest.raises(InputError, match="the date obtained '1998-13-01' is not a date"):
        meisters.add_certification(conn, mid, "技能検定1級", obtained_on="1998-13-01")
    p = meisters.profile(conn, mid)
    assert (p["years_experience"], p["tags"], p["areas"], p["organisations"], p["certifications"]) == (
        10,
        [],
        [],
        [],
        [],
    )
    assert [m["name"] for m in meisters.list_meisters(conn)] == ["佐藤"]  # the refused 鈴木 was not kept


def test_a_meister_made_from_a_recording_is_in_the_registry_with_its_recordings(kb):
    conn, second = kb
    rid = add_recording(conn, "ねじ切り", "高橋", "旋盤")
    hidden = add_recording(conn, "秘伝", "高橋", "旋盤", organisation_id=second)
    mid = recordings.get(conn, rid)["meister_id"]
    p = meisters.profile(conn, mid)
    assert p["registered_on"] and [r["id"] for r in p["recordings"]] == [rid, hidden]
    viewer = users.get_account(
        conn, users.create_user(conn, "kobayashi", users.generate_password(), "apprentice")
    ).viewer
    assert [r["id"] for r in meisters.profile(conn, mid, viewer)["recordings"]] == [rid]
    account = users.create_user(conn, "takahashi", users.generate_password(), "meister", meister="高橋")
    assert [a["id"] for a in meisters.profile(conn, mid)["accounts"]] == [account]


def test_list_by_organisation(kb):
    """(Who can teach what is search.teachers.rank, tested on a real knowledge base in tests/test_teachers.py.)"""
    conn, second = kb
    tanaka = meisters.create_meister(conn, "田中", organisation_ids=[1, second], categories=["旋盤"], areas=["大阪府"])
    suzuki = meisters.create_meister(conn, "鈴木", organisation_ids=[1], tags=["溶接"], areas=["京都府"])
    assert [m["name"] for m in meisters.list_meisters(conn, second)] == ["田中"]
    assert [m["id"] for m in meisters.list_meisters(conn, 1)] == [tanaka, suzuki]  # by name (code point order)
