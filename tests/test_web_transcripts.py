"""The transcript editor and the glossary page through the Flask test client, on a small knowledge base of their own.

The knowledge base is built here (not the shared demo one, which other tests
only read): recordings go through the real pipeline (jfk.flac with Whisper; a
subtitle file; a written note) with the real e5 + USE embedders, and saves go
through the app's own search service, so a search right after a save sees it.
"""

from __future__ import annotations

import re

import pytest

from kb.recordings import RecordingMeta

MEISTER = "田中 一郎"


def _srt(lines: list[str], step: float = 6.0) -> str:
    def ts(t: float) -> str:
        ms = int(round(t * 1000))
        return f"00:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "\n".join(f"{n + 1}\n{ts(n * step)} --> {ts(n * step + 5)}\n{t}\n" for n, t in enumerate(lines))


@pytest.fixture(scope="module")
def site(tmp_path_factory, shared_data):
    """(app, config, new_lesson): an app over a fresh knowledge base; new_lesson() adds a timed transcript."""
    from ingest.pipeline import Ingestor
    from kb import db, users
    from kb.settings import load_config
    from web.app import create_app

    home = tmp_path_factory.mktemp("editor") / "kb"
    app = create_app({"KB_HOME": str(home), "TESTING": True})
    config = app.config["KB_CONFIG"]
    conn = db.connect(config.db_path)
    users.create_organisation(conn, "第二工場")
    folder = tmp_path_factory.mktemp("lessons")
    counter = {"n": 0}

    def new_lesson(lines=None, visibility="organisation", title=None) -> int:
        counter["n"] += 1
        n = counter["n"]
        lines = lines or [f"第{n}回の{i}番目の手順です。バイトの高さを合わせる{i}。" for i in range(12)]
        path = folder / f"lesson{n}.srt"
        path.write_text(_srt(lines), encoding="utf-8")
        result = Ingestor(load_config(home=home), conn).ingest_file(
            path, RecordingMeta(title=title or f"段取り {n}", meister=MEISTER, visibility=visibility)
        )
        assert result.status == "added", result.message
        return result.recording_id

    yield app, config, conn, new_lesson
    app.extensions["search_service"].close()
    conn.close()


@pytest.fixture(scope="module")
def people(site):
    """Clients logged in as: the recording's meister, another meister, an apprentice, a coordinator,
    an apprentice of the second organisation; and an anonymous one."""
    from helpers.web import new_user_client

    app = site[0]
    return {
        "meister": new_user_client(app, "meister", meister=MEISTER),
        "other_meister": new_user_client(app, "meister", meister="佐藤"),
        "apprentice": new_user_client(app, "apprentice"),
        "coordinator": new_user_client(app, "coordinator"),
        "outsider": new_user_client(app, "apprentice", organisation_id=2),
        "anonymous": app.test_client(),
    }


def token(client) -> str:
    from helpers.web import csrf_token

    return csrf_token(client)


def editor_json(client, rid):
    r = client.get(f"/r/{rid}/transcript/edit", headers={"Accept": "application/json"})
    assert r.status_code == 200, r.data[:300]
    return r.get_json()


def save_json(client, rid, lines, base, note=None):
    return client.post(
        f"/r/{rid}/transcript",
        json={"lines": lines, "base_version": base, "note": note},
        headers={"X-CSRF-Token": token(client), "Accept": "application/json"},
    )


def test_who_may_open_the_editor(site, people):
    _, _, _, new_lesson = site
    rid = new_lesson()
    private = new_lesson(visibility="private")
    assert people["meister"].get(f"/r/{rid}/transcript/edit").status_code == 200
    assert people["coordinator"].get(f"/r/{private}/transcript/edit").status_code == 200
    assert people["other_meister"].get(f"/r/{rid}/transcript/edit").status_code == 403
    assert people["apprentice"].get(f"/r/{rid}/transcript/edit").status_code == 403
    assert people["apprentice"].get(f"/r/{private}/transcript/edit").status_code == 404
    assert people["outsider"].get(f"/r/{rid}/transcript/edit").status_code == 404
    r = people["anonymous"].get(f"/r/{rid}/transcript/edit")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    # the recording page links to the editor only for those who may use it
    assert 'data-testid="edit-transcript"' in people["meister"].get(f"/r/{rid}").get_data(as_text=True)
    assert 'data-testid="edit-transcript"' not in people["apprentice"].get(f"/r/{rid}").get_data(as_text=True)


