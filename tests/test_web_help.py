"""Help (ヘルプ): reachable from the menu, per role, in Japanese and English; the recording guide
from the studio's upload page and on one printed A4 page; the quick guides as A4 PDFs.

The web tests here share the demo knowledge base (one build per process, see tests/conftest.py).
"""

from __future__ import annotations

import io
import re

import pytest

from web import guides_content, guides_pdf

TOPICS = ("search", "watch", "upload", "recording", "coaching", "curricula", "figures")


def pdf_text(data: bytes) -> tuple[int, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "".join(page.extract_text() for page in reader.pages)


def english(client):
    client.set_cookie("lang", "en")
    return client


def japanese(client):
    """The demo clients are shared between tests: say the language rather than inherit one."""
    client.set_cookie("lang", "ja")
    return client


# ---------------------------------------------------------------- the pages


def test_help_is_in_the_menu_of_every_role_and_lists_its_topics_first(client_for):
    expected = {
        "apprentice": {"search", "watch"},
        "meister": {"search", "watch", "upload", "recording", "coaching"},
        "coordinator": set(TOPICS),
        "admin": set(TOPICS),
    }
    for role, mine in expected.items():
        client = japanese(client_for(role))
        home = client.get("/").get_data(as_text=True)
        nav = re.search(r'<nav class="main-nav".*?</nav>', home, re.S).group(0)
        assert re.search(r'<a href="/help"[^>]*>ヘルプ</a>', nav), role
        page = client.get("/help").get_data(as_text=True)
        listed = re.search(r'id="help-mine">(.*?)</ul>', page, re.S).group(1)
        assert set(re.findall(r'href="/help/(\w+)"', listed)) == mine, role
        printable = re.search(r'id="help-print">(.*?)</ul>', page, re.S).group(1)
        assert ("quick-guide-coordinator.pdf" in printable) == (role in ("coordinator", "admin"))
        assert "quick-guide-apprentice.pdf" in printable
        assert ("recording-guide.pdf" in printable) == (role != "apprentice")


def test_every_topic_reads_in_japanese_by_default_and_in_english_on_request(client_for):
    client = japanese(client_for("coordinator"))
    japanese_pages = {t: client.get(f"/help/{t}").get_data(as_text=True) for t in TOPICS}
    english(client)
    english_pages = {t: client.get(f"/help/{t}").get_data(as_text=True) for t in TOPICS}
    for t in TOPICS:
        ja_text = re.sub(
            r"<[^>]+>", "", re.search(r'<article class="help-text".*?</article>', japanese_pages[t], re.S).group(0)
        )
        en_text = re.sub(
            r"<[^>]+>", "", re.search(r'<article class="help-text".*?</article>', english_pages[t], re.S).group(0)
        )
        kana = len(re.findall(r"[\u3040-\u30ff]", ja_text))
        assert kana > 200, (t, kana)  # written in Japanese, not a page of English with a Japanese title
        assert len(re.findall(r"[\u3040-\u30ff]", en_text)) < kana / 4, t
        assert len(re.findall(r"[A-Za-z]+", en_text)) > 100, t
    assert (
        "ぴったりの記録は見つかりませんでした" in japanese_pages["search"]
        and "誰に教われる?" in japanese_pages["search"]
    )
    assert "QRカードを印刷" in japanese_pages["watch"] and "この場面を共有" in japanese_pages["watch"]
    assert "文字起こしを保存" in japanese_pages["upload"] and "分割" in japanese_pages["upload"]
    assert "場面を提案" in japanese_pages["curricula"] and "割り当てる" in japanese_pages["curricula"]
    assert "指導実績を保存" in japanese_pages["coaching"] and "この指導実績を確認する" in japanese_pages["coaching"]
    assert "No good match" in english_pages["search"] and "Print QR card" in english_pages["watch"]


def test_the_figures_help_defines_every_figure_of_the_dashboard(client_for):
    """Every figure on 事業指標 is named (in the dashboard's own words) and defined on the help page."""
    from kb import programme
    from web.programme_labels import FIGURE_LABELS

    client = japanese(client_for("coordinator"))
    dashboard = client.get("/programme").get_data(as_text=True)
    page = client.get("/help/figures").get_data(as_text=True)
    english(client)
    page_en = client.get("/help/figures").get_data(as_text=True)
    assert set(FIGURE_LABELS) == set(programme.FIGURES)
    for name in programme.FIGURES:
        from flask_babel import force_locale

        with client.application.test_request_context():
            with force_locale("ja"):
                label_ja = str(FIGURE_LABELS[name])
            with force_locale("en"):
                label_en = str(FIGURE_LABELS[name])
        assert label_ja != label_en
        assert label_ja in dashboard, label_ja
        assert f"<dt>{label_ja}" in page, label_ja
        assert f"<dt>{label_en}" in page_en, label_en
    for fact in ("4月1日", "3月31日", "確認済み", "必須の項目がすべて認定された", "日本時間"):
        assert fact in page, fact


def test_the_studio_upload_page_leads_to_the_recording_guide(client_for):
    client = japanese(client_for("meister"))
    studio = client.get("/studio").get_data(as_text=True)
    upload = re.search(r'<section class="studio-upload".*?</section>', studio, re.S).group(0)
    assert 'href="/help/recording"' in upload and 'href="/help/recording-guide.pdf"' in upload
    page = client.get("/help/recording").get_data(as_text=True)
    for heading, points in guides_content.RECORDING_GUIDE["ja"]["sections"]:
        assert heading in page and all(p.replace('"', "&#34;") in page for p in points)
    assert 'href="/studio"' in page


def test_the_recording_guide_prints_on_one_a4_page_with_the_upload_address(client_for):
    client = japanese(client_for("meister"))
    r = client.get("/help/recording-guide.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pages, text = pdf_text(r.get_data())
    assert pages == 1
    assert "撮影・録音のコツ" in text and "http://localhost/studio" in text
    for heading, _ in guides_content.RECORDING_GUIDE["ja"]["sections"]:
        assert heading in text


def test_the_qr_codes_follow_the_public_address(own, as_role):
    app, _ = own
    app.config["PUBLIC_URL"] = "http://192.168.1.10:5000"
    try:
        client, _ = as_role("meister")
        _, text = pdf_text(client.get("/help/recording-guide.pdf").get_data())
    finally:
        app.config["PUBLIC_URL"] = None
    assert "http://192.168.1.10:5000/studio" in text


def test_the_quick_guides_are_a4_pdfs_in_japanese_with_their_five_pictures(client_for):
    from pypdf import PdfReader

    client = client_for("coordinator")
    for who, guide in guides_content.QUICK_GUIDES.items():
        r = client.get(f"/help/quick-guide-{who}.pdf")
        assert r.status_code == 200 and r.mimetype == "application/pdf", who
        reader = PdfReader(io.BytesIO(r.get_data()))
        assert 1 <= len(reader.pages) <= 2
        box = reader.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
        text = "".join(p.extract_text() for p in reader.pages)
        assert guide["title"] in text.replace("\n", "")
        for heading, _, _ in guide["steps"]:
            assert heading in text, heading
        assert sum(len(p.images) for p in reader.pages) == 5
    assert client.get("/help/quick-guide-nobody.pdf").status_code == 404


# ---------------------------------------------------------------- the PDF builder


def test_both_languages_of_the_recording_guide_fit_one_page():
    for lang in ("ja", "en"):
        pages, text = pdf_text(guides_pdf.recording_guide_pdf("http://192.168.1.10:5000/studio", lang))
        assert pages == 1, lang
        assert guides_content.RECORDING_GUIDE[lang]["sections"][0][0] in text


def test_a_recording_guide_too_long_for_one_page_is_refused(monkeypatch):
    guide = guides_content.RECORDING_GUIDE["ja"]
    longer = dict(guide, sections=guide["sections"] * 4)
    monkeypatch.setitem(guides_content.RECORDING_GUIDE, "ja", longer)
    with pytest.raises(guides_pdf.DoesNotFit):
        guides_pdf.recording_guide_pdf("http://localhost/studio", "ja")


def test_a_quick_guide_with_a_missing_screenshot_is_not_printed(tmp_path):
    with pytest.raises(FileNotFoundError, match="make guides"):
        guides_pdf.quick_guide_pdf("apprentice", tmp_path)


def test_long_english_lines_break_between_words():
    guides_pdf._font()
    lines = guides_pdf.wrap("Fix the phone on a tripod or a stand where it sees your hands", 12, 150)
    assert len(lines) > 1 and all(not line.startswith(" ") for line in lines)
    assert " ".join(lines).split() == "Fix the phone on a tripod or a stand where it sees your hands".split()
