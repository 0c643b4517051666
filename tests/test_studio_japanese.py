"""Issue 14, items 1 and 4, without a browser: every studio message through the translations, a stable code
for every problem and API error, sizes in words of the page's language, titles taken from a file name marked.

The browser side (what a meister sees in Chromium) is tests/e2e/test_e2e_studio_ja.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.studio import add_user, api_token, client_as, process_all, rows, studio_app, studio_token, upload

REPO = Path(__file__).resolve().parents[1]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    app, config = studio_app(tmp_path_factory.mktemp("studio-ja") / "kb", embed_model="hash", second_embed_model="none")
    add_user(config, "tanaka", "meister", meister="田中 一郎")
    return app, config


def _codes_in_code() -> set[str]:
    """Every problem code the ingest, media and kb code can raise (``code="..."``), and detect's refusals."""
    from ingest.detect import _REFUSAL_CODES

    found = set(_REFUSAL_CODES.values()) | {"text_not_media", "empty_file", "unreadable", "unsupported_content"}
    for folder in ("ingest", "media"):
        for path in (REPO / folder).glob("*.py"):
            found |= set(re.findall(r'\bcode(?:: [^=]+)?\s*=\s*"([a-z_]+)"', path.read_text("utf-8")))
    found |= {"no_audio", "no_video"}  # media.ffmpeg._failure: code=f"no_{kind}"
    return found


def test_every_problem_code_has_plain_words_in_both_languages(kb):
    from web.problems import problem_message

    app, config = kb
    codes = _codes_in_code()
    assert {"empty_file", "text_not_media", "damaged_media", "no_audio", "playlist", "speech_model"} <= codes
    for code in sorted(codes):
        with app.test_request_context("/", headers={"Accept-Language": "ja"}):
            ja = problem_message(code, {"limit": 2048, "id": 7, "expected": "video"})
        with app.test_request_context("/", headers={"Accept-Language": "en"}):
            en = problem_message(code, {"limit": 2048, "id": 7, "expected": "video"})
        assert ja and en, code
        assert JAPANESE.search(ja) and ja != en, (code, ja)
        assert "ffmpeg" not in ja or code == "ffmpeg_missing", (code, ja)  # a tool's name only where it helps


def test_the_job_messages_of_every_stage_are_translated(kb):
    """「音声を文字にしています」 was followed by "Recognising speech": every message a job shows is in the catalogue."""
    from flask_babel import gettext

    from ingest import queue, stages

    app, config = kb
    messages = {v for m in (queue, stages) for k, v in vars(m).items() if k.startswith("MSG_") and isinstance(v, str)}
    assert {"Recognising speech", "Preparing the passages for search", "Waiting for a worker"} <= messages
    with app.test_request_context("/", headers={"Accept-Language": "ja"}):
        for message in sorted(messages):
            assert JAPANESE.search(gettext(message)), message


def test_sizes_are_said_in_the_pages_language(kb):
    from web.uploads import human_size

    app, config = kb
    with app.test_request_context("/", headers={"Accept-Language": "ja"}):
        assert (human_size(12), human_size(2048)) == ("12 バイト", "2 KB")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert human_size(12) == "12 bytes"
    assert human_size(12) == "12 bytes"  # outside a request (the command line): English
    client = client_as(app, "tanaka")
    client.set_cookie("lang", "ja")
    page = client.get("/studio").get_data(as_text=True)
    assert 'data-size-units="バイト,KB,MB,GB"' in page and 'data-details="技術的な詳細"' in page


