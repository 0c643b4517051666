"""Text normalisation shared by the document parsers and the chunker.

Japanese has no spaces between words, so every place that glues two pieces of
text together (a line broken by a PDF, two transcript segments, two
paragraphs merged into one passage) must decide: a space between Latin words,
nothing between Japanese characters ("びびり" + "対策", not "びびり 対策").

Unicode normalisation is NFKC, with exceptions.  NFKC is what makes PDF text
searchable: it turns half-width ｶﾀｶﾅ into カタカナ and full-width ＮＣ１２３
into NC123 (what an IME user types, either way), and it maps the Kangxi
radicals (⼯ U+2F2F) and compatibility ideographs that some PDF fonts'
ToUnicode tables emit back to the ordinary kanji (工).  Without it a query for
工具 would never match a manual that extracts as ⼯具.  But plain NFKC also
rewrites characters whose meaning sits in their shape, and numbers matter in a
workshop: "①20mm" would become "120mm", "10²" would become "102" and "3½"
"31⁄2".  Enclosed numbers, superscripts, subscripts and vulgar fractions are
therefore kept as they are (the lexical index folds them for matching anyway).
"""

from __future__ import annotations

import re
import unicodedata

# Characters NFKC would turn into plain digits/letters, changing the numbers they stand for.
_KEEP = re.compile(
    "[\u00b2\u00b3\u00b9\u00bc-\u00be\u2070-\u209f\u2150-\u218f"  # ²³¹ ¼½¾ super/subscripts, fractions, Ⅻ
    "\u2460-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]+"  # ①⑳ ⓐ ❶ ㉑ ㊱
)
_CONTROL = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")


def is_cjk(ch: str) -> bool:
    """True for kana, kanji, Japanese punctuation and full-width forms: text that joins without spaces."""
    o = ord(ch)
    return (
        0x3000 <= o <= 0x30FF
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0xFF00 <= o <= 0xFFEF
        or 0x31F0 <= o <= 0x31FF
        or 0x2460 <= o <= 0x24FF
        or 0x20000 <= o <= 0x3FFFF
    )


def join_pieces(left: str, right: str) -> str:
    """Glue two pieces of text: no space when either side of the seam is Japanese, one space otherwise."""
    left, right = left.rstrip(), right.lstrip()
    if not left or not right:
        return left + right
    if is_cjk(left[-1]) or is_cjk(right[0]):
        return left + right
    return left + " " + right


def nfkc(text: str) -> str:
    """NFKC, except for enclosed numbers, superscripts and fractions (see the module docstring)."""
    out, pos = [], 0
    for m in _KEEP.finditer(text):
        out.append(unicodedata.normalize("NFKC", text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(unicodedata.normalize("NFKC", text[pos:]))
    return "".join(out)


def clean_text(text: str) -> str:
    """NFKC, control characters removed, spaces collapsed, lines trimmed, at most one blank line in a row.

    Line structure survives: ``\\n\\n`` separates paragraphs, ``\\n`` separates
    lines inside one (the chunker may cut at either)."""
    text = nfkc(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def has_meaningful_text(text: str) -> bool:
    """True if the text has at least one letter, digit or kanji/kana (not only punctuation or spaces)."""
    return any(ch.isalnum() for ch in text)


_CJK_CLASS = "\u3005\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK_CLASS}]) (?=[{_CJK_CLASS}])")
_LINE_END_BREAK = re.compile(r"[。．.!?！？:：][」』）)\]\"'’”]*$")
_LINE_START_ITEM = re.compile(
    r"^(?:[・•●○◎■□◆◇▪▶►※★☆*\-–—]\s*|[\u2460-\u24ff\u2776-\u2793]|\(?\d{1,3}[.)．、]\s*|[(（]\d{1,3}[)）]"
    r"|第\s*\d+\s*[章節条項]|[A-Za-z][.)]\s)"
)
_PAGE_NUMBER_LINE = re.compile(
    r"^(?:[-–—]\s*)?(?:p\.?\s*|page\s*)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?(?:\s*ページ)?"
    r"(?:\s*[-–—])?$",
    re.IGNORECASE,
)


def remove_spaces_between_cjk(text: str) -> str:
    """ "旋 盤" -> "旋盤": PDF extraction often puts spaces between spaced-out Japanese glyphs."""
    return _SPACE_BETWEEN_CJK.sub("", text)


def display_width(text: str) -> int:
    """Columns the text takes in a monospace layout: Japanese characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def join_wrapped_lines(text: str, min_full_width: int = 30) -> str:
    """Rejoin lines that a layout wrapped in the middle of a sentence; keep the others.

    A line continues on the next when it is nearly as wide as the text's
    typical full line (and that is at least ``min_full_width`` columns, so
    short list-like lines are never glued), does not end a sentence, and the
    next line does not start a list item.  Continued lines are glued with
    :func:`join_pieces` (no space inside Japanese; a hyphen between two
    lower-case Latin halves of a word is removed).  Lines that stay are
    separated by ``\n``; blank lines (paragraph breaks) are kept.
    """
    paragraphs = [[ln.strip() for ln in block.split("\n") if ln.strip()] for block in re.split(r"\n\s*\n", text)]
    paragraphs = [lines for lines in paragraphs if lines]
    widths = sorted(display_width(ln) for lines in paragraphs for ln in lines)
    if not widths:
        return ""
    full = max(widths[int(len(widths) * 0.8)] if len(widths) >= 3 else widths[-1], min_full_width)
    out = []
    for lines in paragraphs:
        merged = lines[0]
        for prev, line in zip(lines, lines[1:]):
            wrapped = (
                display_width(prev) >= 0.75 * full
                and not _LINE_END_BREAK.search(prev)
                and not _LINE_START_ITEM.match(line)
            )
            if not wrapped:
                merged += "\n" + line
            elif re.search(r"[a-z]-$", merged) and line[:1].islower():
                merged = merged[:-1] + line  # manu- / facturing
            else:
                merged = join_pieces(merged, line)
        out.append(merged)
    return "\n\n".join(out)


def drop_page_number_lines(text: str) -> str:
    """Remove a bare page number ("12", "- 12 -", "p. 12", "12 / 40", "12ページ") from the first or last line."""
    lines = text.split("\n")
    if lines and _PAGE_NUMBER_LINE.match(lines[-1].strip()):
        lines.pop()
    if lines and _PAGE_NUMBER_LINE.match(lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines)
