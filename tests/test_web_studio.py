"""The studio pages: who may use them, uploading through the form, live states, editing, replacing, deleting.

A fresh knowledge base with the default models (Whisper base, e5, USE) and
the real worker: jfk.flac is uploaded through the plain form and watched to the
end through the list fragment htmx polls; editing, replacing and deleting are
checked against files, rows, both indexes and search.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.studio import (
    add_user,
    as_file,
    client_as,
    index_agrees,
    problems,
    process_all,
    rows,
    small_video,
    studio_app,
    studio_token,
    upload,
    wait_for,
)


@pytest.fixture(scope="module")
def kb(tmp_path_factory, shared_data):
    app, config = studio_app(tmp_path_factory.mktemp("studio") / "kb")
    add_user(config, "tanaka", "meister", meister="田中 一郎")
    add_user(config, "suzuki", "meister", meister="鈴木 次郎")
    add_user(config, "boss", "coordinator")
    add_user(config, "deshi", "apprentice")
    return app, config


@pytest.fixture
def tanaka(kb):
    return client_as(kb[0], "tanaka")


@pytest.fixture
def apprentice(kb):
    return client_as(kb[0], "deshi")


def doc(word: str) -> bytes:
    return f"# 段取りの手順\n\n主軸を止めてから {word} の治具を外す。切粉を払ってから測る。\n".encode()


def lexical_hits(client, query: str) -> list[int]:
    return [h["recording_id"] for h in client.get(f"/api/v1/search?q={query}&mode=lexical").get_json()["hits"]]


def test_the_studio_is_for_meisters_coordinators_and_admins(kb, tanaka, apprentice):
    app, config = kb
    anonymous = app.test_client().get("/studio")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login?next=/studio")
    assert apprentice.get("/studio").status_code == 403
    assert 'href="/studio"' not in apprentice.get("/").get_data(as_text=True)
    page = tanaka.get("/studio").get_data(as_text=True)
    assert 'href="/studio" aria-current="page"' in page
    form = page[page.index('<form id="upload-form"') : page.index("</form>", page.index('<form id="upload-form"'))]
    assert 'method="post" action="/studio/upload"' in form and 'enctype="multipart/form-data"' in form
    assert re.search(
        r'<input id="upload-files" class="file-input" type="file" name="file" multiple required\s+'
        r'accept="video/\*,audio/\*,',
        form,
    )
    assert 'name="csrf_token"' in form and 'name="glossary"' in form and 'name="visibility"' in form
    assert 'name="meister"' not in form  # a meister uploads as himself
    assert 'name="meister"' in client_as(app, "boss").get("/studio").get_data(as_text=True)
    assert "upload.js" in page


def test_jfk_through_the_form_processing_shown_live_then_found(kb, tanaka, apprentice, jfk):
    from ingest.worker import BackgroundWorker

    app, config = kb
    response = upload(
        tanaka,
        [(jfk, "就任演説.flac")],
        json=False,
        title="ケネディ就任演説",
        technique="スピーチ",
        tags="演説",
        language="en",
        glossary="Americans, 心押し台",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Received. It will be processed in the background." in page
    ((rid, source, stored),) = rows(config, "SELECT id, source_name, stored_path FROM recordings")
    assert source == "就任演説.flac" and re.fullmatch(r"originals/[0-9a-f]{2}/[0-9a-f]{64}\.flac", stored)
    assert [t for (t,) in rows(config, "SELECT term FROM glossary WHERE organisation_id = 1")] == [
        "Americans",
        "心押し台",
    ]

    fragment = tanaka.get("/studio/states", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 2s, kb-uploaded from:body"' in fragment
    assert re.search(rf'<tr id="rec-{rid}" class="studio-row stage-queued"', fragment)
    assert '<progress max="100" value="0"' in fragment

    seen = []

    def finished():
        html = tanaka.get("/studio/states", headers={"HX-Request": "true"}).get_data(as_text=True)
        stage = re.search(rf'<tr id="rec-{rid}" class="studio-row stage-(\w+)"', html).group(1)
        seen.append(stage)
        return "every 2s" not in html and html

    worker = BackgroundWorker(config, poll_seconds=0.2).start()
    try:
        html = wait_for(finished)
    finally:
        assert worker.stop()
    assert seen[-1] == "done" and 'hx-trigger="kb-uploaded from:body"' in html  # polling stopped
    assert f'<a class="rec-title" href="/r/{rid}">ケネディ就任演説</a>' in html
    assert "<progress" not in html

    hits = apprentice.get("/api/v1/search?q=ask not what your country can do for you").get_json()["hits"]
    assert hits[0]["recording_id"] == rid
    page = apprentice.get("/search?q=fellow Americans").get_data(as_text=True)
    assert f'href="/r/{rid}' in page
    assert problems(config) == [] and index_agrees(config)


def test_meisters_manage_their_own_coordinators_everything(kb, tanaka):
    app, config = kb
    suzuki, boss = client_as(app, "suzuki"), client_as(app, "boss")
    mine = upload(tanaka, [(doc("kiwi"), "kiwi.md")]).get_json()["results"][0]["recording_id"]
    his = upload(suzuki, [(doc("emu"), "emu.md")], visibility="private").get_json()["results"][0]["recording_id"]
    theirs = upload(boss, [(doc("moa"), "moa.md")], meister="佐藤 三郎").get_json()["results"][0]["recording_id"]
    process_all(config)

    def listed(client):
        return {r["id"] for r in client.get("/studio", headers={"Accept": "application/json"}).get_json()["recordings"]}

    assert {mine, his, theirs} <= listed(boss)
    assert mine in listed(tanaka) and not {his, theirs} & listed(tanaka)
    assert rows(
        config, "SELECT m.name FROM recordings r JOIN meisters m ON m.id = r.meister_id WHERE r.id = ?", theirs
    ) == [("佐藤 三郎",)]
    assert tanaka.get(f"/studio/r/{his}/edit").status_code == 404  # private: not even said to exist
    assert tanaka.get(f"/studio/r/{theirs}/edit").status_code == 403  # visible to him, not his to change
    token = studio_token(tanaka)
    assert tanaka.post(f"/studio/r/{theirs}/delete", data={"csrf_token": token, "confirm": "yes"}).status_code == 403
    assert boss.get(f"/studio/r/{his}/edit").status_code == 200
    response = boss.post(
        f"/studio/r/{theirs}/edit",
        data={"csrf_token": studio_token(boss), "title": "moa", "meister": "高橋 四郎", "visibility": "organisation"},
    )
    assert response.status_code == 303
    assert rows(
        config, "SELECT m.name FROM recordings r JOIN meisters m ON m.id = r.meister_id WHERE r.id = ?", theirs
    ) == [("高橋 四郎",)]
    tanaka.post(f"/studio/r/{mine}/edit", data={"csrf_token": token, "title": "kiwi", "meister": "偽物"})
    assert rows(
        config, "SELECT m.name FROM recordings r JOIN meisters m ON m.id = r.meister_id WHERE r.id = ?", mine
    ) == [("田中 一郎",)]  # a meister cannot hand his recording to another name


def test_editing_details_and_a_new_title_reaches_search(kb, tanaka, apprentice):
    app, config = kb
    rid = upload(tanaka, [(doc("wallaby"), "wallaby.md")], title="最初の題").get_json()["results"][0]["recording_id"]
    process_all(config)
    page = tanaka.get(f"/studio/r/{rid}/edit").get_data(as_text=True)
    assert 'value="最初の題"' in page and f'action="/studio/r/{rid}/replace"' in page
    token = studio_token(tanaka)
    response = tanaka.post(
        f"/studio/r/{rid}/edit",
        data={
            "csrf_token": token,
            "title": "ヤマアラシ式の外し方",
            "technique": "フライス",
            "tags": "治具、安全",
            "language": "ja",
            "visibility": "organisation",
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/studio/r/{rid}/edit?saved=1"
    ((title, technique, tags, language),) = rows(
        config, "SELECT title, technique, tags, language FROM recordings WHERE id = ?", rid
    )
    assert (title, technique, tags, language) == ("ヤマアラシ式の外し方", "フライス", '["治具", "安全"]', "ja")
    state = tanaka.get("/studio/states", headers={"Accept": "application/json"}).get_json()
    row = next(r for r in state["recordings"] if r["id"] == rid)
    assert (row["status"], row["stage"], row["active"]) == ("done", "queued", True)  # re-embedding, still found
    assert lexical_hits(apprentice, "wallaby") == [rid]
    assert lexical_hits(apprentice, "ヤマアラシ") == []  # not yet: the passages carry the old title
    assert [o.status for o in process_all(config)] == ["done"]
    assert lexical_hits(apprentice, "ヤマアラシ") == [rid]  # the title is searched with every passage

    response = tanaka.post(f"/studio/r/{rid}/edit", data={"csrf_token": token, "title": "", "visibility": "private"})
    assert response.status_code == 400 and "The title must not be empty." in response.get_data(as_text=True)
    response = tanaka.post(
        f"/studio/r/{rid}/edit", data={"csrf_token": token, "title": "ヤマアラシ式の外し方", "visibility": "private"}
    )
    assert response.status_code == 303
    assert lexical_hits(apprentice, "wallaby") == []  # private now: the apprentice no longer finds it
    assert apprentice.get(f"/r/{rid}").status_code == 404
    assert lexical_hits(tanaka, "wallaby") == [rid]
    assert problems(config) == [] and index_agrees(config)


def test_replacing_the_file_processes_it_again_under_the_same_id(kb, tanaka, apprentice):
    app, config = kb
    rid = upload(tanaka, [(doc("okapi"), "okapi.md")]).get_json()["results"][0]["recording_id"]
    process_all(config)
    ((old_stored,),) = rows(config, "SELECT stored_path FROM recordings WHERE id = ?", rid)
    response = tanaka.post(
        f"/studio/r/{rid}/replace",
        content_type="multipart/form-data",
        data={"csrf_token": studio_token(tanaka), "file": as_file(doc("narwhal"), "改訂版.md")},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/studio?done=replace"
    assert rows(config, "SELECT status, source_name FROM recordings WHERE id = ?", rid) == [("pending", "改訂版.md")]
    assert not (config.home / old_stored).exists()
    process_all(config)
    assert lexical_hits(apprentice, "narwhal") == [rid]
    assert lexical_hits(apprentice, "okapi") == []
    bad = tanaka.post(
        f"/studio/r/{rid}/replace",
        content_type="multipart/form-data",
        data={"csrf_token": studio_token(tanaka), "file": as_file(b"", "empty.md")},
    )
    assert bad.status_code == 400 and "empty.md: The file is empty" in bad.get_data(as_text=True)
    assert "<summary>Technical details</summary><code>empty file (0 bytes)</code>" in bad.get_data(as_text=True)
    assert lexical_hits(apprentice, "narwhal") == [rid]  # a refused replacement changes nothing
    assert problems(config) == [] and index_agrees(config)


def test_delete_asks_first_then_removes_media_passages_index_and_thumbnails(kb, tanaka, apprentice, jfk, tmp_path):
    app, config = kb
    video = small_video(jfk, tmp_path / "clip.mp4", seconds=6)
    rid = upload(tanaka, [(video, "段取り動画.mp4")], language="en").get_json()["results"][0]["recording_id"]
    assert [o.status for o in process_all(config)] == ["done"]
    assert rid in [h["recording_id"] for h in apprentice.get("/api/v1/search?q=fellow Americans").get_json()["hits"]]
    assert tanaka.get(f"/r/{rid}/thumb/1.jpg").status_code == 200
    assert any((config.media_dir / str(rid)).glob("thumb_*.jpg"))
    ((stored,),) = rows(config, "SELECT stored_path FROM recordings WHERE id = ?", rid)

    confirm = tanaka.get(f"/studio/r/{rid}/delete")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "段取り動画" in page and 'name="confirm" value="yes"' in page
    token = studio_token(tanaka)
    not_confirmed = tanaka.post(f"/studio/r/{rid}/delete", data={"csrf_token": token})
    assert not_confirmed.status_code == 400 and rows(config, "SELECT id FROM recordings WHERE id = ?", rid)

    response = tanaka.post(f"/studio/r/{rid}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert response.status_code == 303 and response.headers["Location"] == "/studio?done=delete"
    assert "The recording was deleted." in tanaka.get("/studio?done=delete").get_data(as_text=True)
    for table in ("recordings", "segments", "chunks", "jobs", "transcript_versions"):
        column = "id" if table == "recordings" else "recording_id"
        assert rows(config, f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", rid) == [(0,)], table
    assert not (config.home / stored).exists()
    assert not (config.media_dir / str(rid)).exists()
    assert rid not in [
        h["recording_id"] for h in apprentice.get("/api/v1/search?q=fellow Americans").get_json()["hits"]
    ]
    assert tanaka.get(f"/r/{rid}").status_code == 410  # gone, and says so (issue 16, defect 12)
    assert problems(config) == [] and index_agrees(config)


def test_deleting_a_queued_recording_cancels_its_job(kb, tanaka):
    app, config = kb
    rid = upload(tanaka, [(doc("quoll"), "quoll.md")]).get_json()["results"][0]["recording_id"]
    response = tanaka.post(f"/studio/r/{rid}/delete", data={"csrf_token": studio_token(tanaka), "confirm": "yes"})
    assert response.status_code == 303
    assert process_all(config) == []  # nothing left to do
    assert rows(config, "SELECT COUNT(*) FROM jobs WHERE recording_id = ?", rid) == [(0,)]
    assert problems(config) == [] and index_agrees(config)


def test_studio_pages_have_no_inline_script_or_style(kb, tanaka):
    app, config = kb
    rid = upload(tanaka, [(doc("dingo"), "dingo.md")]).get_json()["results"][0]["recording_id"]
    for url in ("/studio", "/studio/states", f"/studio/r/{rid}/edit", f"/studio/r/{rid}/delete"):
        page = tanaka.get(url).get_data(as_text=True)
        tags = re.findall(r"<[a-zA-Z][^>]*>", page)
        assert all('src="/static/' in t for t in tags if t.startswith("<script")), url
        assert all(not body.strip() for body in re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)), url
        assert not [t for t in tags if re.search(r"\s(?:on[a-z]+|style)\s*=", t)] and "<style" not in page, url
    process_all(config)


def test_uploading_and_watching_never_load_the_heavy_libraries(kb, jfk):
    """In a fresh interpreter: the studio, an upload (type check and ffprobe included), the live states
    and the job API leave torch, FAISS and Whisper unloaded: all of that is the worker's."""
    import json
    import os
    import subprocess
    import sys

    app, config = kb
    code = f"""
import json, sys
from kb.settings import load_config
from helpers.studio import client_as, upload
from web.app import create_app
app = create_app({{"KB_CONFIG": load_config(home={str(config.home)!r})}})
client = client_as(app, "tanaka")
result = upload(client, [(open({str(jfk)!r}, "rb").read()[:-1] + b"\\0", "heavy-check.flac")]).get_json()
rid = result["results"][0]["recording_id"]
statuses = [client.get(u).status_code for u in ("/studio", "/studio/states", f"/studio/r/{{rid}}/edit",
            f"/studio/r/{{rid}}/delete", f"/api/v1/recordings/{{rid}}/job")]
heavy = ("torch", "faiss", "whisper", "faster_whisper", "ctranslate2", "sentence_transformers", "transformers")
print(json.dumps({{"statuses": statuses, "loaded": [m for m in heavy if m in sys.modules],
                  "result": result["results"][0]["status"]}}))
"""
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo / "tests")},
    )  # the test helpers
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"statuses": [200] * 5, "loaded": [], "result": "queued"}
    process_all(config)
