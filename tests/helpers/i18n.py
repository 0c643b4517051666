"""Reading a page as a person sees it, and the catalogue's English: for the tests that check that a
Japanese page shows no untranslated interface text (test_web_i18n, test_web_people)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

UI_ATTRIBUTES = ("alt", "title", "placeholder", "aria-label", "label", "data-copied", "data-failed")


class VisibleText(HTMLParser):
    """Text nodes and UI attributes of a page, leaving out script/style/code and any element in
    another language than the page (lang="en" transcripts, the language switch's "English")."""

    SKIP = {"script", "style", "pre", "code"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, page_lang: str | None = None):
        super().__init__(convert_charrefs=True)
        self.page_lang = page_lang
        self.stack: list[bool] = []  # per open element: is it (or an ancestor) excluded?
        self.texts: list[str] = []

    def _excluded(self) -> bool:
        return bool(self.stack and self.stack[-1])

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        lang = attrs.get("lang")
        if tag == "html":
            self.page_lang = self.page_lang or lang
        excluded = (
            self._excluded()
            or tag in self.SKIP
            or (tag != "html" and lang is not None and self.page_lang is not None and lang != self.page_lang)
        )
        if not excluded:
            self.texts += [attrs[a] for a in UI_ATTRIBUTES if attrs.get(a)]
        if tag not in self.VOID:
            self.stack.append(excluded)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self._excluded() and data.strip():
            self.texts.append(" ".join(data.split()))


def visible_text(page: str) -> list[str]:
    parser = VisibleText()
    parser.feed(page)
    return parser.texts


def english_patterns(client_app) -> list[tuple[str, re.Pattern]]:
    """Every English source string of the catalogue as a regex (placeholders match anything)."""
    from web.catalog import read

    out = []
    for message in read("ja"):
        if not message.id:
            continue
        for text in message.id if isinstance(message.id, (list, tuple)) else (message.id,):
            translated = message.string if isinstance(message.string, str) else message.string[0]
            if text == translated:
                continue  # the same in both languages (e.g. "JSON API")
            body = re.escape(text)
            body = re.sub(r"%\\\((\w+)\\\)[sd]", ".+?", body)
            # whole words only: "%(hours)s h" must not find the h of "http://…" in a Japanese sentence
            out.append((text, re.compile(r"(?<![A-Za-z])" + body + r"(?![A-Za-z])")))
    return out