def test_editor_page_holds_every_line_as_form_fields(site, people):
    _, _, _, new_lesson = site
    rid = new_lesson()
    page = people["meister"].get(f"/r/{rid}/transcript/edit").get_data(as_text=True)
    assert page.count('data-testid="editor-line"') == 12
    assert 'name="base_version" value="1"' in page and 'name="csrf_token"' in page
    assert "/static/js/editor.js" in page and "<script>" not in page.split("</head>")[1]
    assert 'data-testid="line-split"' in page and 'data-testid="line-merge"' in page
    data = editor_json(people["meister"], rid)
    assert data["version"] == 1 and data["timed"] and len(data["lines"]) == 12
    assert data["lines"][3]["start"] == 18.0 and data["lines"][3]["idx"] == 3


def test_saving_changes_subtitles_the_page_and_search_at_once(site, people, jfk):
    """jfk.flac through Whisper; a corrected word is in the subtitles and found by search right after."""
    from ingest.pipeline import Ingestor

    app, config, conn, _ = site
    result = Ingestor(config, conn).ingest_file(jfk, RecordingMeta(title="speech", meister=MEISTER, language="en"))
    assert result.status == "added", result.message
    rid = result.recording_id
    meister, reader = people["meister"], people["apprentice"]
    assert reader.get("/api/v1/search?q=country&mode=lexical").get_json()["hits"]
    lines = editor_json(meister, rid)["lines"]
    changed = [n for n, line in enumerate(lines) if "country" in line["text"]]
    assert changed
    for n in changed:
        lines[n]["text"] = lines[n]["text"].replace("country", "tailstock")
    r = save_json(meister, rid, lines, 1, note="fix a word")
    assert r.status_code == 200, r.data
    body = r.get_json()
    assert (
        body["version"] == 2
        and body["reembedded"] >= 1
        and body["editor_url"].endswith(f"saved=2&reembedded={body['reembedded']}")
    )
    vtt = reader.get(f"/r/{rid}/subtitles.vtt").get_data(as_text=True)
    assert "tailstock" in vtt and "country" not in vtt
    assert "tailstock" in reader.get(f"/r/{rid}").get_data(as_text=True)
    for mode in ("hybrid", "lexical"):
        hits = reader.get(f"/api/v1/search?q=tailstock&mode={mode}").get_json()["hits"]
        assert hits and hits[0]["recording_id"] == rid, mode
    assert reader.get("/api/v1/search?q=country&mode=lexical").get_json()["hits"] == []


def test_a_plain_form_post_saves_and_comes_back_with_a_message(site, people):
    _, _, conn, new_lesson = site
    rid = new_lesson()
    meister = people["meister"]
    data = editor_json(meister, rid)
    form = {
        "csrf_token": token(meister),
        "base_version": "1",
        "note": "",
        "idx": [],
        "start": [],
        "end": [],
        "speaker": [],
        "text": [],
    }
    for line in data["lines"]:
        for key in ("idx", "start", "end"):
            form[key].append(str(line[key]))
        form["speaker"].append("")
        form["text"].append(line["text"])
    form["text"][2] = "ルートギャップを2ミリに揃える。"
    form["speaker"][2] = "田中"
    r = meister.post(f"/r/{rid}/transcript", data=form)
    assert r.status_code == 303 and r.headers["Location"] == f"/r/{rid}/transcript/edit?saved=2&reembedded=1"
    page = meister.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="editor-version">' in page and "ルートギャップを2ミリに揃える。" in page
    assert re.search(r'data-testid="editor-status"[^>]*>\s*\S', page)  # the saved message
    seg = conn.execute("SELECT text, speaker FROM segments WHERE recording_id = ? AND idx = 2", (rid,)).fetchone()
    assert tuple(seg) == ("ルートギャップを2ミリに揃える。", "田中")


