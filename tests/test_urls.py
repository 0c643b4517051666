"""One URL builder (kb.urls) and one hit shape (services.search): the addresses, that nothing else spells
them, and that `kb search --json`, /api/v1/search and the search page give the same hit.

The shape test runs the real `kb` command and the real Flask app over one real SQLite knowledge base;
the model-free hash embedder stands in for the models (this is about the fields, not about ranking)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from kb import urls

REPO = Path(__file__).resolve().parents[1]


def test_moment_urls():
    assert urls.moment(3, 135.7) == "/r/3?t=135"
    assert urls.moment(3, None, page=4) == "/r/3?page=4#page-4"
    assert urls.moment(3, None, page=4, chunk_id=17) == "/r/3?page=4&c=17#c-17"
    assert urls.moment(3) == "/r/3"


def test_with_query_carries_the_search_into_a_moment_link():
    assert urls.with_query("/r/8?t=24", "旋盤 びびり") == "/r/8?t=24&q=%E6%97%8B%E7%9B%A4+%E3%81%B3%E3%81%B3%E3%82%8A"
    assert urls.with_query("/r/3?c=5#c-5", "x") == "/r/3?c=5&q=x#c-5"
    assert urls.with_query("/r/3", "") == "/r/3"
    assert urls.moment(8, 24.52, end=60.2) == "/r/8?t=24&end=61"


def test_a_time_wins_over_page_and_passage():
    assert urls.moment(3, 24.9, page=2, chunk_id=17) == "/r/3?t=24"
    assert urls.moment_query(None, 2, 17) == "?page=2&c=17" and urls.moment_query() == ""
    assert urls.with_query("/r/3?t=1", "x" * 500).endswith("q=" + "x" * urls.MAX_QUERY_IN_LINK)
    assert urls.with_params("/r/3?c=5#c-5", item=9) == "/r/3?c=5&item=9#c-5"


def test_every_address():
    assert urls.recording(7) == "/r/7"
    assert urls.media(7) == "/r/7/media" and urls.subtitles(7) == "/r/7/subtitles.vtt"
    assert urls.qr(7, 24.5) == "/r/7/qr.svg?t=24" and urls.qr(7, None, None, 5) == "/r/7/qr.svg?c=5"
    assert urls.print_card(7, None, 2) == "/r/7/print?page=2" and urls.print_card(7) == "/r/7/print"
    assert urls.transcript_editor(7) == "/r/7/transcript/edit"
    assert urls.meister(4) == "/meisters/4" and urls.curriculum(2) == "/curricula/2"


def test_a_thumbnail_only_where_a_video_has_a_picture():
    video = {"id": 7, "kind": "video", "duration": 60.0, "stored_path": "originals/7/a.mp4"}
    assert urls.thumbnail(video, 24.7) == "/r/7/thumb/24.jpg"
    assert urls.thumbnail(video, 62.0) is None and urls.thumbnail(video, None) is None  # past the end: none
    assert urls.thumbnail(dict(video, stored_path=None), 1) is None
    assert urls.thumbnail(dict(video, kind="audio"), 1) is None


# The addresses are spelled in kb/urls.py, in the routes' declarations and nowhere else.
SPELLED = re.compile(r"""f?["']/(r|meisters|curricula)/""")
ROUTE = re.compile(r"""^\s*@(bp|app)\.(get|post|route|put|delete)\(""")


