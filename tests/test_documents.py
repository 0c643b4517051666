"""ingest.documents and ingest.textdecode on documents generated here: PDF (reportlab), DOCX, text, HTML."""

from __future__ import annotations

import pytest

from ingest.documents import DocumentError, Page, extract_document
from ingest.textdecode import TextDecodeError, decode_text
from ingest.textnorm import clean_text, join_wrapped_lines, nfkc

LONG_JA = (
    "旋盤でびびりが出たときは、まず回転数を下げ、バイトの突き出しを短くします。"
    "それでも収まらない場合は、刃先の角度と送り量を見直してください。"
)


# -- PDF ------------------------------------------------------------------------------------------------


def _pdf(path, pages, title=None, font="HeiseiMin-W3"):
    """A PDF with one list of lines per page, drawn in a built-in Japanese CID font."""
    pytest.importorskip("reportlab")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont(font))
    c = canvas.Canvas(str(path))
    if title:
        c.setTitle(title)
    for lines in pages:
        c.setFont(font, 11)
        for i, line in enumerate(lines):
            c.drawString(50, 800 - 16 * i, line)
        c.showPage()
    c.save()
    return path


JA_PAGES = [
    [
        "旋盤のびびり対策",
        "",
        "びびりが出たときは、まず回転数を下げ、バイトの突き出しを短",  # wrapped mid-word: びびり / 短くします
        "くします。それでも収まらない場合は、刃先の角度と送り量を見直",
        "してください。ｶﾀｶﾅの型番ＡＢＣ１２３も読めること。",
        "①主軸を止める。②チャックを外す。",
        "- 1 -",
    ],
    ["溶接の注意点", "溶接の前に母材の油と錆を落とします。"],
]


@pytest.mark.parametrize("font", ["HeiseiMin-W3", "HeiseiKakuGo-W5"])
def test_japanese_pdf_pages_and_text(tmp_path, font):
    pdf = _pdf(tmp_path / "manual.pdf", JA_PAGES, title="旋盤作業の手引き", font=font)
    doc = extract_document(pdf, "pdf")
    assert doc.title == "旋盤作業の手引き"
    assert [p.number for p in doc.pages] == [1, 2]
    first, second = doc.pages[0].text, doc.pages[1].text
    # lines broken inside a Japanese sentence are joined without a space
    assert "バイトの突き出しを短くします。" in first
    assert "見直してください。" in first
    # half-width katakana and full-width letters are normalised (NFKC); ① is kept
    assert "カタカナの型番ABC123" in first
    assert "①主軸を止める。" in first
    assert "- 1 -" not in first  # a page-number line
    assert "旋盤のびびり対策" in first
    assert "溶接の前に母材の油と錆を落とします。" in second
    assert "溶接" not in first


def test_latin_pdf_lines_joined_with_spaces_and_dehyphenated(tmp_path):
    lines = [
        "The chatter of a lathe tool is reduced by lowering the spindle",
        "speed and shortening the tool overhang. If it persists, check the",
        "insert geometry and the feed rate of the carriage for this manu-",
        "facturing step.",
        "Short heading",
    ]
    doc = extract_document(_pdf(tmp_path / "en.pdf", [lines]), "pdf")
    text = doc.pages[0].text
    assert "lowering the spindle speed and" in text
    assert "this manufacturing step." in text
    assert doc.title is None