def test_a_stale_save_is_refused_with_409_and_loses_nothing(site, people):
    _, _, conn, new_lesson = site
    rid = new_lesson()
    meister, coordinator = people["meister"], people["coordinator"]
    mine = editor_json(meister, rid)["lines"]
    theirs = editor_json(coordinator, rid)["lines"]
    theirs[0]["text"] = "コーディネーターの修正。"
    assert save_json(coordinator, rid, theirs, 1).status_code == 200
    mine[1]["text"] = "マイスターの修正。"
    r = save_json(meister, rid, mine, 1)
    assert r.status_code == 409 and r.get_json()["code"] == "stale" and "2" in r.get_json()["error"]
    assert r.get_json()["current_version"] == 2
    # the browser form gets the editor back with the submitted lines and the message
    form = {
        "csrf_token": token(meister),
        "base_version": "1",
        "idx": ["0"],
        "start": ["0"],
        "end": ["5"],
        "speaker": [""],
        "text": ["マイスターの修正。"],
    }
    r = meister.post(f"/r/{rid}/transcript", data=form, headers={"Accept-Language": "en"})
    page = r.get_data(as_text=True)
    assert r.status_code == 409 and 'data-code="stale"' in page and "Someone saved a newer version" in page
    assert "マイスターの修正。" in page
    texts = [row[0] for row in conn.execute("SELECT text FROM segments WHERE recording_id = ? ORDER BY idx", (rid,))]
    assert texts[0] == "コーディネーターの修正。" and "マイスターの修正。" not in texts