def test_a_refused_file_is_said_in_japanese_with_the_detail_folded_away(kb):
    app, config = kb
    client = client_as(app, "tanaka")
    client.set_cookie("lang", "ja")
    text = "これは動画ではありません。\n".encode() * 20
    response = upload(client, [(text, "broken.mp4"), (b"", "empty.mp3")], json=False)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    results = page[page.index('class="upload-results"') : page.index("</ul>", page.index('class="upload-results"'))]
    messages = re.findall(r'<span class="result-message">([^<]*)</span>', results)
    assert messages == [
        "broken.mp4: ファイル名は動画ですが、中身は動画ではなく文章です。動画そのもののファイルを選んでください。",
        (
            "empty.mp3: ファイルが空です（中身がありません）。カメラやスマートフォンからもう一度コピーして、"
            "そのファイルを追加してください。"
        ),
    ]
    details = re.findall(
        r'<details class="problem-detail"><summary>技術的な詳細</summary><code>([^<]*)</code>', results
    )
    assert details == ["content is text, not video (the file is named .mp4)", "empty file (0 bytes)"]
    for message in messages:  # no English words besides the file's own name
        assert not re.search(r"[A-Za-z]{3,}", message.split(": ", 1)[1]), message


def test_api_errors_have_one_shape_a_stable_code_and_the_callers_language(kb):
    app, config = kb
    token = api_token(config, "tanaka")
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}

    def answer(path, lang, **headers):
        response = client.get(path, headers={"Accept-Language": lang, **headers})
        return response.status_code, response.get_json()

    status, body = answer("/api/v1/search?q=x&kind=hologram", "ja", **bearer)
    assert (status, body["code"], body["status"]) == (400, "invalid_kind", 400)
    assert body["error"] == "種類は次のどれかにしてください: video, audio, document。"
    status, body = answer("/api/v1/search?q=x&kind=hologram", "en", **bearer)
    assert body == {"error": "The kind must be one of: video, audio, document.", "code": "invalid_kind", "status": 400}
    assert answer("/api/v1/search?q=x&mode=psychic", "ja", **bearer)[1]["code"] == "invalid_mode"
    assert answer("/api/v1/search?q=x&limit=many", "ja", **bearer)[1]["code"] == "invalid_limit"

    status, body = answer("/api/v1/recordings/999999", "ja", **bearer)
    assert (status, body["code"]) == (404, "not_found") and JAPANESE.search(body["error"])
    status, body = answer("/api/v1/recordings", "ja")  # no token
    assert (status, body["code"]) == (401, "login_required") and JAPANESE.search(body["error"])
    status, body = answer("/api/v1/recordings", "ja", Authorization="Bearer tkb_not-a-token")
    assert (status, body["code"]) == (401, "invalid_token") and JAPANESE.search(body["error"])
    response = client.post(
        "/api/v1/recordings",
        headers={**bearer, "Accept-Language": "ja"},
        data={"title": "x"},
        content_type="multipart/form-data",
    )
    body = response.get_json()
    assert (response.status_code, body["code"]) == (400, "no_file") and JAPANESE.search(body["error"])
    response = client.post("/api/v1/recordings/999999/retry", headers={**bearer, "Accept-Language": "en"})
    assert response.get_json()["code"] == "not_found" and "no page or recording" in response.get_json()["error"]


