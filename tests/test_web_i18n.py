"""Japanese by default, English on request, and no untranslated UI text on a Japanese page.

Three checks together prove "every piece of UI text is translated": the
templates hold no hard-coded English (all of it goes through gettext), every
message has a Japanese translation compiled into the .mo, and walking every
page in Japanese shows none of the English source strings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.i18n import VisibleText, english_patterns, visible_text

WEB = Path(__file__).resolve().parents[1] / "web"


@pytest.fixture
def admin_client(client_for):
    return client_for("admin")


# ---------------------------------------------------------------- catalogue and templates


def test_every_message_is_translated_and_compiled():
    from web.catalog import check

    assert check() == []


def test_catalogue_check_reads_meaning_not_generator_bytes(tmp_path, monkeypatch):
    """A .mo written by another Babel release (another Generated-By header) is current; a .mo
    missing a translation or carrying an old one is not."""
    import shutil

    from babel.messages.mofile import write_mo

    import web.catalog as catalog_mod

    copy = tmp_path / "translations"
    shutil.copytree(catalog_mod.TRANSLATIONS, copy)
    monkeypatch.setattr(catalog_mod, "TRANSLATIONS", copy)
    po = catalog_mod.read("ja")
    mo = catalog_mod.po_path("ja").with_suffix(".mo")

    other = catalog_mod.read("ja")
    other.version = "9.9"
    with mo.open("wb") as f:
        write_mo(f, other)
    import babel

    raw = mo.read_bytes()
    ours = f"Generated-By: Babel {babel.__version__}".encode()
    assert ours in raw
    # Another release's header, of the same length so the .mo's offsets stay valid.
    mo.write_bytes(raw.replace(ours, b"Generated-By: Babel " + b"9" * len(babel.__version__)))
    assert catalog_mod.mo_problem("ja", po) is None

    stale = catalog_mod.read("ja")
    first = next(m for m in stale if m.id and isinstance(m.string, str) and m.string)
    stale[first.id].string = first.string + "（古い訳）"
    with mo.open("wb") as f:
        write_mo(f, stale)
    assert "out of date" in catalog_mod.mo_problem("ja", po)

    mo.unlink()
    assert "missing" in catalog_mod.mo_problem("ja", po)


def strip_jinja(source: str) -> str:
    source = re.sub(r"\{% block body_class %\}.*?\{% endblock %\}", " ", source)  # a class attribute's value
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}", " ", source, flags=re.S)
    return re.sub(r"\{\{.*?\}\}", " ", source, flags=re.S)


# help/<lang>/*.html hold the help's prose, written in their own language (web/views/help.py picks the
# reader's); tests/test_web_help.py checks them.  Everything around them goes through gettext.
PER_LANGUAGE = ("help/ja/", "help/en/")


@pytest.mark.parametrize(
    "template",
    sorted(
        p.relative_to(WEB / "templates").as_posix()
        for p in (WEB / "templates").rglob("*.html")
        if not p.relative_to(WEB / "templates").as_posix().startswith(PER_LANGUAGE)
    ),
)
def test_templates_hold_no_hard_coded_english(template):
    source = strip_jinja((WEB / "templates" / template).read_text(encoding="utf-8"))
    parser = VisibleText(page_lang="ja")
    parser.feed(source)
    english = [t for t in parser.texts if re.search(r"[A-Za-z]{2,}", t)]
    assert english == [], f"{template}: UI text outside gettext: {english}"


# ---------------------------------------------------------------- choosing the language


def test_japanese_is_the_default(client):
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="ja">' in page and "検索" in page and "Skip to content" not in page


def test_accept_language_is_honoured(client):
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="ja">' in client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    assert '<html lang="ja">' in client.get("/", headers={"Accept-Language": "ja,en;q=0.5"}).get_data(as_text=True)


def test_switch_sets_a_cookie_that_beats_the_browser(client):
    r = client.get("/lang/en?next=/recordings")
    assert r.status_code == 303 and r.headers["Location"] == "/recordings"
    assert "lang=en" in r.headers["Set-Cookie"] and "SameSite=Lax" in r.headers["Set-Cookie"]
    page = client.get("/recordings", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "All recordings" in page
    client.get("/lang/ja?next=/")
    assert '<html lang="ja">' in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_switch_links_come_back_to_the_same_page(client):
    page = client.get("/search?q=溶接").get_data(as_text=True)
    link = re.search(r'href="(/lang/en\?next=[^"]+)"', page).group(1)
    assert client.get(link).headers["Location"] == "/search?q=%E6%BA%B6%E6%8E%A5"


def test_unknown_language_sets_nothing(client):
    r = client.get("/lang/xx?next=/")
    assert r.status_code == 303 and "Set-Cookie" not in r.headers


# ---------------------------------------------------------------- walking the pages


def pages(client) -> list[str]:
    listed = client.get("/api/v1/recordings").get_json()
    recs = [r for g in listed["techniques"] for r in g["recordings"]]
    by_kind = {r["kind"]: r["id"] for r in recs}
    urls = [
        "/",
        "/account",
        "/recordings",
        "/recordings?technique=旋盤&kind=document",
        "/recordings?technique=なし",
        "/search",
        "/search?q=旋盤のびびりを抑えるには",
        "/search?q=溶接&technique=存在しない分野",
        "/search?q=fellow Americans&kind=audio",
        "/no/such/page",
        "/r/999999",
        "/help",
        "/help/search",
        "/help/watch",
        "/help/upload",
        "/help/recording",
        "/help/coaching",
        "/help/curricula",
        "/help/figures",
    ]
    for kind, rid in by_kind.items():
        urls += [f"/r/{rid}", f"/r/{rid}?t=5", f"/r/{rid}/print?t=5"]
    return urls


def test_japanese_pages_show_no_untranslated_ui_text(app, client):
    patterns = english_patterns(app)
    leaks = []
    for url in pages(client):
        r = client.get(url, headers={"Accept-Language": "ja"})
        assert r.status_code in (200, 404), url
        page = r.get_data(as_text=True)
        assert '<html lang="ja">' in page, url
        for text in visible_text(page):
            for source, pattern in patterns:
                if pattern.fullmatch(text) or (" " in source and pattern.search(text)):
                    leaks.append((url, source, text))
    assert leaks == []


def test_japanese_account_admin_and_login_pages_show_no_untranslated_ui_text(app, admin_client):
    patterns = english_patterns(app)
    leaks = []
    anonymous = app.test_client()
    for who, url in [
        (admin_client, "/account"),
        (admin_client, "/admin/users"),
        (admin_client, "/admin/organisations"),
        (anonymous, "/login"),
    ]:
        r = who.get(url, headers={"Accept-Language": "ja"})
        assert r.status_code == 200, url
        for text in visible_text(r.get_data(as_text=True)):
            for source, pattern in patterns:
                if pattern.fullmatch(text) or (" " in source and pattern.search(text)):
                    leaks.append((url, source, text))
    assert leaks == []


def test_english_pages_are_english(client):
    for url in ("/", "/search?q=溶接", "/recordings"):
        page = client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
        texts = visible_text(page)
        assert "Search" in texts and "検索" not in texts and "すべての記録" not in texts, url


def test_kind_and_language_labels_are_translated(client):
    rid = next(
        r["id"] for g in client.get("/api/v1/recordings?kind=audio").get_json()["techniques"] for r in g["recordings"]
    )
    ja = client.get(f"/r/{rid}", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    en = client.get(f"/r/{rid}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "音声" in ja and "英語" in ja
    assert ">Audio<" in en and ">English<" in en