def test_invalid_lines_answer_400_with_the_reason(site, people):
    _, _, conn, new_lesson = site
    rid = new_lesson()
    meister = people["meister"]
    lines = editor_json(meister, rid)["lines"]
    lines[4]["end"] = lines[4]["start"]
    r = save_json(meister, rid, lines, 1)
    assert r.status_code == 400 and r.get_json()["code"] == "end_before_start"
    r = meister.post(
        f"/r/{rid}/transcript",
        json={"lines": lines, "base_version": 1},
        headers={"X-CSRF-Token": token(meister), "Accept-Language": "en"},
    )
    assert r.get_json()["error"] == "Line 5 must end after it starts."
    r = meister.post(
        f"/r/{rid}/transcript",
        data="not json",
        headers={"X-CSRF-Token": token(meister), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert editor_json(meister, rid)["version"] == 1


def test_markup_typed_into_a_line_is_text_everywhere(site, people):
    _, _, _, new_lesson = site
    rid = new_lesson()
    meister = people["meister"]
    lines = editor_json(meister, rid)["lines"]
    lines[0]["text"] = '<script>alert("x")</script><b>太字</b>'
    lines[0]["speaker"] = "<i>田中</i>"
    assert save_json(meister, rid, lines, 1).status_code == 200
    for url in (f"/r/{rid}", f"/r/{rid}/transcript/edit", f"/r/{rid}/transcript/versions/2"):
        page = meister.get(url).get_data(as_text=True)
        assert '<script>alert("x")' not in page and "<b>太字</b>" not in page and "<i>田中</i>" not in page, url
        assert "&lt;script&gt;" in page, url
    assert "&lt;script&gt;" in meister.get(f"/r/{rid}/subtitles.vtt").get_data(as_text=True)


def test_history_shows_who_changed_what_and_a_version_can_be_restored(site, people):
    _, _, conn, new_lesson = site
    rid = new_lesson()
    meister = people["meister"]
    original = editor_json(meister, rid)["lines"]
    lines = [dict(line) for line in original]
    lines[0]["text"] = "一度目の修正。"
    assert save_json(meister, rid, lines, 1, note="一行目を直した").status_code == 200
    history = meister.get(f"/r/{rid}/transcript/history", headers={"Accept": "application/json"}).get_json()
    assert history["version"] == 2
    (v1,) = history["versions"]
    assert v1["version"] == 1 and v1["note"] == "一行目を直した" and v1["lines"] == 12 and v1["replaced_by"]
    page = meister.get(f"/r/{rid}/transcript/history").get_data(as_text=True)
    assert "一行目を直した" in page and v1["replaced_by"] in page
    old = meister.get(f"/r/{rid}/transcript/versions/1").get_data(as_text=True)
    assert original[0]["text"] in old and "一度目の修正。" not in old
    assert people["apprentice"].get(f"/r/{rid}/transcript/history").status_code == 403
    r = meister.post(
        f"/r/{rid}/transcript/versions/1/restore", data={"csrf_token": token(meister), "base_version": "2"}
    )
    assert r.status_code == 303 and "saved=3" in r.headers["Location"]
    assert editor_json(meister, rid)["lines"][0]["text"] == original[0]["text"]


def test_a_save_without_the_csrf_token_is_refused(site, people):
    _, _, _, new_lesson = site
    rid = new_lesson()
    meister = people["meister"]
    lines = editor_json(meister, rid)["lines"]
    lines[0]["text"] = "偽の修正。"
    r = meister.post(f"/r/{rid}/transcript", json={"lines": lines, "base_version": 1})
    assert r.status_code == 403
    assert editor_json(meister, rid)["lines"][0]["text"] != "偽の修正。"


def test_a_written_document_gets_no_transcript_editor(site, people):
    """Markdown and other written documents are not transcripts: no editor link, no editor, no save."""
    from ingest.pipeline import Ingestor

    app, config, conn, _ = site
    paragraphs = [f"第{i}節。" + "ベアリングは内輪だけを押して圧入する。" * 6 for i in range(4)]
    rid = (
        Ingestor(config, conn)
        .ingest_text("圧入の手順", "\n\n".join(paragraphs), RecordingMeta(meister=MEISTER))
        .recording_id
    )
    for who in ("meister", "coordinator"):
        client = people[who]
        assert client.get(f"/r/{rid}/transcript/edit").status_code == 404
        r = client.get(f"/r/{rid}/transcript/edit", headers={"Accept": "application/json"})
        assert r.status_code == 404 and "スタジオ" in r.get_json()["error"]
        page = client.get(f"/r/{rid}").get_data(as_text=True)
        assert 'data-testid="edit-transcript"' not in page and "圧入" in page
        r = save_json(client, rid, [{"text": "偽の修正。", "page": 1}], 1)
        assert r.status_code == 404
    lesson = site[3]()  # a subtitle file: a transcript, with its editor
    rows = {
        row["id"]: row
        for row in people["meister"].get("/studio", headers={"Accept": "application/json"}).get_json()["recordings"]
    }
    assert rows[rid]["transcript_url"] is None
    assert rows[lesson]["transcript_url"] == f"/r/{lesson}/transcript/edit"
    assert 'data-testid="edit-transcript"' in people["meister"].get(f"/r/{lesson}").get_data(as_text=True)
    assert "圧入" in conn.execute("SELECT text FROM segments WHERE recording_id = ?", (rid,)).fetchone()[0]


def test_times_are_shown_as_minutes_and_seconds_and_typed_back(site, people):
    """The editor shows 00:06, never 6.0; a form post keeps a line's exact time unless its shown time was
    retyped (01:05, full-width digits too); a time that is not one is refused with the reason."""
    _, _, conn, new_lesson = site
    rid = new_lesson()
    meister = people["meister"]
    page = meister.get(f"/r/{rid}/transcript/edit").get_data(as_text=True)
    shown = re.findall(r'name="(?:start|end)_at"[^>]*value="([^"]*)"', page)
    assert "00:06" in shown and all(re.fullmatch(r"\d\d:\d\d", v) for v in shown) and len(shown) == 24
    conn.execute("UPDATE segments SET start = 6.37 WHERE recording_id = ? AND idx = 1", (rid,))
    conn.commit()
    data = editor_json(meister, rid)
    form = {
        "csrf_token": token(meister),
        "base_version": "1",
        "note": "",
        "idx": [],
        "start": [],
        "end": [],
        "start_at": [],
        "end_at": [],
        "speaker": [],
        "text": [],
    }
    for line in data["lines"]:
        for key in ("idx", "start", "end"):
            form[key].append(str(line[key]))
        form["start_at"].append(f"{int(line['start']) // 60:02d}:{int(line['start']) % 60:02d}")
        form["end_at"].append(f"{int(line['end']) // 60:02d}:{int(line['end']) % 60:02d}")
        form["speaker"].append("")
        form["text"].append(line["text"])
    form["start_at"][3] = "００：１９"  # retyped (full-width): 19 s instead of 18 s
    r = meister.post(f"/r/{rid}/transcript", data=form)
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    starts = [row[0] for row in conn.execute("SELECT start FROM segments WHERE recording_id = ? ORDER BY idx", (rid,))]
    assert starts[1] == 6.37 and starts[3] == 19.0 and starts[2] == 12.0  # untouched lines keep their exact time
    form["base_version"] = "2"
    form["start"][1] = "6.37"
    form["end_at"][4] = "1:75"
    r = meister.post(f"/r/{rid}/transcript", data=form)
    assert r.status_code == 400
    assert "01:05" in r.get_data(as_text=True) and 'value="1:75"' in r.get_data(as_text=True)  # reason; typed kept


# ---------------------------------------------------------------- the glossary page


def test_glossary_is_read_by_everyone_and_changed_by_meisters(site, people):
    meister, apprentice, outsider = people["meister"], people["apprentice"], people["outsider"]
    r = meister.post(
        "/glossary",
        data={
            "csrf_token": token(meister),
            "term": "心押し台",
            "reading": "しんおしだい",
            "synonyms": "テールストック、tailstock",
        },
    )
    assert r.status_code == 303 and "saved=" in r.headers["Location"]
    listed = apprentice.get("/glossary", headers={"Accept": "application/json"}).get_json()
    term = next(t for t in listed["terms"] if t["term"] == "心押し台")
    assert term["synonyms"] == ["テールストック", "tailstock"] and not listed["can_edit"]
    assert "心押し台" in apprentice.get("/glossary").get_data(as_text=True)
    assert apprentice.post("/glossary", data={"csrf_token": token(apprentice), "term": "x"}).status_code == 403
    assert outsider.get("/glossary", headers={"Accept": "application/json"}).get_json()["terms"] == []
    assert outsider.post(f"/glossary/{term['id']}/delete", data={"csrf_token": token(outsider)}).status_code == 404
    # coordinators look at any organisation
    other = people["coordinator"].get("/glossary?org=2", headers={"Accept": "application/json"}).get_json()
    assert other["organisation"]["name"] == "第二工場" and other["terms"] == []
    # a bad term: 400, the message, and what was typed stays in the form
    r = meister.post(
        "/glossary",
        data={"csrf_token": token(meister), "term": "", "reading": "よみ"},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 400 and "Please fill in the term." in r.get_data(as_text=True)
    assert 'value="よみ"' in r.get_data(as_text=True)
    r = meister.post(
        f"/glossary/{term['id']}",
        data={
            "csrf_token": token(meister),
            "term": "心押し台",
            "reading": "しんおしだい",
            "synonyms": "テールストック",
        },
    )
    assert r.status_code == 303
    r = meister.post(f"/glossary/{term['id']}/delete", data={"csrf_token": token(meister)})
    assert r.status_code == 303 and "removed=" in r.headers["Location"]
    assert all(
        t["term"] != "心押し台"
        for t in meister.get("/glossary", headers={"Accept": "application/json"}).get_json()["terms"]
    )


def test_a_glossary_synonym_finds_the_term_in_search(site, people):
    _, _, _, new_lesson = site
    rid = new_lesson(["長い材料は心押し台で支えてから削る。", "センター穴を先にあける。"], title="長尺物の支え方")
    reader, meister = people["apprentice"], people["meister"]
    assert reader.get("/api/v1/search?q=テールストック&mode=lexical").get_json()["hits"] == []
    meister.post("/glossary", data={"csrf_token": token(meister), "term": "心押し台", "synonyms": "テールストック"})
    hits = reader.get("/api/v1/search?q=テールストック").get_json()["hits"]
    assert hits and hits[0]["recording_id"] == rid and "<mark>心押し台</mark>" in hits[0]["marked"]
