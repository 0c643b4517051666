"""Issue 16, defects 8-12, 6 and 15: what a person cannot open, they cannot read sideways (curricula,
search scores, duplicate answers, form menus), ids are never reused, absurd ids are 404, and CSV
cells cannot be formulas."""

from __future__ import annotations

import hashlib
import io

import pytest

from helpers.hardening import add_recording, make_kb

SECRET = "極秘の焼入れ条件は八百五十度で三十分保持する。"


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    kb = make_kb(tmp_path_factory.mktemp("visibility"))
    kb.visible = add_recording(
        kb, title="旋盤の段取り", text="旋盤の段取りを確認する。心押し台で支える。" * 3, technique="旋盤"
    )
    kb.hidden = add_recording(
        kb,
        title="第二工場の秘伝",
        text=SECRET,
        visibility="private",
        organisation_id=2,
        owner="other_meister",
        technique="秘伝焼入れ",
        meister="中村 誠",
    )
    return kb


# -- 8: curricula never carry a hidden recording's text ------------------------------------------------


def test_a_hidden_item_shows_only_title_and_times_to_the_technician_and_the_signer(kb):
    from kb import curricula, curricula_progress

    cid = curricula.create(kb.conn, title="新人研修", created_by=kb.user_id("coordinator"))
    curricula.add_item(kb.conn, cid, kb.visible)
    hidden_item = curricula.add_item(kb.conn, cid, kb.hidden)
    curricula.assign(kb.conn, cid, user_id=kb.user_id("apprentice"))
    page = kb.client("apprentice").get(f"/learning/c/{cid}", headers={"Accept": "application/json"})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "八百五十度" not in body and "秘伝焼入れ" not in body
    items = {it["id"]: it for it in page.get_json()["items"]}
    hidden = items[hidden_item]
    assert hidden["flag"] == "hidden" and hidden["title"] == "第二工場の秘伝"
    assert hidden["excerpt"] is None and hidden["sha256"] is None and hidden["recording_id"] is None
    visible = next(it for it in items.values() if it["id"] != hidden_item)
    assert visible["recording_id"] == kb.visible and visible["excerpt"]
    # the apprentice marks it done; 田中 (who gets 404 on the recording) sees it waiting for sign-off
    curricula_progress.record_event(
        kb.conn, kb.user_id("apprentice"), event_id="e-hidden-0001", item_id=hidden_item, kind="done"
    )
    meister = kb.client("meister")
    assert meister.get(f"/r/{kb.hidden}").status_code == 404
    pending = meister.get("/learning/signoff", headers={"Accept": "application/json"})
    assert pending.status_code == 200
    assert "八百五十度" not in pending.get_data(as_text=True)
    waiting = [p for p in pending.get_json()["pending"] if p["item"]["id"] == hidden_item]
    assert waiting and waiting[0]["item"]["excerpt"] is None and waiting[0]["item"]["recording_id"] is None


# -- 9: lexical scores do not depend on what the searcher cannot see ------------------------------------


def test_a_lexical_score_does_not_change_when_a_hidden_passage_with_the_word_appears(tmp_path):
    kb = make_kb(tmp_path)
    add_recording(kb, title="段取り", text="旋盤の段取りを確認する。心押し台で支える。")
    client = kb.client("apprentice")

    def score():
        r = client.get("/api/v1/search", query_string={"q": "段取り 焼入れ条件", "mode": "lexical"})
        hits = r.get_json()["hits"]
        assert len(hits) == 1
        return hits[0]["score"]

    before = score()
    add_recording(kb, title="秘伝", text=SECRET, visibility="private", organisation_id=2, owner="other_meister")
    assert score() == pytest.approx(before, abs=1e-12)
    # the coordinator sees both: their statistics count both (and the word is found)
    hits = kb.client("coordinator").get("/api/v1/search", query_string={"q": "焼入れ条件", "mode": "lexical"})
    assert any(h["title"] == "秘伝" for h in hits.get_json()["hits"])


# -- 10: duplicates are detected only among recordings the uploader can see --------------------------


def _upload(client, data: bytes, name: str):
    from helpers.web import csrf_token

    return client.post(
        "/studio/upload",
        data={"file": (io.BytesIO(data), name), "csrf_token": csrf_token(client), "visibility": "private"},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )


