"""kb.access: the rules, and the SQL condition that must select exactly what can_view allows."""

from __future__ import annotations

import itertools

import pytest

from kb import access
from kb.access import ANONYMOUS, SYSTEM, Viewer, can_edit, can_upload, can_view
from kb.errors import NotFound

TANAKA_MEISTER = 1  # meister ids used in the rows below
SATO_MEISTER = 2

apprentice = Viewer(10, "apprentice", 1)
meister = Viewer(11, "meister", 1, TANAKA_MEISTER)
coordinator = Viewer(12, "coordinator", 1)
admin = Viewer(13, "admin", 1)
other_apprentice = Viewer(20, "apprentice", 2)
other_meister = Viewer(21, "meister", 2, SATO_MEISTER)
EVERYONE = [ANONYMOUS, SYSTEM, apprentice, meister, coordinator, admin, other_apprentice, other_meister]


def rec(visibility, organisation_id=1, meister_id=None, owner_user_id=None, status="done"):
    return {
        "visibility": visibility,
        "organisation_id": organisation_id,
        "meister_id": meister_id,
        "owner_user_id": owner_user_id,
        "status": status,
    }


@pytest.mark.parametrize(
    "viewer,recording,expected",
    [
        (apprentice, rec("organisation", 1), True),
        (apprentice, rec("organisation", 2), False),
        (apprentice, rec("shared", 2), True),
        (apprentice, rec("private", 1, TANAKA_MEISTER), False),
        (meister, rec("private", 1, TANAKA_MEISTER), True),  # recorded under his meister name
        (meister, rec("private", 1, None, owner_user_id=11), True),  # uploaded by him
        (meister, rec("private", 1, SATO_MEISTER), False),
        (other_apprentice, rec("organisation", 1), False),
        (other_apprentice, rec("organisation", 2), True),
        (coordinator, rec("private", 2, SATO_MEISTER), True),
        (admin, rec("organisation", 2), True),
        (SYSTEM, rec("private", 2), True),
        (ANONYMOUS, rec("shared", 1), False),
    ],
)
def test_can_view(viewer, recording, expected):
    assert can_view(viewer, recording) is expected


def test_who_may_change_and_upload():
    mine = rec("organisation", 1, TANAKA_MEISTER)
    assert can_edit(meister, mine) and not can_edit(meister, rec("shared", 1, SATO_MEISTER))
    assert not can_edit(apprentice, mine) and not can_edit(other_meister, mine)
    assert can_edit(coordinator, rec("private", 2)) and can_edit(admin, rec("private", 2))
    assert [can_upload(v) for v in (ANONYMOUS, apprentice, meister, coordinator, admin)] == [
        False,
        False,
        True,
        True,
        True,
    ]


@pytest.fixture
def populated(conn):
    """Every combination of visibility x organisation x meister x owner as real rows."""
    from kb.recordings import RecordingMeta, create, meister_id

    with conn:
        conn.execute("INSERT INTO organisations(id, name) VALUES (2, '第二工場')")
        assert meister_id(conn, "田中") == TANAKA_MEISTER and meister_id(conn, "佐藤") == SATO_MEISTER
        for n, (vis, org, mname, owner) in enumerate(
            itertools.product(("private", "organisation", "shared"), (1, 2), (None, "田中", "佐藤"), (None, 11, 21))
        ):
            if owner is not None:
                conn.execute(
                    "INSERT OR IGNORE INTO users(id, organisation_id, login, display_name, role, "
                    "password_hash) VALUES (?, 1, ?, 'x', 'meister', 'x')",
                    (owner, f"u{owner}"),
                )
            create(
                conn,
                title=f"r{n}",
                kind="document",
                fmt="txt",
                source_name="x.txt",
                sha256=f"{n:064d}",
                size_bytes=1,
                meta=RecordingMeta(meister=mname, visibility=vis, organisation_id=org, owner_user_id=owner),
                status="done",
            )
    return conn


def test_visible_where_selects_exactly_what_can_view_allows(populated):
    from kb import recordings

    rows = recordings.list_all(populated)
    assert len(rows) == 54
    for viewer in EVERYONE:
        expected = {r["id"] for r in rows if can_view(viewer, r)}
        where, params = access.visible_where(viewer, "x")
        got = {r[0] for r in populated.execute(f"SELECT x.id FROM recordings x WHERE {where}", params)}
        assert got == expected, viewer
        ids = access.visible_recording_ids(populated, viewer)
        assert (ids is None) == viewer.sees_everything and (ids is None or ids == expected)
    assert access.visible_recording_ids(populated, ANONYMOUS) == set()


def test_visible_recording_hides_like_missing_and_unfinished_work_from_readers(conn):
    from kb.recordings import RecordingMeta, create, meister_id

    with conn:
        meister_id(conn, "田中")
        done = create(
            conn,
            title="d",
            kind="document",
            fmt="txt",
            source_name="d.txt",
            sha256="1" * 64,
            size_bytes=1,
            meta=RecordingMeta(meister="田中"),
            status="done",
        )
        hidden = create(
            conn,
            title="h",
            kind="document",
            fmt="txt",
            source_name="h.txt",
            sha256="2" * 64,
            size_bytes=1,
            meta=RecordingMeta(meister="田中", visibility="private"),
            status="done",
        )
        pending = create(
            conn,
            title="p",
            kind="document",
            fmt="txt",
            source_name="p.txt",
            sha256="3" * 64,
            size_bytes=1,
            meta=RecordingMeta(meister="田中"),
            status="processing",
        )
    assert access.visible_recording(conn, apprentice, done)["title"] == "d"
    messages = []
    for rid in (hidden, pending, 999):
        with pytest.raises(NotFound) as e:
            access.visible_recording(conn, apprentice, rid)
        messages.append(str(e.value).replace(str(rid), "N"))
    assert len(set(messages)) == 1  # a hidden or unfinished recording reads exactly like a missing one
    assert access.visible_recording(conn, meister, pending)["status"] == "processing"
    assert access.visible_recording(conn, meister, hidden)["title"] == "h"
    assert access.visible_recording(conn, coordinator, pending)["title"] == "p"