def test_no_address_is_written_by_hand_outside_the_url_builder():
    found = []
    for folder in ("kb", "media", "search", "ingest", "services", "cli", "web"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix not in (".py", ".html") or path == REPO / "kb" / "urls.py":
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SPELLED.search(line) and not ROUTE.match(line) and not line.lstrip().startswith("#"):
                    found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
                if path.suffix == ".html" and re.search(r"""(href|src|action)="/(r|meisters|curricula)/""", line):
                    found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not found, "build these with kb.urls:\n" + "\n".join(found)


# ---------------------------------------------------------------- one hit shape


@pytest.fixture(scope="module")
def kb_home(tmp_path_factory):
    """A knowledge base with a written passage (page 2) and a timed one, searchable, and an API token."""
    from ingest.chunking import chunks_for
    from kb import users
    from kb.home import init_home
    from kb.recordings import RecordingMeta, create, replace_segments, update
    from kb.settings import load_config
    from search.store import SearchStore

    home = tmp_path_factory.mktemp("urls") / "kb"
    config = load_config(home=home, embed_model="hash", second_embed_model="none", serve_worker="0")
    conn = init_home(config)
    token = users.create_token(
        conn, users.create_user(conn, "admin-urls", users.generate_password(), "admin"), "urls test"
    )[1]
    store = SearchStore(config, conn)
    for title, kind, fmt, segs in (
        (
            "旋盤の段取り",
            "document",
            "txt",
            [{"page": 1, "text": "はじめに。"}, {"page": 2, "text": "旋盤の心押し台で長い軸を支える。"}],
        ),
        ("旋盤の音声", "audio", "mp3", [{"start": 3.0, "end": 9.5, "text": "旋盤の心押し台を確認します。"}]),
    ):
        with conn:
            rid = create(
                conn,
                title=title,
                kind=kind,
                fmt=fmt,
                source_name=f"{title}.{fmt}",
                sha256=secrets.token_hex(32),
                size_bytes=100,
                meta=RecordingMeta(title=title),
            )
            replace_segments(conn, rid, segs)
        store.write_chunks(rid, chunks_for(config, segs))
        with conn:
            update(conn, rid, status="done")
    conn.close()
    return config, token


def test_kb_search_json_the_api_and_the_page_give_the_same_hits(kb_home):
    from web.app import create_app

    config, token = kb_home
    env = dict(
        os.environ,
        KB_HOME=str(config.home),
        KB_EMBED_MODEL="hash",
        KB_SECOND_EMBED_MODEL="none",
        PYTHONIOENCODING="utf-8",
    )
    kb = Path(sys.executable).with_name("kb")  # the installed command, as a user runs it
    out = subprocess.run(
        [str(kb), "search", "心押し台", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    from_cli = json.loads(out.stdout)

    client = create_app({"KB_CONFIG": config, "TESTING": True}).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    from_api = client.get("/api/v1/search", query_string={"q": "心押し台"}, headers=auth).get_json()
    from_page = client.get(
        "/search", query_string={"q": "心押し台"}, headers=dict(auth, Accept="application/json")
    ).get_json()
    assert from_page == from_api
    assert from_cli["hits"] == from_api["hits"] and len(from_cli["hits"]) == 2
    assert {k: from_cli[k] for k in ("query", "mode", "no_good_match")} == {
        k: from_api[k] for k in ("query", "mode", "no_good_match")
    }
    by_kind = {h["kind"]: h for h in from_cli["hits"]}
    doc, audio = by_kind["document"], by_kind["audio"]
    # one address per moment, from kb.urls: `link` (kb search --json's first field) is `url`
    assert doc["url"] == doc["link"] == f"/r/{doc['recording_id']}?page=2&c={doc['chunk_id']}#c-{doc['chunk_id']}"
    assert audio["url"] == audio["link"] == f"/r/{audio['recording_id']}?t=3" and audio["time"] == "00:03–00:09"
    assert doc["time"] == "" and doc["thumbnail"] is None and audio["tags"] == []


def test_teachers_evidence_has_the_hits_address_and_time():
    from search.teachers import Evidence, Teacher
    from services.search import teacher_json

    t = Teacher(
        id=4,
        name="田中 一郎",
        organisations=[],
        areas=[],
        score=1.5,
        evidence_score=1.5,
        matched_specialities=[],
        moments=1,
        recordings=1,
        evidence=[Evidence(9, "旋盤", "video", 3725.0, 3730.0, None, 12, 1.5, "旋盤", urls.moment(9, 3725.0))],
    )
    d = teacher_json(t)
    assert d["url"] == "/meisters/4"
    assert d["evidence"][0]["url"] == d["evidence"][0]["link"] == "/r/9?t=3725"
    assert d["evidence"][0]["time"] == "1:02:05–1:02:10"  # hours kept (the CLI's old clock dropped them)
