"""Help (ヘルプ): how each role does its main tasks, the recording guide, and the printable guides.

Why per-language templates (help/ja/<topic>.html, help/en/<topic>.html) rather than one
template full of gettext strings: help is prose, written for a reader in each language, and
paragraphs cut into msgids read like a translation.  The page around it (titles, the topic
list, buttons) goes through the catalogue like every other page.  Why every logged-in person
may open every topic: help says nothing that is not also in the docs; the index lists first
the topics of the reader's role, so an apprentice is not sent to the programme figures.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import get_locale, lazy_gettext

from web import auth
from web.guides_content import QUICK_GUIDES, RECORDING_GUIDE

bp = Blueprint("help", __name__)

# topic -> (the least role it is for, its title in the catalogue)
TOPICS = {
    "search": ("apprentice", lazy_gettext("Searching")),
    "watch": ("apprentice", lazy_gettext("Watching a moment and sharing it")),
    "upload": ("meister", lazy_gettext("Uploading and correcting a transcript")),
    "recording": ("meister", lazy_gettext("Recording tips")),
    "coaching": ("meister", lazy_gettext("Coaching sessions and the meister registry")),
    "curricula": ("coordinator", lazy_gettext("Building and assigning a curriculum")),
    "figures": ("coordinator", lazy_gettext("How the programme figures are counted")),
}
QUICK_TITLES = {
    "apprentice": lazy_gettext("Quick guide for apprentices: search and watch in five steps (PDF)"),
    "coordinator": lazy_gettext("Quick guide for coordinators: a curriculum in five steps (PDF)"),
}


def _language() -> str:
    return "en" if str(get_locale() or "ja") == "en" else "ja"


def _topics_for(viewer) -> tuple[list, list]:
    """(the reader's topics, the others): both as (key, title)."""
    mine = [(k, t) for k, (role, t) in TOPICS.items() if viewer.at_least(role)]
    return mine, [(k, t) for k, (role, t) in TOPICS.items() if not viewer.at_least(role)]


@bp.get("/help")
def index():
    viewer = auth.current_viewer()
    mine, others = _topics_for(viewer)
    quick = [(who, QUICK_TITLES[who]) for who in QUICK_GUIDES if viewer.at_least(who)]
    return render_template("help/index.html", mine=mine, others=others, quick=quick)


@bp.get("/help/<topic>")
def topic(topic: str):
    if topic not in TOPICS:
        abort(404)
    mine, others = _topics_for(auth.current_viewer())
    context = {"topic": topic, "title": TOPICS[topic][1], "mine": mine, "others": others}
    if topic == "recording":
        return render_template("help/recording.html", guide=RECORDING_GUIDE[_language()], **context)
    return render_template([f"help/{_language()}/{topic}.html", f"help/ja/{topic}.html"], **context)


def upload_address() -> str:
    """The studio's upload page as the phones on the shop floor reach it (KB_PUBLIC_URL / --public-url)."""
    base = (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
    return base + url_for("studio.studio")


# Built once per address/language (recording guide) and per set of screenshots (quick guides): laying
# out a guide with five screenshots takes seconds on a small PC, and a request thread must not.
@lru_cache(maxsize=16)
def _recording_guide(address: str, language: str) -> bytes:
    from web.guides_pdf import recording_guide_pdf as build

    return build(address, language)


@lru_cache(maxsize=8)
def _quick_guide(who: str, screenshots: tuple) -> bytes:
    from web.guides_pdf import quick_guide_pdf as build

    return build(who)


def _screenshots_of(who: str) -> tuple:
    """(name, size, mtime) of the guide's screenshots: a new `make guides` makes a new key."""
    from web.guides_pdf import SHOTS

    out = []
    for *_, name in QUICK_GUIDES[who]["steps"]:
        stat = (SHOTS / name).stat()  # FileNotFoundError when one is missing
        out.append((name, stat.st_size, stat.st_mtime_ns))
    return tuple(out)


@bp.get("/help/recording-guide.pdf")
def recording_guide_pdf():
    """The recording guide on one A4 page, its QR code pointing at the upload page."""
    data = _recording_guide(upload_address(), _language())
    return Response(
        data, mimetype="application/pdf", headers={"Content-Disposition": "inline; filename=recording-guide.pdf"}
    )


@bp.get("/help/quick-guide-<who>.pdf")
def quick_guide_pdf(who: str):
    """A quick guide (Japanese, A4) built from the screenshots in docs/screenshots (`make guides`)."""
    if who not in QUICK_GUIDES:
        abort(404)
    try:
        data = _quick_guide(who, _screenshots_of(who))
    except FileNotFoundError:
        abort(404)
    return Response(
        data, mimetype="application/pdf", headers={"Content-Disposition": f"inline; filename=quick-guide-{who}.pdf"}
    )
