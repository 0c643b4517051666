"""Markdown and HTML to plain paragraphs, keeping the words and dropping the markup.

Markdown is handled with a few line rules rather than a full parser: notes
written by a workshop are simple (headings, lists, emphasis, links, code
blocks, tables), and what matters for search is that markup characters do not
end up in the index ("**注意**" must index as 注意) and that code blocks keep
their text (G-code and parameter listings are searched for).

HTML goes through BeautifulSoup's built-in ``html.parser`` (no lxml needed).
Scripts, styles and page chrome (nav, aside, footer, forms) are dropped;
block elements become paragraphs, table rows become lines with " | " between
cells, and a source line break between two Japanese characters disappears
instead of becoming a space.
"""

from __future__ import annotations

import re

from ingest.textnorm import join_pieces

# -- Markdown --------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s{0,3}(```+|~~~+)")
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINK_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # link -> its text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference link
    (re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>"), r"\1"),  # autolink
    (re.compile(r"`+([^`]+?)`+"), r"\1"),  # inline code
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *em*
    (re.compile(r"(?<![\w])_(?=\S)(.+?)(?<=\S)_(?![\w])"), r"\1"),  # _em_, not snake_case
    (re.compile(r"~~(.+?)~~"), r"\1"),  # strikethrough
    (re.compile(r"</?[A-Za-z][^<>]*>"), ""),  # inline HTML tags
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),  # backslash escapes
]


def _inline(text: str) -> str:
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return text.strip()


def _front_matter(lines: list[str]) -> tuple[list[str], str | None]:
    """Drop a leading YAML front-matter block; return its title: if it has one."""
    if not lines or lines[0].strip() != "---":
        return lines, None
    for end in range(1, min(len(lines), 60)):
        if lines[end].strip() in ("---", "..."):
            title = next(
                (m.group(1).strip().strip("\"'") for ln in lines[1:end] if (m := re.match(r"^title\s*:\s*(.+)$", ln))),
                None,
            )
            return lines[end + 1 :], title or None
    return lines, None


def markdown_to_text(source: str) -> tuple[str, str | None]:
    """(plain text, title).  The title is the front matter's title, else the first level-1 heading,
    else the first heading."""
    source = re.sub(r"<!--.*?-->", "", source.replace("\r\n", "\n").replace("\r", "\n"), flags=re.S)
    lines, title = _front_matter(source.split("\n"))
    blocks: list[str] = []  # finished paragraphs
    para: list[tuple[str, bool]] = []  # (line, stands on its own line)
    headings: list[tuple[int, str]] = []
    fence: str | None = None

    def flush() -> None:
        text = ""
        for line, own_line in para:
            text = (text + "\n" + line if text else line) if own_line else join_pieces(text, line)
        if text.strip():
            blocks.append(text.strip())
        para.clear()

    for line in lines:
        if fence is not None:  # inside a code block: keep the text as it is
            if line.strip().startswith(fence):
                fence = None
                flush()
            elif line.strip():
                para.append((line.rstrip(), True))
            continue
        m = _FENCE.match(line)
        if m:
            flush()
            fence = m.group(1)[:3]
            continue
        stripped = re.sub(r"^\s{0,3}(>\s?)+", "", line)  # blockquote markers
        if _SETEXT.match(stripped) and len(para) == 1 and not para[0][1]:
            heading = para[0][0]
            headings.append((1 if "=" in stripped else 2, heading))
            flush()
            continue
        if not stripped.strip() or _RULE.match(stripped) or _LINK_DEF.match(stripped):
            flush()
            continue
        if (m := _ATX.match(stripped)) is not None:
            flush()
            heading = _inline(m.group(2))
            headings.append((len(m.group(1)), heading))
            blocks.append(heading)
            continue
        if _TABLE_SEP.match(stripped) and "|" in stripped:
            continue
        if stripped.lstrip().startswith("|"):
            cells = [_inline(c) for c in stripped.strip().strip("|").split("|")]
            para.append((" | ".join(c for c in cells if c), True))
            continue
        item = _LIST_ITEM.match(stripped)
        if item:
            para.append((_inline(stripped[item.end() :]), True))
            continue
        para.append((_inline(stripped), False))
    flush()
    if title is None and headings:
        title = next((h for level, h in headings if level == 1), headings[0][1])
    return "\n\n".join(blocks), title or None


# -- HTML ------------------------------------------------------------------------------------------

_DROP = {
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "aside",
    "footer",
    "form",
    "iframe",
    "svg",
    "canvas",
    "button",
    "select",
    "textarea",
    "head",
    "object",
    "embed",
    "menu",
    "dialog",
}
_BLOCK = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "caption",
    "pre",
    "blockquote",
    "figure",
    "figcaption",
    "address",
    "hr",
    "details",
    "summary",
    "body",
    "html",
    "center",
    "fieldset",
}
_CJK = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_SEAM = re.compile(f"(?<=[{_CJK}])[ \t\r\f\v]*\n\\s*(?=[{_CJK}])")
_BR = "\x00"  # stands for <br> until whitespace is collapsed


def _collapse(raw: str) -> str:
    """HTML whitespace rules, except that a line break between two Japanese characters vanishes."""
    lines = []
    for part in raw.split(_BR):
        part = _CJK_SEAM.sub("", part)
        lines.append(re.sub(r"\s+", " ", part).strip())
    return "\n".join(ln for ln in lines if ln)


class _HtmlText:
    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.buffer: list[str] = []

    def flush(self) -> None:
        text = _collapse("".join(self.buffer))
        if text:
            self.blocks.append(text)
        self.buffer = []

    def walk(self, node) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA, processing instructions
                continue
            if isinstance(child, NavigableString):
                self.buffer.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            if child.name == "br":
                self.buffer.append(_BR)
            elif child.name == "pre":
                self.flush()
                text = child.get_text()
                if text.strip():
                    self.blocks.append(text.strip("\n"))
            elif child.name == "table":
                self.flush()
                rows = [_table_row(tr) for tr in child.find_all("tr") if tr.find_parent("table") is child]
                if any(rows):
                    self.blocks.append("\n".join(r for r in rows if r))
            elif child.name in _BLOCK:
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk(child)


def _table_row(tr) -> str:
    cells = [_collapse(c.get_text(" ")) for c in tr.find_all(["td", "th"], recursive=False)]
    return " | ".join(c for c in cells if c)


def _hidden(tag) -> bool:
    style = (tag.get("style") or "").replace(" ", "").lower()
    return tag.has_attr("hidden") or "display:none" in style or tag.get("aria-hidden") == "true"


def html_to_text(source: str) -> tuple[str, str | None]:
    """(plain text, title).  The title is <title>, else the first <h1>.  If the page has a <main>
    element, only it is read."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(source, "html.parser")
    title = None
    for tag in (soup.title, soup.find("h1")):
        if tag is not None and tag.get_text(strip=True):
            title = _collapse(tag.get_text(" "))
            break
    for tag in soup.find_all(True):
        if not tag.decomposed and (tag.name in _DROP or _hidden(tag)):
            tag.decompose()
    root = soup.find("main") or soup.body or soup
    walker = _HtmlText()
    walker.walk(root)
    walker.flush()
    # Each block is a paragraph; the rows of one table are the lines of one paragraph.
    return "\n\n".join(walker.blocks), title