def test_pdf_protected_with_a_user_password_is_refused(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = _pdf(tmp_path / "plain.pdf", JA_PAGES)
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt("secret", owner_password="owner")
    writer.write(tmp_path / "locked.pdf")
    with pytest.raises(DocumentError) as err:
        extract_document(tmp_path / "locked.pdf", "pdf")
    assert "encrypted PDF" in str(err.value) and "locked.pdf" in str(err.value)
    assert "\n" not in str(err.value)


def test_pdf_with_only_an_owner_password_opens(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = _pdf(tmp_path / "plain.pdf", JA_PAGES)
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt("", owner_password="owner")  # "no printing" style protection
    writer.write(tmp_path / "restricted.pdf")
    doc = extract_document(tmp_path / "restricted.pdf", "pdf")
    assert "溶接の前に" in doc.pages[1].text


def test_aes_pdf_without_cryptography_says_so(tmp_path, monkeypatch):
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import DependencyError

    plain = _pdf(tmp_path / "plain.pdf", JA_PAGES)
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt("", owner_password="owner")
    writer.write(tmp_path / "aes.pdf")

    def no_aes(self, password):
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfReader, "decrypt", no_aes)  # what pypdf does for AES without the package
    with pytest.raises(DocumentError, match="encrypted PDF: .*cryptography"):
        extract_document(tmp_path / "aes.pdf", "pdf")


def test_blank_pdf_has_no_text_layer(tmp_path):
    pdf = _pdf(tmp_path / "scan.pdf", [[], []])
    with pytest.raises(DocumentError, match=r"no text layer \(empty or scanned PDF\)"):
        extract_document(pdf, "pdf")


def test_partly_scanned_pdf_keeps_the_text_pages(tmp_path):
    pdf = _pdf(tmp_path / "mixed.pdf", [JA_PAGES[0], [], JA_PAGES[1]])
    doc = extract_document(pdf, "pdf")
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert doc.pages[1].text == ""
    assert "溶接" in doc.pages[2].text
    assert any("2" in w and "no text layer" in w for w in doc.warnings)


@pytest.mark.parametrize("content", [b"%PDF-1.4\n1 0 obj garbage", b"%PDF-1.7\n" + bytes(300), b"not a pdf"])
def test_damaged_pdf(tmp_path, content):
    p = tmp_path / "broken.pdf"
    p.write_bytes(content)
    with pytest.raises(DocumentError) as err:
        extract_document(p, "pdf")
    assert str(err.value).startswith(str(p) + ": ")


def test_word_processor_placeholder_titles_are_cleaned(tmp_path):
    doc = extract_document(_pdf(tmp_path / "a.pdf", JA_PAGES, title="Microsoft Word - 作業手順書.docx"), "pdf")
    assert doc.title == "作業手順書"
    doc = extract_document(_pdf(tmp_path / "b.pdf", JA_PAGES, title="無題"), "pdf")
    assert doc.title is None


# -- DOCX -----------------------------------------------------------------------------------------------


def _docx(path, title=""):
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.add_heading("旋盤作業の手引き", level=1)
    d.add_paragraph("回転数を下げ、バイトの突き出しを短くするとびびりが収まります。")
    table = d.add_table(rows=2, cols=3)
    for col, text in enumerate(["材質", "回転数", "送り"]):
        table.cell(0, col).text = text
    for col, text in enumerate(["S45C", "800 min-1", "0.1 mm/rev"]):
        table.cell(1, col).text = text
    d.add_heading("溶接", level=2)
    d.add_paragraph("表の後の段落です。")
    d.save(path)
    return path


def test_docx_paragraphs_headings_and_tables_in_order(tmp_path):
    doc = extract_document(_docx(tmp_path / "guide.docx"), "docx")
    assert doc.title == "旋盤作業の手引き"  # no core title: the first heading
    assert [p.number for p in doc.pages] == [None]
    text = doc.pages[0].text
    order = [
        "旋盤作業の手引き",
        "びびりが収まります。",
        "材質 | 回転数 | 送り",
        "S45C | 800 min-1 | 0.1 mm/rev",
        "溶接",
        "表の後の段落です。",
    ]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions)


def test_docx_core_title_wins(tmp_path):
    doc = extract_document(_docx(tmp_path / "guide.docx", title="社内標準 No.12"), "docx")
    assert doc.title == "社内標準 No.12"


def test_damaged_docx(tmp_path):
    import zipfile

    p = tmp_path / "broken.docx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("word/document.xml", "<not xml")
    with pytest.raises(DocumentError, match="Word document"):
        extract_document(p, "docx")


# -- plain text and its encodings -----------------------------------------------------------------------

SHORT_JA = ["旋盤のびびり対策", "溶接", "鋳物", "ネジ", "第１章　安全作業", "NC旋盤 S45C φ30", "ﾌﾗｲｽ盤の使い方"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "euc_jp", "utf-16", "iso2022_jp"])
@pytest.mark.parametrize("text", SHORT_JA + [LONG_JA])
def test_decode_text_japanese(encoding, text):
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        pytest.skip(f"{encoding} cannot encode {text}")
    decoded, used = decode_text(data)
    assert decoded == text
    if encoding in ("cp932", "euc_jp"):
        assert used == encoding


def test_decode_text_other_encodings_fall_back_to_charset_normalizer():
    text = "Größe für Übergröße: die Maße der Drehbank prüfen."
    assert decode_text(text.encode("cp1252"))[0] == text


def test_decode_text_refuses_binary():
    with pytest.raises(TextDecodeError):
        decode_text(b"\x00\x01\x02binary")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "euc_jp"])
def test_plain_text_documents(tmp_path, encoding):
    p = tmp_path / "memo.txt"
    body = "旋盤のびびり対策\n\n" + LONG_JA + "\n"
    p.write_bytes(body.encode(encoding))
    doc = extract_document(p, "txt")
    assert doc.pages == [Page(None, "旋盤のびびり対策\n\n" + LONG_JA)]
    assert doc.encoding == encoding
    assert doc.title is None


def test_empty_and_whitespace_text_is_an_error(tmp_path):
    p = tmp_path / "blank.txt"
    p.write_text(" \n\u3000\n\t", encoding="utf-8")
    with pytest.raises(DocumentError, match="no text"):
        extract_document(p, "txt")


def test_binary_named_txt_is_an_error(tmp_path):
    p = tmp_path / "data.txt"
    p.write_bytes(b"\x00\x01\x02\x03" * 50)
    with pytest.raises(DocumentError, match="not readable as text"):
        extract_document(p, "txt")


def test_unsupported_format(tmp_path):
    p = tmp_path / "a.xyz"
    p.write_text("x")
    with pytest.raises(DocumentError, match="not a supported document format"):
        extract_document(p, "xlsx")


