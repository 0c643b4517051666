""" "My learning", progress events and sign-offs through the web app, over a private copy of the demo KB."""

from __future__ import annotations

import re
import uuid

import pytest

from helpers.web import demo_recording
from kb import curricula, curricula_progress as progress, users as accounts


@pytest.fixture
def assigned(own, users):
    """A new curriculum of two lathe moments assigned to the 本社 apprentice and 第二工場's apprentice."""
    app, conn = own
    rec = demo_recording(conn, "旋盤:長い軸%")
    cid = curricula.create(conn, title=f"学習 {uuid.uuid4().hex[:6]}", goal="段取りを覚える")
    first = curricula.add_item(conn, cid, rec, start=0, end=20)
    second = curricula.add_item(conn, cid, rec, start=20, end=40, required=False)
    me = accounts.find_account(conn, users["apprentice"][0])
    other = accounts.find_account(conn, users["other_apprentice"][0])
    curricula.assign(conn, cid, user_id=me.id, due_date="2025-10-01")
    curricula.assign(conn, cid, user_id=other.id)
    return {"cid": cid, "rec": rec, "items": (first, second), "me": me, "other": other}


def test_my_learning_lists_only_my_curricula(own, as_role, assigned):
    client, _ = as_role("apprentice")
    page = client.get("/learning").get_data(as_text=True)
    assert assigned["cid"] and curricula.get(own[1], assigned["cid"])["title"] in page
    assert f"item={assigned['items'][0]}" in page  # the next item, opened for progress
    meister, _ = as_role("meister")  # not assigned: not listed, and its page is 404
    assert curricula.get(own[1], assigned["cid"])["title"] not in meister.get("/learning").get_data(as_text=True)
    assert meister.get(f"/learning/c/{assigned['cid']}").status_code == 404
    data = client.get("/learning", headers={"Accept": "application/json"}).get_json()
    row = next(r for r in data["curricula"] if r["curriculum"]["id"] == assigned["cid"])
    assert row["total"] == 2 and row["done"] == 0 and row["curriculum"]["due_date"] == "2025-10-01"


def test_events_are_idempotent_and_checked(own, as_role, assigned):
    client, token = as_role("apprentice")
    first, second = assigned["items"]
    same = str(uuid.uuid4())
    batch = {
        "events": [
            {"event_id": same, "item_id": first, "kind": "watched", "fraction": 0.9},
            {"event_id": same, "item_id": first, "kind": "watched", "fraction": 0.9},
            {"event_id": str(uuid.uuid4()), "item_id": second, "kind": "watched", "fraction": 0.3},
            {"event_id": str(uuid.uuid4()), "item_id": 999999, "kind": "done"},
        ]
    }
    r = client.post("/learning/events", json=batch, headers={"X-CSRF-Token": token})
    assert [x["status"] for x in r.get_json()["results"]] == ["recorded", "duplicate", "refused", "refused"]
    # the queue sent again after a lost connection: nothing counted twice
    r = client.post("/learning/events", json=batch, headers={"X-CSRF-Token": token})
    assert r.get_json()["results"][0]["status"] == "duplicate"
    conn = own[1]
    assert conn.execute("SELECT COUNT(*) FROM progress_events WHERE event_id = ?", (same,)).fetchone()[0] == 1
    assert progress.states(conn, [assigned["me"].id], [first])[(assigned["me"].id, first)] == "watched"
    assert client.post("/learning/events", json=batch).status_code == 403  # no CSRF token
    # someone the curriculum is not assigned to cannot report on it
    meister, mtoken = as_role("meister")
    r = meister.post(
        "/learning/events",
        json={"event_id": str(uuid.uuid4()), "item_id": first, "kind": "done"},
        headers={"X-CSRF-Token": mtoken},
    )
    assert r.get_json()["results"][0]["status"] == "refused"


def test_mark_done_twice_with_the_same_form_counts_once(own, as_role, assigned):
    client, token = as_role("apprentice")
    first, _ = assigned["items"]
    page = client.get(f"/learning/c/{assigned['cid']}").get_data(as_text=True)
    event_id = re.search(rf'learning/items/{first}/done".*?name="event_id" value="([^"]+)"', page, re.S).group(1)
    for _ in range(2):
        r = client.post(f"/learning/items/{first}/done", data={"event_id": event_id, "done": "1", "csrf_token": token})
        assert r.status_code == 303
    conn = own[1]
    assert conn.execute("SELECT COUNT(*) FROM progress_events WHERE event_id = ?", (event_id,)).fetchone()[0] == 1
    assert 'data-state="done"' in client.get(f"/learning/c/{assigned['cid']}").get_data(as_text=True)
    other, otoken = as_role("meister")
    assert (
        other.post(
            f"/learning/items/{first}/done", data={"event_id": str(uuid.uuid4()), "csrf_token": otoken}
        ).status_code
        == 404
    )


def test_meisters_sign_off_their_organisation_only(own, as_role, assigned):
    conn = own[1]
    first, _ = assigned["items"]
    me, other = assigned["me"], assigned["other"]
    for account in (me, other):
        progress.record_event(conn, account.id, event_id=str(uuid.uuid4()), item_id=first, kind="done")
    meister, token = as_role("meister")
    page = meister.get("/learning/signoff").get_data(as_text=True)
    assert me.display_name in page and other.display_name not in page
    r = meister.post(
        "/learning/signoff", data={"item_id": first, "user_id": other.id, "comment": "x", "csrf_token": token}
    )
    assert r.status_code == 403
    r = meister.post(
        "/learning/signoff", data={"item_id": first, "user_id": me.id, "comment": "一人でできた", "csrf_token": token}
    )
    assert r.status_code == 303
    assert progress.signoffs(conn, me.id, [first])[first]["comment"] == "一人でできた"
    apprentice, atoken = as_role("apprentice")
    assert apprentice.get("/learning/signoff").status_code == 403
    assert (
        apprentice.post(
            "/learning/signoff", data={"item_id": first, "user_id": me.id, "csrf_token": atoken}
        ).status_code
        == 403
    )
    page = apprentice.get(f"/learning/c/{assigned['cid']}").get_data(as_text=True)
    assert "一人でできた" in page and "完了" in page or "Completed" in page  # required item signed off


def test_the_recording_page_reports_progress_only_for_the_assignee(own, as_role, assigned):
    first, _ = assigned["items"]
    client, _ = as_role("apprentice")
    page = client.get(f"/r/{assigned['rec']}?t=0&item={first}").get_data(as_text=True)
    assert f'id="learning-item" data-item="{first}"' in page and 'data-end="20.0"' in page
    assert "js/progress.js" in page
    meister, _ = as_role("meister")  # sees the recording, but the item is not theirs
    assert 'id="learning-item"' not in meister.get(f"/r/{assigned['rec']}?t=0&item={first}").get_data(as_text=True)
