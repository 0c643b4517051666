"""Interface language: Japanese by default, English on request.

Why this order: the people using it are Japanese technicians, so Japanese is
the default; a browser that prefers English (Accept-Language) gets English;
and a choice made with the switch in the header (a cookie) beats both.  The
messages are ordinary gettext catalogues (web/translations/<lang>/LC_MESSAGES/
messages.po, compiled to .mo) read by Flask-Babel; the source strings in the
templates are English.  `python -m web.catalog` re-extracts and compiles them.
"""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel, gettext, lazy_gettext

LANGUAGES = ("ja", "en")
DEFAULT = "ja"
COOKIE = "lang"
NATIVE_NAMES = {"ja": "日本語", "en": "English"}  # each written in its own language, never translated

# Labels of values stored in the data (kind, language); translated at render time.
KIND_LABELS = {"video": lazy_gettext("Video"), "audio": lazy_gettext("Audio"), "document": lazy_gettext("Document")}
LANGUAGE_LABELS = {"ja": lazy_gettext("Japanese"), "en": lazy_gettext("English")}


def select_locale() -> str:
    """Cookie (the header switch) > Accept-Language > Japanese."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT) or DEFAULT


def kind_label(kind: str | None) -> str:
    return str(KIND_LABELS.get(kind or "", kind or ""))


def language_label(code: str | None) -> str:
    return str(LANGUAGE_LABELS.get(code or "", code or ""))


def init_app(app: Flask) -> Babel:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel = Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        kind_label=kind_label,
        language_label=language_label,
        LANGUAGES=LANGUAGES,
        NATIVE_NAMES=NATIVE_NAMES,
        gettext=gettext,
    )
    return babel
