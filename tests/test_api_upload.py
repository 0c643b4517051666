"""The upload API: POST /api/v1/recordings with a per-user token, then the job's state, then search.

Real parts throughout: a fresh knowledge base with the default models (Whisper
base, the e5 and USE embedders), the real worker in a background thread (as
`kb serve` runs it), and tokens made by kb.users.
"""

from __future__ import annotations

import pytest

from helpers.studio import add_user, api_token, as_file, problems, process_all, rows, small_video, studio_app, wait_for


@pytest.fixture(scope="module")
def kb(tmp_path_factory, shared_data):
    app, config = studio_app(tmp_path_factory.mktemp("api-upload") / "kb")
    add_user(config, "tanaka", "meister", meister="田中 一郎")
    add_user(config, "nakamura", "meister", meister="中村 誠")
    add_user(config, "deshi", "apprentice")
    tokens = {login: api_token(config, login) for login in ("tanaka", "nakamura", "deshi")}
    return app, config, tokens


def post(client, token: str | None, content, name: str, **fields):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = dict(fields, file=as_file(content, name)) if content is not None else dict(fields)
    return client.post("/api/v1/recordings", data=data, headers=headers, content_type="multipart/form-data")


def get(client, token: str, path: str):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_without_a_token_401_with_an_apprentices_403(kb, jfk):
    app, config, tokens = kb
    client = app.test_client()
    response = post(client, None, jfk, "jfk.flac")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error" in response.get_json()
    assert post(client, "tkb_not-a-real-token", jfk, "jfk.flac").status_code == 401
    response = post(client, tokens["deshi"], jfk, "jfk.flac")
    assert response.status_code == 403
    assert rows(config, "SELECT COUNT(*) FROM recordings") == [(0,)]
    assert problems(config) == []


def test_a_meister_uploads_jfk_watches_the_job_and_an_apprentice_finds_it(kb, jfk):
    from ingest.worker import BackgroundWorker

    app, config, tokens = kb
    client = app.test_client()
    response = post(
        client,
        tokens["tanaka"],
        jfk,
        "ケネディ演説.flac",
        title="JFK inaugural address",
        technique="スピーチ",
        tags="演説, 英語",
        language="en",
        glossary="Americans",
    )
    assert response.status_code == 202  # no CSRF token: a token-authenticated call
    body = response.get_json()
    rid = body["id"]
    assert (body["result"], body["stage"], body["active"], body["name"]) == (
        "queued",
        "queued",
        True,
        "ケネディ演説.flac",
    )
    assert body["urls"] == {
        "recording": f"/r/{rid}",
        "job": f"/api/v1/recordings/{rid}/job",
        "retry": f"/api/v1/recordings/{rid}/retry",
        "studio": f"/studio/r/{rid}/edit",
    }
    ((title, meister, tags, language, owner),) = rows(
        config,
        "SELECT r.title, m.name, r.tags, r.language, u.login FROM recordings r JOIN meisters m "
        "ON m.id = r.meister_id JOIN users u ON u.id = r.owner_user_id WHERE r.id = ?",
        rid,
    )
    assert (title, meister, tags, language, owner) == (
        "JFK inaugural address",
        "田中 一郎",
        '["演説", "英語"]',
        "en",
        "tanaka",
    )
    assert rows(config, "SELECT term FROM glossary WHERE organisation_id = 1") == [("Americans",)]

    seen = []

    def finished():
        state = get(client, tokens["tanaka"], body["urls"]["job"]).get_json()
        seen.append((state["stage"], state["progress"]))
        return not state["active"] and state

    worker = BackgroundWorker(config, poll_seconds=0.2).start()
    try:
        state = wait_for(finished)
    finally:
        assert worker.stop()
    assert (state["stage"], state["status"], state["progress"], state["error"]) == ("done", "done", 100, "")
    progress = [p for _, p in seen]
    assert progress == sorted(progress)  # the percent only goes up
    assert {s for s, _ in seen} <= {"queued", "extracting", "transcribing", "embedding", "indexing", "done"}

    hits = get(client, tokens["deshi"], "/api/v1/search?q=ask not what your country can do for you").get_json()
    assert hits["hits"] and hits["hits"][0]["recording_id"] == rid
    assert "country" in hits["hits"][0]["text"]
    assert get(client, tokens["deshi"], f"/api/v1/recordings/{rid}").get_json()["title"] == "JFK inaugural address"

    again = post(client, tokens["nakamura"], jfk, "copy.flac")  # the same content, by another meister
    assert again.status_code == 200
    assert (again.get_json()["id"], again.get_json()["result"]) == (rid, "exists")
    assert "JFK inaugural address" in again.get_json()["message"]
    assert rows(config, "SELECT COUNT(*) FROM recordings") == [(1,)]
    assert problems(config) == []


