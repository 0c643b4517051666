"""What went wrong with a file, in the reader's language and in plain words (issue 16, defects 3, 5 and 16;
issue 14, item 1).

Every refusal and failure is recorded twice: an English one-line reason (for the
command line, the log, and as the technical detail) and a stable code with its
values (``InputError``/``MediaError``/``DocumentError`` ``.code``; a failed job
keeps it as ``{"code": "damaged_pdf", "params": {...}}``, ``ingest.worker.problem_of``).
Pages and the API say the code's sentence from the translations, so a Japanese
page reads 「動画が途中で切れているか、壊れています…」 rather than ffmpeg's "moov atom
not found; Invalid data found when processing input"; the English reason stays
beside it, folded away (``<details>``) for whoever has to look further.  A
failure without a code says that the file could not be processed, with the
reason as its detail: no English sentence is ever the main text of a Japanese
page, and nothing is ever hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _

GENERIC = "processing_failed"  # the code of a failure nobody named


def _number(value) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def _size(value) -> str:
    from web.uploads import human_size

    try:
        return human_size(int(value))
    except (TypeError, ValueError):
        return str(value)


def _text_not_media(expected: str | None) -> str:
    if expected == "video":
        return _("The file is named like a video, but it holds text, not a video. Choose the video file itself.")
    if expected == "audio":
        return _(
            "The file is named like a sound recording, but it holds text, not sound. Choose the sound file itself."
        )
    if expected == "pdf":
        return _("The file is named like a PDF, but it holds plain text. Save it as PDF again, or name it .txt.")
    if expected == "docx":
        return _("The file is named like a Word file, but it holds plain text. Save it in Word again, or name it .txt.")
    return _("The file's name does not match what it holds (text). Choose the right file.")


def problem_message(code: str | None, params: Mapping | None = None) -> str | None:
    """The sentence for a problem code in the interface language; None for an unknown code."""
    p = dict(params or {})
    sentences = {
        # -- refused when added (ingest.queue.check_file, ingest.detect.refusal_code)
        "file_missing": lambda: _("The file did not arrive. Choose it again."),
        "empty_file": lambda: _(
            "The file is empty: nothing is in it. Copy it from the camera or phone again and add the copy."
        ),
        "file_too_large": lambda: _(
            "The file is larger than the upload limit of %(limit)s.", limit=_size(p.get("limit"))
        ),
        "unreadable": lambda: _("The file could not be read. Copy it again and add the copy."),
        "text_not_media": lambda: _text_not_media(p.get("expected")),
        "playlist": lambda: _(
            "This is a playlist (a list of other files), not a recording. Add the video or sound files themselves."
        ),
        "image": lambda: _(
            "This is a picture, not a recording or a document. Add a video, a sound recording or a document."
        ),
        "archive": lambda: _(
            "This is a compressed folder (such as a zip file). Unpack it and add the files that are in it."
        ),
        "program": lambda: _("This is a program, not a recording or a document. It cannot be added."),
        "office_format": lambda: _(
            "This kind of Office file cannot be read. Save it as a Word file (.docx) or as PDF and add that."
        ),
        "unsupported_content": lambda: _(
            "This kind of file cannot be used. Add a video, a sound recording, a PDF, a Word file or a text file."
        ),
        "no_streams": lambda: _("There is neither picture nor sound in this file. Add the recording itself."),
        "already_recording": lambda: _(
            "This file is already in the knowledge base (recording %(id)s).", id=p.get("id")
        ),
        "original_missing": lambda: _("The original file is no longer kept. Upload the file again."),
        # -- found while processing (ingest.stages, media, ingest.documents)
        "damaged_media": lambda: _(
            "The video or sound file is cut short or damaged (for example a recording "
            "or a copy that stopped half way). Record it again, or upload the original "
            "file again."
        ),
        "no_audio": lambda: _(
            "This video has no sound, so there is nothing to write down. Add a video with "
            "sound, or its subtitle file beside it."
        ),
        "no_video": lambda: _("The file has no picture."),
        "no_subtitle_cues": lambda: _("The subtitle file holds no subtitles. Check that it is an SRT or WebVTT file."),
        "media_timeout": lambda: _(
            "Reading the file took too long and was stopped. The file may be damaged: "
            "try again, or ask the administrator."
        ),
        "ffmpeg_missing": lambda: _(
            "The program that reads videos (ffmpeg) is missing on the server. Ask the administrator."
        ),
        "speech_model": lambda: _("The speech recognition could not start on the server. Ask the administrator."),
        "disk_full": lambda: _(
            "Not enough storage space: the file will be processed again once the administrator has freed some space."
        ),
        "document_text_too_long": lambda: _(
            "The document holds more than %(limit)s characters of text, the limit of the setting "
            "max_document_text_chars. Split it into smaller files.",
            limit=_number(p.get("limit")),
        ),
        "page_text_too_long": lambda: _(
            "A page holds more than %(limit)s characters of text, the limit of the setting "
            "max_page_text_chars. The file is probably damaged or generated.",
            limit=_number(p.get("limit")),
        ),
        "document_expands_too_much": lambda: _(
            "The file expands to far more than it holds (more than %(limit)s bytes, the limit of the "
            "setting max_document_expanded_bytes). It is not an ordinary document.",
            limit=_number(p.get("limit")),
        ),
        "damaged_docx": lambda: _(
            "The Word file is damaged and cannot be opened. Save it again in Word and add the new file."
        ),
        "damaged_pdf": lambda: _(
            "The PDF file is damaged: its internal structure cannot be read. Save or "
            "export it again and add the new file."
        ),
        "encrypted_pdf": lambda: _(
            "The PDF is protected by a password. Save a copy without the protection and add that."
        ),
        "scanned_pdf": lambda: _(
            "The PDF holds only pictures of pages (scanned), no text. Run text "
            "recognition (OCR) on it first, or add a PDF with text."
        ),
        "unreadable_text": lambda: _(
            "The text could not be read (unknown character encoding). Save it again as UTF-8 and add it."
        ),
        "no_text": lambda: _("No text could be taken from it: nothing was said or written in it."),
        GENERIC: lambda: _(
            "The file could not be processed. The details say why; if they do not help, ask the administrator."
        ),
    }
    sentence = sentences.get(code or "")
    return sentence() if sentence else None


@dataclass
class Said:
    """A problem as a person reads it: the plain sentence, the English technical detail, the stable code."""

    code: str
    message: str
    detail: str


def refusal(e: BaseException, name: str | None = None) -> Said:
    """An error raised while a file was taken (ingest.queue) as the pages and the API say it:
    ``<name>: <sentence>`` in the reader's language, the English reason as detail, and its code.

    An error without a code (a typed value, already in the reader's language) is said as it is."""
    code = getattr(e, "code", None)
    params = dict(getattr(e, "params", None) or {})
    detail = str(params.get("detail") or getattr(e, "reason", None) or e)
    sentence = problem_message(code, params) if isinstance(code, str) else None
    if sentence is None:
        return Said(code if isinstance(code, str) and code else "invalid_input", str(e), "")
    name = name or params.get("name")
    return Said(code, f"{name}: {sentence}" if name else sentence, detail)


def job_problem(state: Mapping | None, fallback: str) -> Said:
    """A failed job's problem for a page: the sentence of its code (or the generic one) with ``fallback``
    (the English reason the worker recorded) as the detail."""
    problem = (state or {}).get("problem") or {}
    if not isinstance(problem, Mapping):
        problem = {}
    code = problem.get("code") if isinstance(problem.get("code"), str) else None
    sentence = problem_message(code, problem.get("params")) if code else None
    if sentence is None:
        code, sentence = GENERIC, problem_message(GENERIC)
    return Said(code, sentence, fallback)


def job_error(state: Mapping | None, fallback: str) -> str:
    """A failed job's error for a page: the translated sentence of its problem code, else the generic one."""
    return job_problem(state, fallback).message


def _catalogue_entries() -> None:  # pragma: no cover - never called: puts the job messages in the catalogue
    # ingest.queue and ingest.stages write these English source texts into a job's message; the studio,
    # the job API and the edit page say them through the catalogue (web.studio_ops.row).
    _("Not enough storage space; it will be tried again later")
    _("Not enough storage space")
    _("Waiting for a worker")
    _("Interrupted; continues from the last saved step")
    _("Paused; continues from the last saved step")
    _("A problem occurred; it will be tried again shortly")
    _("Reading the file")
    _("Reading the text")
    _("Extracting the audio")
    _("Making a copy that browsers can play")
    _("Recognising speech")
    _("Preparing the passages for search")
    _("Updating the search index")
    _("Done")
    _("Done, but the transcript looks incomplete")
