"""Text out of written documents: PDF, Word (.docx), Markdown, plain text and HTML.

Every format ends in the same shape, :class:`DocumentText`: pages of cleaned
text (PDF pages keep their 1-based number so a search result can say "p. 12";
other formats are one page with number ``None``) and a title when the file
has one.  Inside a page, a blank line separates paragraphs and a single line
break separates lines; the chunker cuts on both.

All text goes through :func:`ingest.textnorm.clean_text` (NFKC with the
exceptions explained there), so that what is indexed, shown and searched is
in one form whatever program wrote the file.

Anything that cannot be read -- encrypted or damaged files, scanned PDFs with
no text layer, files with no text at all -- raises :class:`DocumentError`,
whose message is one line naming the file and the reason.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ingest.textdecode import TextDecodeError, decode_text
from ingest.textnorm import (
    clean_text,
    drop_page_number_lines,
    has_meaningful_text,
    join_wrapped_lines,
    remove_spaces_between_cjk,
)


@dataclass
class Page:
    number: int | None  # 1-based page number for PDFs, None for formats without pages
    text: str


@dataclass
class DocumentText:
    pages: list[Page]
    title: str | None = None
    format: str = ""
    encoding: str | None = None  # the detected encoding, for text formats
    warnings: list[str] = field(default_factory=list)  # e.g. PDF pages without a text layer

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.pages if p.text)


class DocumentError(Exception):
    """A document could not be read; ``str(err)`` is one line: ``<file>: <reason>``.

    ``code`` and ``params`` (optional) name the problem for the web pages, which say it in the
    reader's language (web.problems); the English reason is for the command line and the log."""

    def __init__(self, path: str | os.PathLike, reason: str, *, code: str | None = None, **params):
        self.path = os.fspath(path)
        self.reason = " ".join(str(reason).split())
        self.code, self.params = code, params
        super().__init__(f"{self.path}: {self.reason}")


@dataclass(frozen=True)
class DocumentLimits:
    """How much a document may expand into (issue 16, defect 3: a 180 KB .docx held 12 MB of text).

    ``expanded_bytes``: the XML inside a .docx (what is parsed for text), checked before it is read;
    ``text_chars`` / ``page_chars``: the text taken from the whole document / from one PDF page."""

    text_chars: int = 2_000_000
    page_chars: int = 200_000
    expanded_bytes: int = 32 * 1024**2

    @classmethod
    def from_config(cls, config) -> "DocumentLimits":
        return cls(
            text_chars=config.get("max_document_text_chars"),
            page_chars=config.get("max_page_text_chars"),
            expanded_bytes=config.get("max_document_expanded_bytes"),
        )


# A part inside a .docx that expands more than this many times (and to more than BOMB_MIN_BYTES) is a
# zip bomb, not a document: Word's XML compresses 5-20 times, pictures hardly at all.
BOMB_RATIO = 200
BOMB_MIN_BYTES = 8 * 1024**2


DOCUMENT_FORMATS = ("pdf", "docx", "md", "txt", "html")


def extract_document(
    path: str | os.PathLike, format: str | None = None, limits: DocumentLimits | None = None
) -> DocumentText:
    """Read a document's text.  ``format`` is one of DOCUMENT_FORMATS (as :func:`ingest.detect.detect`
    reports it); ``None`` detects it from the content.  ``limits``: see :class:`DocumentLimits`."""
    path = Path(path)
    limits = limits or DocumentLimits()
    if format == "docx":
        _check_docx_expansion(path, limits)
    if format is None:
        from ingest.detect import detect

        format = detect(path).format
    readers = {
        "pdf": lambda p: _read_pdf(p, limits),
        "docx": _read_docx,
        "md": _read_markdown,
        "txt": _read_plain,
        "html": _read_html,
    }
    if format not in readers:
        raise DocumentError(path, f"not a supported document format ({format or 'unknown'})")
    try:
        doc = readers[format](path)
    except DocumentError:
        raise
    except OSError as e:
        raise DocumentError(path, f"cannot be read ({e.strerror or e})", code="unreadable") from e
    doc.format = format
    _check_text_size(path, doc, limits)
    if doc.title is not None:
        doc.title = clean_text(doc.title).replace("\n", " ") or None
    if not any(has_meaningful_text(p.text) for p in doc.pages):
        raise DocumentError(path, "no text in it (the document is empty)", code="no_text")
    return doc