def test_a_bad_file_is_a_400_with_its_reason(kb):
    app, config, tokens = kb
    client = app.test_client()
    before = rows(config, "SELECT COUNT(*) FROM recordings")
    response = post(client, tokens["tanaka"], b"", "空.mp4")
    assert response.status_code == 400
    body = response.get_json()  # a stable code, the message in the caller's language (Japanese by default)
    assert {k: body[k] for k in ("code", "status", "name", "detail")} == {
        "code": "empty_file",
        "status": 400,
        "name": "空.mp4",
        "detail": "empty file (0 bytes)",
    }
    assert body["error"].startswith("空.mp4: ファイルが空です")
    english = {"Authorization": f"Bearer {tokens['tanaka']}", "Accept-Language": "en"}
    response = client.post(
        "/api/v1/recordings",
        headers=english,
        content_type="multipart/form-data",
        data={"file": as_file("ただの文章\n".encode() * 30, "clip.mov")},
    )
    body = response.get_json()
    assert response.status_code == 400 and (body["code"], body["name"]) == ("text_not_media", "clip.mov")
    assert body["error"].startswith("clip.mov: The file is named like a video, but it holds text")
    assert body["detail"].startswith("content is text")
    response = post(client, tokens["tanaka"], None, "", title="no file")
    assert response.status_code == 400 and response.get_json()["code"] == "no_file"
    assert "file" in response.get_json()["error"]
    assert rows(config, "SELECT COUNT(*) FROM recordings") == before
    assert problems(config) == []


def test_a_failed_job_says_why_and_is_retried_by_its_meister_only(kb, jfk, tmp_path):
    app, config, tokens = kb
    client = app.test_client()
    silent = small_video(None, tmp_path / "v.mp4").read_bytes()
    response = post(client, tokens["tanaka"], silent, "音なし.mp4", visibility="private")
    assert response.status_code == 202
    rid = response.get_json()["id"]
    assert [o.status for o in process_all(config)] == ["failed"]
    state = get(client, tokens["tanaka"], f"/api/v1/recordings/{rid}/job").get_json()
    assert (state["stage"], state["active"]) == ("failed", False)
    assert state["error_code"] == "no_audio" and "音声が入っていない" in state["error"]  # plain Japanese words
    assert state["error_detail"].startswith("音なし.mp4") and "no audio stream" in state["error_detail"]

    headers = {"Authorization": f"Bearer {tokens['nakamura']}"}
    assert client.get(f"/api/v1/recordings/{rid}/job", headers=headers).status_code == 404  # private: not his
    assert client.post(f"/api/v1/recordings/{rid}/retry", headers=headers).status_code == 404
    headers = {"Authorization": f"Bearer {tokens['deshi']}"}
    assert client.post(f"/api/v1/recordings/{rid}/retry", headers=headers).status_code == 403

    headers = {"Authorization": f"Bearer {tokens['tanaka']}"}
    response = client.post(f"/api/v1/recordings/{rid}/retry", headers=headers)
    assert response.status_code == 202
    assert (response.get_json()["stage"], response.get_json()["active"]) == ("queued", True)
    assert client.post(f"/api/v1/recordings/{rid}/retry", headers=headers).status_code == 409  # not failed now
    assert [o.status for o in process_all(config)] == ["failed"]
    assert problems(config) == []