def test_a_title_taken_from_the_file_name_is_marked_until_the_meister_edits_it(kb):
    app, config = kb
    client = client_as(app, "tanaka")
    doc = "# 安全\n\n保護めがねを掛ける。\n".encode()
    named = upload(client, [(doc, "07_safety_ja.md")]).get_json()["results"][0]["recording_id"]
    titled = upload(client, [(doc + b"\n", "test_en.md")], title="保護めがねの掛け方").get_json()["results"][0][
        "recording_id"
    ]
    listed = {
        r["id"]: r for r in client.get("/studio", headers={"Accept": "application/json"}).get_json()["recordings"]
    }
    assert (listed[named]["title"], listed[named]["title_from_filename"]) == ("07_safety_ja", True)
    assert (listed[titled]["title"], listed[titled]["title_from_filename"]) == ("保護めがねの掛け方", False)
    client.set_cookie("lang", "ja")
    html = client.get("/studio/states").get_data(as_text=True)
    row = html[html.index(f'id="rec-{named}"') :]
    row = row[: row.index("</tr>")]
    assert f'<a class="title-from-filename" href="/studio/r/{named}/edit#meta-title">題名がファイル名のままです' in row
    other = html[html.index(f'id="rec-{titled}"') :]
    assert "title-from-filename" not in other[: other.index("</tr>")]
    edit = client.get(f"/studio/r/{named}/edit").get_data(as_text=True)
    assert 'class="title-from-filename-hint"' in edit

    token = studio_token(client)
    response = client.post(
        f"/studio/r/{named}/edit", data={"csrf_token": token, "title": "保護めがねの点検", "visibility": "organisation"}
    )
    assert response.status_code == 303
    assert rows(config, "SELECT title, title_from_filename FROM recordings WHERE id = ?", named) == [
        ("保護めがねの点検", 0)
    ]
    job = client.get(f"/api/v1/recordings/{named}/job").get_json()
    assert job["title_from_filename"] is False

    # Saving the details with the file's name as it is keeps it: the meister has seen it and chosen it.
    kept = upload(client, [(doc + b"\n\n", "旋盤の段取り.md")]).get_json()["results"][0]["recording_id"]
    assert rows(config, "SELECT title_from_filename FROM recordings WHERE id = ?", kept) == [(1,)]
    client.post(
        f"/studio/r/{kept}/edit", data={"csrf_token": token, "title": "旋盤の段取り", "visibility": "organisation"}
    )
    assert rows(config, "SELECT title_from_filename FROM recordings WHERE id = ?", kept) == [(0,)]
    process_all(config)


def test_a_documents_own_heading_is_not_a_file_name(kb):
    """A Word or Markdown file without a typed title takes its heading when processed: no longer marked."""
    app, config = kb
    client = client_as(app, "tanaka")
    html = (
        b"<html><head><title>\xe6\x97\x8b\xe7\x9b\xa4\xe3\x81\xae\xe6\x89\x8b\xe5\x85\x83</title></head>"
        b"<body><p>\xe4\xb8\xbb\xe8\xbb\xb8\xe3\x82\x92\xe6\xad\xa2\xe3\x82\x81\xe3\x82\x8b\xe3\x80\x82</p></body></html>"
    )
    rid = upload(client, [(html, "doc_01.html")]).get_json()["results"][0]["recording_id"]
    assert rows(config, "SELECT title_from_filename FROM recordings WHERE id = ?", rid) == [(1,)]
    process_all(config)
    assert rows(config, "SELECT title, title_from_filename FROM recordings WHERE id = ?", rid) == [("旋盤の手元", 0)]


def test_the_migration_marks_titles_that_are_still_file_names(tmp_path):
    from kb import db

    conn = db.connect(tmp_path / "old.sqlite3")
    for number, name, sql in db._migrations():
        if number < 12:
            if sql.lstrip().startswith(db.FOREIGN_KEYS_OFF):
                db._migrate_rebuilding(conn, number, name, sql)
            else:
                conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    with conn:
        for title, source in (
            ("07_safety_ja", "07_safety_ja.mp4"),
            ("test_en", "test_en"),
            ("旋盤の段取り", "IMG_0001.MOV"),
            ("a.b", "a.b.mp4"),
            ("a", "a.b.mp4"),
        ):
            conn.execute(
                "INSERT INTO recordings(title, kind, format, source_name, sha256, size_bytes)"
                " VALUES (?, 'video', 'mp4', ?, ?, 1)",
                (title, source, title * 4),
            )
    assert "012_title_from_filename.sql" in db.migrate(conn)
    marked = dict(conn.execute("SELECT title, title_from_filename FROM recordings").fetchall())
    assert marked == {"07_safety_ja": 1, "test_en": 1, "旋盤の段取り": 0, "a.b": 1, "a": 0}


