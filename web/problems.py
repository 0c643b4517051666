"""What went wrong with a file, in the reader's language (issue 16, defects 3, 5 and 16).

The worker records each failure twice: an English one-line reason (for the
command line, the log and anyone without a translation) and a stable code with
its values in the job (``ingest.worker.problem_of``: ``{"code": "damaged_pdf",
"params": {...}}``).  Pages show the code's sentence from the translations, so
a Japanese page says 「PDF が壊れています…」 rather than pypdf's "Declared size
999999 exceeds allowed limit of 68!".  A code this module does not know falls
back to the English reason: nothing is ever hidden.
"""
from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _


def _number(value) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def problem_message(code: str | None, params: Mapping | None = None) -> str | None:
    """The sentence for a problem code in the interface language; None for an unknown code."""
    p = dict(params or {})
    if code == "disk_full":
        return _("Not enough storage space: the file will be processed again once the administrator has "
                 "freed some space.")
    if code == "document_text_too_long":
        return _("The document holds more than %(limit)s characters of text, the limit of the setting "
                 "max_document_text_chars. Split it into smaller files.", limit=_number(p.get("limit")))
    if code == "page_text_too_long":
        return _("A page holds more than %(limit)s characters of text, the limit of the setting "
                 "max_page_text_chars. The file is probably damaged or generated.", limit=_number(p.get("limit")))
    if code == "document_expands_too_much":
        return _("The file expands to far more than it holds (more than %(limit)s bytes, the limit of the "
                 "setting max_document_expanded_bytes). It is not an ordinary document.",
                 limit=_number(p.get("limit")))
    if code == "damaged_docx":
        return _("The Word file is damaged and cannot be opened. Save it again in Word and add the new file.")
    if code == "damaged_pdf":
        return _("The PDF file is damaged: its internal structure cannot be read. Save or export it again "
                 "and add the new file.")
    if code == "damaged_media":
        return _("The video or audio file is damaged or cut short (for example an upload that stopped half "
                 "way), so nothing could be heard in it. Add the complete file again.")
    if code == "no_text":
        return _("No text could be taken from it: nothing was said or written in it.")
    return None


def job_error(state: Mapping | None, fallback: str) -> str:
    """A failed job's error for a page: the translated sentence of its problem code, else ``fallback``."""
    problem = (state or {}).get("problem") or {}
    if not isinstance(problem, Mapping):
        return fallback
    return problem_message(problem.get("code"), problem.get("params")) or fallback


def _catalogue_entries() -> None:  # pragma: no cover - never called: puts the queue's messages in the catalogue
    _("Not enough storage space; it will be tried again later")