def test_the_same_bytes_as_a_hidden_file_are_stored_separately_and_say_nothing(tmp_path):
    from ingest import queue
    from kb.recordings import RecordingMeta

    kb = make_kb(tmp_path)
    data = "第二工場の秘伝の手順書。焼入れは八百五十度。\n".encode() * 20
    src = tmp_path / "秘伝.txt"
    src.write_bytes(data)
    hidden = queue.submit_file(
        kb.config,
        kb.conn,
        src,
        src.name,
        RecordingMeta(visibility="private", organisation_id=2, owner_user_id=kb.user_id("other_meister")),
    ).recording_id
    r = _upload(kb.client("meister"), data, "私の手順書.txt")
    assert r.status_code in (200, 202), r.get_data(as_text=True)
    text = r.get_data(as_text=True)
    assert "既に" not in text and "already" not in text and str(hidden) not in [str(x) for x in _ids(r.get_json())]
    outcome = r.get_json()["results"][0] if "results" in r.get_json() else r.get_json()
    assert outcome["status"] == "queued"
    rows = kb.conn.execute(
        "SELECT id, stored_path, owner_user_id FROM recordings WHERE sha256 = ? ORDER BY id",
        (hashlib.sha256(data).hexdigest(),),
    ).fetchall()
    assert len(rows) == 2 and rows[0]["stored_path"] != rows[1]["stored_path"]
    # the owner uploading it again is told it exists (they can see it)
    again = _upload(kb.client("other_meister"), data, "again.txt").get_json()
    again = again["results"][0] if "results" in again else again
    assert again["status"] == "exists"


