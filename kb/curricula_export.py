"""Curricula out of and into a knowledge base: JSON to import elsewhere, and a printable PDF with QR codes.

Why items are matched by the file's sha256 on import: another knowledge base
gives the same recording another id, but the same file has the same hash.
An item whose file is not there is imported anyway, flagged as removed
(recording_id NULL) with its title and times, so nothing is silently lost
and the coordinator sees what to record or import.

Why reportlab for the PDF: it is pure Python and ships Japanese CID fonts
(HeiseiKakuGo-W5), so the server needs neither a browser nor font files to
print Japanese; the QR code is reportlab's own vector widget (sharp at any size).
"""

from __future__ import annotations

import io
import sqlite3
from typing import Callable, Mapping

from kb import curricula
from kb.errors import InputError

FORMAT = "takumi-kb-curriculum"
VERSION = 1
ITEM_FIELDS = (
    "kind",
    "start",
    "end",
    "page",
    "title",
    "recording_kind",
    "technique",
    "excerpt",
    "sha256",
    "note",
    "required",
)
MAX_IMPORT_ITEMS = 2000


def to_json(conn: sqlite3.Connection, curriculum_id: int) -> dict:
    c = curricula.get(conn, curriculum_id)
    groups = []
    for g in curricula.outline(conn, curriculum_id):
        groups.append(
            {
                "title": g["section"]["title"] if g["section"] else None,
                "items": [{k: it[k] for k in ITEM_FIELDS} | {"required": bool(it["required"])} for it in g["items"]],
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "curriculum": {k: c[k] for k in ("title", "goal", "level", "description")},
        "sections": groups,
    }


def from_json(conn: sqlite3.Connection, data: object, created_by: int | None = None) -> tuple[int, int, int]:
    """Import a curriculum exported by :func:`to_json`.  Returns (new id, items linked, items not found here)."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise InputError(
            "this is not a curriculum exported by Takumi KB (format takumi-kb-curriculum)", code="not_export"
        )
    if data.get("version") != VERSION:
        raise InputError(
            f"unsupported curriculum file version {data.get('version')!r} (expected {VERSION})", code="file_version"
        )
    meta, groups = data.get("curriculum"), data.get("sections")
    if not isinstance(meta, Mapping) or not isinstance(groups, list):
        raise InputError(
            "the curriculum file is incomplete (curriculum and sections are needed)", code="file_incomplete"
        )
    all_items = [it for g in groups if isinstance(g, Mapping) for it in (g.get("items") or [])]
    if len(all_items) > MAX_IMPORT_ITEMS or not all(isinstance(it, Mapping) for it in all_items):
        raise InputError("the curriculum file has malformed or too many items", code="file_items")
    for it in all_items:
        if it.get("kind") not in curricula.ITEM_KINDS or not str(it.get("title") or "").strip():
            raise InputError("every item needs a kind (recording, moment, passage) and a title", code="file_items")
    new_id = curricula.create(
        conn,
        title=str(meta.get("title") or ""),
        goal=str(meta.get("goal") or ""),
        level=str(meta.get("level") or ""),
        description=str(meta.get("description") or ""),
        created_by=created_by,
    )
    linked = missing = 0
    with conn:
        section_position = 0
        for g in groups:
            if not isinstance(g, Mapping):
                continue
            section_id = None
            if g.get("title"):
                section_id = conn.execute(
                    "INSERT INTO curriculum_sections(curriculum_id, title, position) VALUES (?,?,?)",
                    (new_id, str(g["title"])[: curricula.MAX_TITLE], section_position),
                ).lastrowid
                section_position += 1
            for position, it in enumerate(g.get("items") or []):
                row = conn.execute("SELECT id FROM recordings WHERE sha256 = ?", (it.get("sha256"),)).fetchone()
                linked, missing = (linked + 1, missing) if row else (linked, missing + 1)
                conn.execute(
                    """INSERT INTO curriculum_items(curriculum_id, section_id, position, kind, recording_id,
                                    start, end, page, title, recording_kind, technique, excerpt, sha256, note, required)
                                VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                    (
                        new_id,
                        section_id,
                        position,
                        it["kind"],
                        row[0] if row else None,
                        _num(it.get("start")),
                        _num(it.get("end")),
                        _int(it.get("page")),
                        str(it["title"])[: curricula.MAX_TITLE],
                        it.get("recording_kind"),
                        it.get("technique"),
                        str(it.get("excerpt") or "")[: curricula.MAX_EXCERPT],
                        it.get("sha256"),
                        str(it.get("note") or "")[: curricula.MAX_TEXT],
                        int(bool(it.get("required", True))),
                    ),
                )
    return new_id, linked, missing