def _check_text_size(path: Path, doc: DocumentText, limits: DocumentLimits) -> None:
    for page in doc.pages:
        if len(page.text) > limits.page_chars:
            where = f"page {page.number}" if page.number is not None else "the document"
            raise DocumentError(
                path,
                f"{where} holds more than {limits.page_chars:,} characters of text "
                "(the limit of the setting max_page_text_chars)",
                code="page_text_too_long",
                limit=limits.page_chars,
                page=page.number,
            )
    total = sum(len(p.text) for p in doc.pages)
    if total > limits.text_chars:
        raise DocumentError(
            path,
            f"the document holds more than {limits.text_chars:,} characters of text "
            "(the limit of the setting max_document_text_chars)",
            code="document_text_too_long",
            limit=limits.text_chars,
        )


def _check_docx_expansion(path: Path, limits: DocumentLimits) -> None:
    """Refuse a .docx whose parts would expand beyond the limits, from the zip's directory alone (the
    sizes it declares bound what is read: Python's zip reader stops at the declared size)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise DocumentError(
            path,
            "damaged Word document: it cannot be opened; save it again in Word and add the new file",
            code="damaged_docx",
        ) from e
    xml = sum(i.file_size for i in infos if i.filename.lower().endswith((".xml", ".rels")))
    if xml > limits.expanded_bytes:
        raise DocumentError(
            path,
            f"its text parts expand to {xml:,} bytes, more than the limit of "
            f"{limits.expanded_bytes:,} (the setting max_document_expanded_bytes)",
            code="document_expands_too_much",
            limit=limits.expanded_bytes,
        )
    for i in infos:
        if i.file_size > BOMB_MIN_BYTES and i.file_size > BOMB_RATIO * max(i.compress_size, 1):
            raise DocumentError(
                path,
                f"{i.filename} expands {i.file_size // max(i.compress_size, 1):,} times (a zip bomb, not a document)",
                code="document_expands_too_much",
                limit=limits.expanded_bytes,
            )


# -- PDF -------------------------------------------------------------------------------------------


def _read_pdf(path: Path, limits: DocumentLimits | None = None) -> DocumentText:
    # pypdf logs every repair it makes ("EOF marker not found"); the outcome is reported here instead.
    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)
    try:
        return _read_pdf_quietly(path, limits or DocumentLimits())
    finally:
        pypdf_log.setLevel(level)


def _read_pdf_quietly(path: Path, limits: DocumentLimits) -> DocumentText:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many "protected" PDFs only restrict printing/copying
            except DependencyError as e:
                raise DocumentError(
                    path,
                    "encrypted PDF: it uses AES encryption, which needs the 'cryptography' package (not installed)",
                    code="encrypted_pdf",
                ) from e
            if not opened:
                raise DocumentError(
                    path,
                    "encrypted PDF: it needs a password to open; save an unprotected copy and ingest that",
                    code="encrypted_pdf",
                )
        raw_pages = []
        warnings = []
        taken = 0
        for number, page in enumerate(reader.pages, start=1):
            try:
                raw_pages.append(page.extract_text() or "")
            except Exception as e:  # one bad page should not lose the others
                raw_pages.append("")
                warnings.append(f"page {number}: text could not be read ({type(e).__name__})")
            taken += len(raw_pages[-1])
            if len(raw_pages[-1]) > 2 * limits.page_chars or taken > 2 * limits.text_chars:
                break  # far past a limit already: stop reading; the check below names the limit
        title = _pdf_title(reader)
    except DocumentError:
        raise
    except Exception as e:
        # pypdf's own words ("Declared size 999999 exceeds allowed limit of 68!") mean nothing to the
        # person who added the file (issue 16, defect 16): they go to the log, the message says what to do.
        logging.getLogger(__name__).info("%s: pypdf could not read it: %s: %s", path, type(e).__name__, e)
        raise DocumentError(
            path,
            "damaged PDF: its internal structure cannot be read; save or export it again and add the new file",
            code="damaged_pdf",
        ) from e

    pages = [Page(n, _clean_pdf_page(raw)) for n, raw in enumerate(raw_pages, start=1)]
    blank = [p.number for p in pages if not has_meaningful_text(p.text)]
    if len(blank) == len(pages):
        raise DocumentError(
            path,
            f"no text layer (empty or scanned PDF): none of its {len(pages)} page(s) has "
            "extractable text; run OCR on it first",
            code="scanned_pdf",
        )
    if blank:
        warnings.append(f"page(s) {_ranges(blank)} have no text layer (scanned?) and were skipped")
    return DocumentText(pages=pages, title=title, warnings=warnings)


def _clean_pdf_page(raw: str) -> str:
    text = drop_page_number_lines(remove_spaces_between_cjk(clean_text(raw)))
    return join_wrapped_lines(text)


def _pdf_title(reader) -> str | None:
    """The metadata title, unless it is a word processor's placeholder ("Microsoft Word - x.docx", "無題")."""
    try:
        title = (reader.metadata or {}).get("/Title")
    except Exception:
        return None
    if not isinstance(title, str):
        return None
    title = re.sub(r"^Microsoft (Word|PowerPoint|Excel) - ", "", title.strip())
    title = re.sub(r"\.(docx?|xlsx?|pptx?|rtf|txt|pdf)$", "", title, flags=re.IGNORECASE).strip()
    if not has_meaningful_text(title) or title.lower() in ("untitled", "無題", "document", "文書"):
        return None
    return title