def test_format_detected_when_not_given(tmp_path):
    p = tmp_path / "notes.md"
    p.write_text("# 見出し\n\n本文です。", encoding="utf-8")
    doc = extract_document(p)
    assert doc.format == "md" and doc.title == "見出し"


# -- Markdown -------------------------------------------------------------------------------------------

MARKDOWN = """---
layout: note
---
# 旋盤の**びびり**対策

回転数を下げ、
バイトの突き出しを[短く](http://example.invalid/a)すると
びびりが収まります。The *chatter* goes
away with `snake_case_name` intact.

- 材質：`S45C`
- 図 ![チャック](chuck.png)

| 材質 | 回転数 |
|------|-------:|
| S45C | 800 |

```
G01 X10.0 Z-5.0 F0.1
```

<!-- 内部メモ -->
> 引用された注意
"""


def test_markdown_markup_is_stripped(tmp_path):
    p = tmp_path / "note.md"
    p.write_text(MARKDOWN, encoding="utf-8")
    doc = extract_document(p, "md")
    text = doc.pages[0].text
    assert doc.title == "旋盤のびびり対策"
    assert "バイトの突き出しを短くするとびびりが収まります。" in text
    assert "The chatter goes away with snake_case_name intact." in text
    assert "材質:S45C" in text  # NFKC turned the full-width colon into ":"
    assert "図 チャック" in text
    assert "材質 | 回転数\nS45C | 800" in text
    assert "G01 X10.0 Z-5.0 F0.1" in text
    assert "引用された注意" in text
    for noise in ("**", "](", "```", "---", "layout", "内部メモ", "|---", "#"):
        assert noise not in text


# -- HTML -----------------------------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html lang="ja"><head><meta charset="{charset}"><title>溶接の注意点</title>
<style>p {{ color: red }}</style><script>var secret = "SCRIPT_TEXT";</script></head>
<body><nav><a href="/">ホームへ戻る</a></nav>
<main><h1>溶接</h1>
<p>溶接の前に
母材の油と錆を落とします。<br>Clean the <b>base</b> metal first.</p>
<div style="display: none">隠れた文章</div>
<table><tr><th>項目</th><th>値</th></tr><tr><td>電流</td><td>120 A</td></tr></table>
<pre>G01 X10
G00 Z5</pre>
<script>document.write("MORE_SCRIPT")</script></main>
<footer>Copyright</footer></body></html>"""


@pytest.mark.parametrize("charset", ["utf-8", "shift_jis", "euc-jp"])
def test_html_text_without_scripts(tmp_path, charset):
    p = tmp_path / "page.html"
    codec = {"shift_jis": "cp932", "euc-jp": "euc_jp"}.get(charset, charset)
    p.write_bytes(HTML.format(charset=charset).encode(codec))
    doc = extract_document(p, "html")
    text = doc.pages[0].text
    assert doc.title == "溶接の注意点"
    assert "溶接の前に母材の油と錆を落とします。\nClean the base metal first." in text
    assert "項目 | 値\n電流 | 120 A" in text
    assert "G01 X10\nG00 Z5" in text
    for noise in ("SCRIPT_TEXT", "MORE_SCRIPT", "color", "ホームへ戻る", "Copyright", "隠れた文章"):
        assert noise not in text


def test_html_without_charset_or_title(tmp_path):
    p = tmp_path / "page.html"
    p.write_bytes("<html><body><h1>旋盤</h1><p>びびり対策の説明です。</p></body></html>".encode("cp932"))
    doc = extract_document(p, "html")
    assert doc.title == "旋盤"
    assert doc.pages[0].text == "旋盤\n\nびびり対策の説明です。"


# -- normalisation ---------------------------------------------------------------------------------------


def test_nfkc_keeps_numbers_that_mean_something():
    assert nfkc("①20mm　１０²　3½　ｶﾞｲﾄﾞ　⼯具　ＮＣ") == "①20mm 10² 3½ ガイド 工具 NC"


def test_clean_text_keeps_paragraphs_and_lines():
    assert clean_text("  a  b \r\n\r\n\r\n\r\nc\u200b\x07d\n e ") == "a b\n\ncd\ne"


def test_short_list_lines_are_not_glued(tmp_path):
    p = tmp_path / "parts.txt"
    p.write_text("部品A 10個\n部品B 5個\n部品C 2個\nボルト M8 20本\n", encoding="cp932")
    assert extract_document(p, "txt").pages[0].text == "部品A 10個\n部品B 5個\n部品C 2個\nボルト M8 20本"


def test_page_numbers_dropped_only_at_the_page_edges():
    from ingest.textnorm import drop_page_number_lines

    assert drop_page_number_lines("12\n本文\n100\n200\n- 3 -") == "本文\n100\n200"


def test_join_wrapped_lines():
    text = "旋盤のびびりを抑えるには回転数を\n下げます。\n短い行\n・箇条書きの項目は別の行のままで\n・次の項目"
    joined = join_wrapped_lines(text)
    assert "回転数を下げます。" in joined
    assert "短い行\n・箇条書きの項目は別の行のままで\n・次の項目" in joined
