"""Printable A4 guides: the recording guide (one page, with a QR code to the studio's upload page)
and the quick guides for apprentices and coordinators (five steps with current screenshots).

Why reportlab and its built-in CID font (HeiseiKakuGo-W5), as the curriculum PDFs do: the
server needs neither a browser nor font files to print Japanese.  Why the recording guide
shrinks its type until it fits: it is pinned beside a machine, so it must be one sheet in
every language, whatever the words.

    python -m web.guides_pdf                # writes docs/guides/*.pdf from docs/screenshots/
    make guides                             # takes the screenshots first (Chromium), then this
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from web.guides_content import QUICK_GUIDES, RECORDING_GUIDE

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "docs" / "screenshots"
OUT = REPO / "docs" / "guides"
FONT = "HeiseiKakuGo-W5"
WORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
NO_LINE_END = "「『(【〈《"  # ... and these never end one
NO_LINE_START = "、。,.)」』】〉》!?!?:;ー…・"  # Japanese line breaking: these never begin a line


class DoesNotFit(Exception):
    """The recording guide's words do not fit on one A4 page even in the smallest type."""


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def wrap(text: str, size: float, max_width: float) -> list[str]:
    """Lines of ``text`` no wider than ``max_width`` (Japanese has no spaces: break at any character,
    but English breaks at spaces where it can)."""
    from reportlab.pdfbase import pdfmetrics

    lines, line = [], ""
    for ch in text:
        if pdfmetrics.stringWidth(line + ch, FONT, size) <= max_width or (ch in NO_LINE_START and line):
            line += ch  # closing punctuation hangs at the end of the line rather than start the next
            continue
        word = len(line) - len(line.rstrip(WORD_CHARS))  # a Latin word or number being cut in two
        cut = line.rfind(" ")
        if ch in WORD_CHARS and 0 < word < min(len(line), 20) and line[-word - 1] != " ":
            word += line[-word - 1] in NO_LINE_END and word + 1 < len(line)
            lines.append(line[:-word])  # Japanese before it: the word moves to the next line whole
            line = line[-word:] + ch
        elif ch != " " and cut > len(line) // 2 and line[-1].isascii():
            lines.append(line[:cut])
            line = line[cut + 1 :] + ch
        else:
            lines.append(line)
            line = "" if ch == " " else ch
    return lines + ([line] if line else [])


def _qr(pdf, link: str, x: float, y: float, size: float) -> None:
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(link, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, x, y)


def recording_guide_pdf(upload_url: str, lang: str = "ja") -> bytes:
    """One A4 page: the six points of the recording guide and a QR code to ``upload_url``."""
    for size in (15, 14, 13, 12.5, 12, 11.5, 11, 10.5, 10, 9.5, 9):
        data = _recording_guide(upload_url, RECORDING_GUIDE.get(lang) or RECORDING_GUIDE["ja"], size)
        if data is not None:
            return data
    raise DoesNotFit("the recording guide does not fit on one A4 page")


def _recording_guide(upload_url: str, guide: dict, size: float) -> bytes | None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    font = _font()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(guide["title"])
    width, height = A4
    left, bottom, qr_size = 16 * mm, 16 * mm, 40 * mm
    y = height - 22 * mm
    pdf.setFont(font, 24)
    pdf.drawString(left, y, guide["title"])
    y -= 10 * mm
    text_width = width - 2 * left
    pdf.setFont(font, size)
    for line in wrap(guide["lead"], size, text_width - qr_size - 6 * mm):
        pdf.drawString(left, y, line)
        y -= size * 1.45
    _qr(pdf, upload_url, width - left - qr_size, height - 22 * mm - qr_size + 2 * mm, qr_size)
    pdf.setFont(font, 7.5)
    pdf.drawCentredString(width - left - qr_size / 2, height - 22 * mm - qr_size - 1 * mm, guide["qr_caption"])
    y = min(y, height - 22 * mm - qr_size - 8 * mm)
    for number, (heading, points) in enumerate(guide["sections"], 1):
        y -= size * 0.6
        pdf.setFillGray(0.15)
        pdf.circle(left + size * 0.55, y + size * 0.33, size * 0.7, stroke=0, fill=1)
        pdf.setFillGray(1)
        pdf.setFont(font, size * 1.05)
        pdf.drawCentredString(left + size * 0.55, y, str(number))
        pdf.setFillGray(0)
        pdf.setFont(font, size * 1.3)
        pdf.drawString(left + size * 1.8, y, heading)
        y -= size * 1.9
        pdf.setFont(font, size)
        for point in points:
            lines = wrap(point, size, text_width - size * 3)
            pdf.drawString(left + size * 1.8, y, "・")
            for line in lines:
                pdf.drawString(left + size * 2.8, y, line)
                y -= size * 1.45
        if y < bottom:
            return None
    pdf.setFont(font, 8)
    pdf.drawString(left, bottom - 4 * mm, upload_url)
    pdf.save()
    return out.getvalue()