def test_replacing_with_the_bytes_of_a_hidden_file_does_not_name_it(tmp_path):
    from helpers.web import csrf_token
    from ingest import queue
    from kb.recordings import RecordingMeta

    kb = make_kb(tmp_path)
    data = "秘密の段取り。\n".encode() * 30
    src = tmp_path / "秘密.txt"
    src.write_bytes(data)
    hidden = queue.submit_file(
        kb.config,
        kb.conn,
        src,
        src.name,
        RecordingMeta(visibility="private", organisation_id=2, owner_user_id=kb.user_id("other_meister")),
    ).recording_id
    mine = add_recording(kb, title="私の", text="私の手順。", visibility="private")
    client = kb.client("meister")
    r = client.post(
        f"/studio/r/{mine}/replace",
        data={"file": (io.BytesIO(data), "new.txt"), "csrf_token": csrf_token(client)},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 202, r.get_data(as_text=True)
    assert f"recording {hidden}" not in r.get_data(as_text=True)


def _ids(payload) -> list:
    out = []

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ("recording_id", "id") and isinstance(v, int):
                    out.append(v)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(payload)
    return out


# -- 11: form menus offer only visible recordings' techniques -------------------------------------------


@pytest.mark.parametrize("path", ["/studio", "/coaching/new"])
def test_form_menus_do_not_name_a_hidden_recordings_technique(kb, path):
    page = kb.client("meister").get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "旋盤" in text and "秘伝焼入れ" not in text
    assert "秘伝焼入れ" in kb.client("other_meister").get(path).get_data(as_text=True)


def test_the_edit_page_does_not_name_a_hidden_technique(kb):
    page = kb.client("meister").get(f"/studio/r/{kb.visible}/edit")
    assert page.status_code == 200 and "秘伝焼入れ" not in page.get_data(as_text=True)


# -- 12: ids are never reused, and a deleted recording says so ---------------------------------------


def test_a_deleted_recordings_id_is_never_given_again_and_its_page_says_deleted(tmp_path):
    from services import recordings as recording_ops

    kb = make_kb(tmp_path)
    first = add_recording(kb, title="一", text="一番目の記録。")
    last = add_recording(kb, title="二", text="二番目の記録。")
    recording_ops.delete(kb.config, kb.conn, last)
    again = add_recording(kb, title="三", text="三番目の記録。")
    assert again > last > first
    client = kb.client("apprentice")
    client.set_cookie("lang", "ja")
    page = client.get(f"/r/{last}")
    assert page.status_code == 410 and "削除" in page.get_data(as_text=True)
    assert client.get(f"/r/{again + 100}").status_code == 404


def test_the_migration_keeps_every_row_and_reference(tmp_path):
    """Migration 010 rebuilds recordings (AUTOINCREMENT, no UNIQUE sha256) with the foreign keys of
    segments, chunks, jobs, curricula and coaching pointing at the same rows."""
    from kb import db

    conn = db.connect(tmp_path / "old.sqlite3")
    for number, name, sql in db._migrations():
        if number < 10:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    with conn:
        for i in (1, 2, 3):
            conn.execute(
                "INSERT INTO recordings(id, title, kind, format, source_name, sha256, size_bytes, status)"
                " VALUES (?, ?, 'document', 'txt', 'a.txt', ?, 1, 'done')",
                (i, f"r{i}", str(i) * 64),
            )
            conn.execute("INSERT INTO segments(recording_id, idx, text) VALUES (?, 0, 'x')", (i,))
            conn.execute("INSERT INTO chunks(recording_id, idx, text) VALUES (?, 0, 'x')", (i,))
        conn.execute("DELETE FROM recordings WHERE id = 3")  # the old way: id 3 would be given again
    assert db.migrate(conn)[:2] == ["010_worker_tokens.sql", "011_recording_ids.sql"]  # and any later ones
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert [r[0] for r in conn.execute("SELECT id FROM recordings ORDER BY id")] == [1, 2]
    assert conn.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == 2
    assert conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 2
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    with conn:
        conn.execute("DELETE FROM recordings WHERE id = 2")  # cascades still work on the new table
    assert conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 1
    with conn:
        new = conn.execute(
            "INSERT INTO recordings(title, kind, format, source_name, sha256, size_bytes)"
            " VALUES ('n', 'document', 'txt', 'n.txt', ?, 1)",
            ("1" * 64,),
        ).lastrowid
    assert new == 3  # above every id the table held since the migration; never 2 again
    assert conn.execute("SELECT id FROM deleted_recordings").fetchall()[0][0] == 2


# -- 6: ids beyond SQLite's integers ------------------------------------------------------------------

HUGE = "9" * 25


@pytest.mark.parametrize(
    "path",
    [
        f"/r/{HUGE}",
        f"/api/v1/recordings/{HUGE}",
        f"/r/{HUGE}/media",
        f"/r/{HUGE}/qr.svg",
        f"/studio/r/{HUGE}/edit",
        f"/learning/c/{HUGE}",
        f"/r/{2**63}",
    ],
)
def test_huge_ids_in_addresses_are_404(kb, path):
    assert kb.client("coordinator").get(path).status_code == 404


def test_huge_ids_in_forms_are_400(kb):
    from helpers.web import csrf_token

    client = kb.client("coordinator")
    r = client.post("/curricula/add", data={"recording_id": HUGE, "csrf_token": csrf_token(client)})
    assert r.status_code in (400, 404)


# -- 15: CSV cells are never formulas -----------------------------------------------------------------


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("http://x","y")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3", "\t=1", "\r=1"]
)
def test_csv_cells_that_start_a_formula_are_written_as_text(cell):
    from kb import curricula_progress, programme

    body = programme._csv_bytes([[cell, 3, "ok"]]).decode("utf-8-sig")
    assert body.startswith("'" + cell[:1]) or body.startswith("\"'" + cell[:1])
    data = {
        "columns": [{"title": cell}],
        "rows": [
            {
                "user": {"login": "a", "display_name": cell, "organisation": "本社"},
                "cells": [{"state": "done", "flag": None}],
                "completed": False,
            }
        ],
    }
    labels = {"done": "済", "yes": "はい", "no": "いいえ"}
    headings = {k: k for k in ("login", "name", "organisation", "due", "completed")}
    matrix = curricula_progress.matrix_csv(data, labels, headings).decode("utf-8-sig")
    import csv

    rows = list(csv.reader(io.StringIO(matrix)))
    assert rows[0][4] == "'" + cell and rows[1][1] == "'" + cell
    assert programme._csv_bytes([[-5, 2.5]]).decode("utf-8-sig").strip() == "-5,2.5"  # numbers stay numbers