def _ranges(numbers: list[int]) -> str:
    out, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out)


# -- Word ------------------------------------------------------------------------------------------


def _read_docx(path: Path) -> DocumentText:
    import docx

    try:
        document = docx.Document(str(path))
        blocks, heading = _docx_blocks(document)
        title = (document.core_properties.title or "").strip() or heading
    except Exception as e:
        logging.getLogger(__name__).info("%s: python-docx could not read it: %s: %s", path, type(e).__name__, e)
        raise DocumentError(
            path,
            "damaged Word document: it cannot be opened; save it again in Word and add the new file",
            code="damaged_docx",
        ) from e
    text = clean_text("\n\n".join(blocks))
    return DocumentText(pages=[Page(None, text)], title=title)


def _docx_blocks(document) -> tuple[list[str], str | None]:
    """Paragraphs and tables in body order; also the first heading (Title style preferred)."""
    from docx.table import Table

    blocks: list[str] = []
    first_heading = title_style = None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            table = _docx_table(item)
            if table:
                blocks.append(table)
            continue
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "").lower()
        if style.startswith(("title", "表題")) and title_style is None:
            title_style = text
        elif style.startswith(("heading", "見出し")) and first_heading is None:
            first_heading = text
        blocks.append(text)
    return blocks, title_style or first_heading


def _docx_table(table) -> str:
    """One line per row, cells separated by " | " (a merged cell counted once)."""
    from docx.table import Table

    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            parts = []
            for inner in cell.iter_inner_content():
                parts.append(_docx_table(inner) if isinstance(inner, Table) else inner.text.strip())
            text = " ".join(p for p in parts if p)
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return "\n".join(rows)


# -- plain text, Markdown, HTML ----------------------------------------------------------------------


def _decode(path: Path) -> tuple[str, str]:
    try:
        return decode_text(path.read_bytes())
    except TextDecodeError as e:
        raise DocumentError(path, f"not readable as text: {e}", code="unreadable_text") from e


def _read_plain(path: Path) -> DocumentText:
    text, encoding = _decode(path)
    return DocumentText(pages=[Page(None, join_wrapped_lines(clean_text(text)))], encoding=encoding)


def _read_markdown(path: Path) -> DocumentText:
    from ingest.markup import markdown_to_text

    source, encoding = _decode(path)
    text, title = markdown_to_text(source)
    return DocumentText(pages=[Page(None, clean_text(text))], title=title, encoding=encoding)


def _read_html(path: Path) -> DocumentText:
    from ingest.markup import html_to_text

    data = path.read_bytes()
    source, encoding = _declared_html_charset(data) or _decode(path)
    text, title = html_to_text(source)
    return DocumentText(pages=[Page(None, clean_text(text))], title=title, encoding=encoding)


def _declared_html_charset(data: bytes) -> tuple[str, str] | None:
    """Decode with the charset a <meta> tag declares, if it declares one that works."""
    m = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", data[:4096], re.IGNORECASE)
    if not m:
        return None
    encoding = m.group(1).decode("ascii").lower()
    encoding = {
        "shift_jis": "cp932",
        "shift-jis": "cp932",
        "sjis": "cp932",
        "x-sjis": "cp932",
        "windows-31j": "cp932",
    }.get(encoding, encoding)
    try:
        return data.decode(encoding), encoding
    except (LookupError, UnicodeDecodeError):
        return None