def quick_guide_pdf(who: str, shots: Path = SHOTS) -> bytes:
    """A4 pages (Japanese): the guide's five steps, each with its screenshot beside the words.

    A screenshot that is missing is an error (FileNotFoundError naming it): a guide with a
    hole in it must not be printed; `make guides` takes them all."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    guide = QUICK_GUIDES[who]
    font = _font()
    missing = [name for *_, name in guide["steps"] if not (shots / name).is_file()]
    if missing:
        raise FileNotFoundError(f"screenshots missing in {shots}: {', '.join(missing)} (run `make guides`)")
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(guide["title"])
    width, height = A4
    left, bottom = 14 * mm, 12 * mm
    text_width, image_width = 70 * mm, width - 2 * left - 70 * mm - 6 * mm
    y = height - 18 * mm
    pdf.setFont(font, 17)
    pdf.drawString(left, y, guide["title"])
    y -= 8 * mm
    pdf.setFont(font, 10)
    for line in wrap(guide["lead"], 10, width - 2 * left):
        pdf.drawString(left, y, line)
        y -= 14
    y -= 3 * mm
    for number, (heading, body, name) in enumerate(guide["steps"], 1):
        image = ImageReader(_top_of(shots / name))
        iw, ih = image.getSize()
        shown_h = min(image_width * ih / iw, 62 * mm)
        shown_w = shown_h * iw / ih
        lines = wrap(body, 9.5, text_width)
        need = max(shown_h, 8 * mm + len(lines) * 13) + 5 * mm
        if y - need < bottom:
            pdf.showPage()
            y = height - 18 * mm
        top = y
        pdf.setFont(font, 12.5)
        pdf.drawString(left, y - 4 * mm, f"{number}. {heading}")
        ty = y - 11 * mm
        pdf.setFont(font, 9.5)
        for line in lines:
            pdf.drawString(left, ty, line)
            ty -= 13
        pdf.drawImage(image, width - left - shown_w, top - shown_h, shown_w, shown_h)
        pdf.setStrokeGray(0.6)
        pdf.rect(width - left - shown_w, top - shown_h, shown_w, shown_h, stroke=1, fill=0)
        y = min(ty, top - shown_h) - 5 * mm
    pdf.save()
    return out.getvalue()


def _top_of(path: Path, ratio: float = 0.7):
    """The screenshot, cut to its top part when it is a tall full-page shot: on paper a whole page
    shrinks to nothing, and the top (the question, the first results) is what a step shows."""
    from PIL import Image

    image = Image.open(path)
    image.load()
    width, height = image.size
    phone = width < 1000 and height > width  # a phone screen is shown whole
    if not phone and height > width * ratio:
        image = image.crop((0, 0, width, int(width * ratio)))
    return image.convert("RGB")


def write_all(shots: Path = SHOTS, out: Path = OUT, upload_url: str = "http://127.0.0.1:5000/studio") -> list[Path]:
    """docs/guides/: both quick guides and the recording guide (its QR code: ``upload_url``)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for who in QUICK_GUIDES:
        written.append(out / f"quick-guide-{who}.pdf")
        written[-1].write_bytes(quick_guide_pdf(who, shots))
    written.append(out / "recording-guide.pdf")
    written[-1].write_bytes(recording_guide_pdf(upload_url))
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description="Write the printable guides (A4 PDF) into docs/guides/.")
    ap.add_argument("--shots", type=Path, default=SHOTS, help="folder of the screenshots (docs/screenshots)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--upload-url",
        default="http://127.0.0.1:5000/studio",
        help="where the recording guide's QR code points (the studio's address on your network)",
    )
    args = ap.parse_args()
    for path in write_all(args.shots, args.out, args.upload_url):
        print(path)


if __name__ == "__main__":
    main()