def _num(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _int(v) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


# ---------------------------------------------------------------- PDF


def pdf_bytes(
    conn: sqlite3.Connection, curriculum_id: int, link_of: Callable[[dict], str | None], words: Mapping[str, str]
) -> bytes:
    """A4 pages: title, goal, then each item with its note and a QR code linking to its moment.

    ``link_of(item)`` gives the absolute address (None when the recording is gone);
    ``words`` holds the labels in the interface language (goal, required, optional, removed, section)."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "HeiseiKakuGo-W5"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    c = curricula.get(conn, curriculum_id)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(c["title"])
    width, height = A4
    left, qr_size = 18 * mm, 28 * mm
    y = height - 20 * mm

    def wrap(text: str, size: float, max_width: float) -> list[str]:
        lines, line = [], ""
        for ch in text:
            if ch == "\n" or pdfmetrics.stringWidth(line + ch, font, size) > max_width:
                lines.append(line)
                line = "" if ch == "\n" else ch
            else:
                line += ch
        return lines + ([line] if line else [])

    def text(lines: list[str], size: float, x: float = left) -> None:
        nonlocal y
        pdf.setFont(font, size)
        for line in lines:
            pdf.drawString(x, y, line)
            y -= size * 1.4

    def need(space: float) -> None:
        nonlocal y
        if y - space < 15 * mm:
            pdf.showPage()
            y = height - 20 * mm

    text(wrap(c["title"], 18, width - 2 * left), 18)
    if c["goal"]:
        text(wrap(f"{words['goal']}: {c['goal']}", 11, width - 2 * left), 11)
    if c["description"]:
        text(wrap(c["description"], 10, width - 2 * left), 10)
    y -= 4 * mm
    number = 0
    for g in curricula.outline(conn, curriculum_id):
        if g["section"]:
            need(12 * mm)
            text(wrap(g["section"]["title"], 14, width - 2 * left), 14)
        for it in g["items"]:
            number += 1
            need(qr_size + 6 * mm)
            top = y
            link = link_of(it)
            if link:
                widget = QrCodeWidget(link, barLevel="M")
                x0, y0, x1, y1 = widget.getBounds()
                drawing = Drawing(qr_size, qr_size, transform=[qr_size / (x1 - x0), 0, 0, qr_size / (y1 - y0), 0, 0])
                drawing.add(widget)
                renderPDF.draw(drawing, pdf, width - left - qr_size, top - qr_size + 4 * mm)
            body_width = width - 2 * left - qr_size - 6 * mm
            when = _when(it)
            head = f"{number}. {it['title']}" + (f"  {when}" if when else "")
            text(wrap(head, 12, body_width), 12)
            flags = [words["required"] if it["required"] else words["optional"]]
            if it["recording_id"] is None:
                flags.append(words["removed"])
            text([" · ".join(flags)], 9)
            if it["note"]:
                text(wrap(it["note"], 10, body_width), 10)
            if link:
                text(wrap(link, 8, body_width), 8)
            y = min(y, top - qr_size) - 4 * mm
    pdf.save()
    return out.getvalue()


def _when(item: Mapping) -> str:
    def clock(s: float) -> str:
        m, sec = divmod(int(s), 60)
        return f"{m:02d}:{sec:02d}"

    if item.get("start") is not None:
        return f"{clock(item['start'])}–{clock(item['end'])}" if item.get("end") is not None else clock(item["start"])
    if item.get("page") is not None:
        return f"p.{item['page']}"
    return ""