def test_a_failure_in_the_worker_is_said_in_plain_words_on_every_page_and_in_the_job_api(kb, tmp_path):
    from helpers.studio import small_video

    app, config = kb
    client = client_as(app, "tanaka")
    silent = small_video(None, tmp_path / "silent.mp4").read_bytes()
    rid = upload(client, [(silent, "音のない動画.mp4")]).get_json()["results"][0]["recording_id"]
    assert [o.status for o in process_all(config)] == ["failed"]
    client.set_cookie("lang", "ja")
    edit = client.get(f"/studio/r/{rid}/edit").get_data(as_text=True)
    assert re.search(
        r'<p class="studio-error" role="alert">この動画には音声が入っていないため、文字にできません。[^<]*</p>'
        r'<details class="problem-detail"><summary>技術的な詳細</summary><code>音のない動画.mp4: no audio '
        r"stream",
        edit,
    )
    job = client.get(f"/api/v1/recordings/{rid}/job").get_json()
    assert (job["error_code"], job["stage_label"]) == ("no_audio", "失敗")
    assert job["error"].startswith("この動画には音声が入っていない") and "no audio stream" in job["error_detail"]
    client.set_cookie("lang", "en")
    job = client.get(f"/api/v1/recordings/{rid}/job").get_json()
    assert job["error"].startswith("This video has no sound") and job["error_code"] == "no_audio"
    retry = client.post(
        f"/studio/r/{rid}/retry", headers={"Accept": "application/json"}, data={"csrf_token": studio_token(client)}
    )
    assert retry.status_code == 202
    refused = client.post(
        f"/studio/r/{rid}/retry", headers={"Accept": "application/json"}, data={"csrf_token": studio_token(client)}
    )
    assert refused.status_code == 409 and refused.get_json()["code"] == "not_failed"
    process_all(config)


def test_the_other_json_errors_of_a_meisters_day_have_the_same_shape(kb):
    """The glossary and the learning events answer a refusal like the studio: {error, code, status}."""
    app, config = kb
    client = client_as(app, "tanaka")
    client.set_cookie("lang", "ja")
    csrf = {"X-CSRF-Token": studio_token(client), "Accept": "application/json"}
    r = client.post("/glossary", json={"term": "", "reading": "", "synonyms": ""}, headers=csrf)
    body = r.get_json()
    assert r.status_code == 400 and set(body) == {"error", "code", "status"} and body["status"] == 400
    assert body["code"] and JAPANESE.search(body["error"])
    r = client.post("/learning/events", data="x", content_type="text/plain", headers=csrf)
    assert (r.status_code, r.get_json()["code"]) == (400, "json_required") and JAPANESE.search(r.get_json()["error"])
    r = client.post("/learning/events", json={"events": [{}] * 1000}, headers=csrf)
    assert (r.status_code, r.get_json()["code"]) == (400, "too_many_events")


def test_a_fault_of_the_server_is_said_plainly_and_the_other_files_still_go_through(kb, monkeypatch):
    from ingest import queue

    app, config = kb
    real = queue.submit_file

    def flaky(config, conn, path, source_name, *args, **kwargs):
        if source_name == "bug.md":
            raise RuntimeError(f"boom in {config.home}")  # (a fault's words may name server paths)
        return real(config, conn, path, source_name, *args, **kwargs)

    monkeypatch.setattr(queue, "submit_file", flaky)
    client = client_as(app, "tanaka")
    client.set_cookie("lang", "ja")
    bad, good = upload(client, [(b"# a\n\nbug\n", "bug.md"), (b"# b\n\nfine words\n", "fine.md")]).get_json()["results"]
    assert (bad["status"], bad["code"], bad["detail"]) == ("refused", "server_error", "RuntimeError")
    assert bad["message"].startswith("bug.md: サーバー側の不具合") and str(config.home) not in bad["message"]
    assert good["status"] == "queued"
    process_all(config)
