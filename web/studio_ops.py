"""What the studio does, shared by its pages (web.views.studio) and the upload API (web.views.api_studio).

Why one module: uploading through the browser and through the API must check the
same things, give the same messages and obey the same permissions, so both
call these functions.  None of them processes a file: an upload is checked and
queued (ingest.queue), and the worker does the rest; a new title is taken to
search by a queued job too (its passages are embedded with the title).
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import asdict, dataclass
from typing import Mapping

from flask import request
from flask_babel import gettext as _, lazy_gettext

from kb import recordings, transcripts, urls
from kb.access import Viewer, can_edit, can_view
from kb.errors import InputError, KBError
from kb.recordings import VISIBILITIES, RecordingMeta
from web import auth, uploads
from web.db import kb_config
from web.problems import refusal

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_TITLE_CHARS = 200
MAX_FIELD_CHARS = 80
MAX_TAGS = 20
MAX_GLOSSARY_TERMS = 30
LANGUAGES = ("ja", "en")
ACTIVE_STAGES = ("queued", "extracting", "transcribing", "embedding", "indexing")

STAGE_LABELS = {
    "queued": lazy_gettext("Waiting in line"),
    "extracting": lazy_gettext("Reading the file"),
    "transcribing": lazy_gettext("Transcribing speech"),
    "embedding": lazy_gettext("Making it searchable"),
    "indexing": lazy_gettext("Adding to the index"),
    "done": lazy_gettext("Ready"),
    "failed": lazy_gettext("Failed"),
}
VISIBILITY_LABELS = {
    "private": lazy_gettext("Only me and coordinators"),
    "organisation": lazy_gettext("Everyone in my organisation"),
    "shared": lazy_gettext("Everyone in the programme"),
}


# ---------------------------------------------------------------- what the studio shows


def manageable(conn, viewer: Viewer) -> list[dict]:
    """The recordings this viewer may change, newest first (can_edit decides, one recording at a time)."""
    return [r for r in reversed(recordings.list_all(conn)) if can_edit(viewer, r)]


def job_states(conn, ids) -> dict[int, dict]:
    from ingest import queue

    return queue.job_states(conn, list(ids)) if ids else {}


def row(rec: Mapping, state: Mapping | None, check: Mapping | None = None) -> dict:
    """One recording as the studio shows it: its details, its stage in words, percent, message, addresses."""
    state = dict(state or {})
    status, job_stage = rec["status"], state.get("stage")
    if status == "failed":
        stage = "failed"
    elif job_stage in ACTIVE_STAGES and state.get("active", True):
        stage = job_stage  # also a processed recording whose passages are being embedded again
    elif status == "done":
        stage = "done"
    else:
        stage = "queued"
    active = stage in ACTIVE_STAGES
    progress = 100 if stage == "done" else int(round(100 * float(state.get("progress") or 0)))
    error = (rec.get("error") or state.get("error") or "") if stage == "failed" else ""
    error_code = error_detail = None
    if error:  # in the reader's language and plain words; the English reason folded away (web.problems)
        from web.problems import job_problem

        said = job_problem(state, error)
        error, error_code, error_detail = said.message, said.code, said.detail
    message = (state.get("message") or "") if active else ""
    ahead = int(state.get("ahead") or 0) if stage == "queued" else 0
    if ahead:
        message = _("%(n)d ahead in line", n=ahead)
    elif message:
        message = _(message)  # the queue's messages are English source texts of the catalogue
    rid = int(rec["id"])
    return {
        "id": rid,
        "title": rec["title"],
        "kind": rec["kind"],
        "format": rec["format"],
        # the title is still the file's name (nobody typed one): marked for the meister to give it words
        "title_from_filename": bool(rec.get("title_from_filename")),
        "source_name": rec["source_name"],
        "meister": rec.get("meister"),
        "technique": rec.get("technique"),
        "tags": rec.get("tags") or [],
        "language": rec.get("language"),
        "visibility": rec.get("visibility"),
        "status": status,
        "stage": stage,
        "stage_label": str(STAGE_LABELS.get(stage, stage)),
        "progress": max(0, min(100, progress)),
        "message": message,
        "error": error,
        "error_code": error_code,
        "error_detail": error_detail,
        "active": active,
        "attempts": state.get("attempts"),
        "created_at": rec.get("created_at"),
        "updated_at": rec.get("updated_at"),
        "worker": state.get("worker") if active else None,  # a transcription worker on another machine
        "url": urls.recording(rid),
        "edit_url": f"/studio/r/{rid}/edit",
        "delete_url": f"/studio/r/{rid}/delete",
        "transcript_url": urls.transcript_editor(rid) if transcripts.correctable(rec) else None,
        "retry_url": f"/studio/r/{rid}/retry" if stage == "failed" else None,
        # media.speechcheck found far fewer characters than the speech holds (kb.speech_checks).
        "incomplete": bool(stage == "done" and check and check.get("incomplete")),
        "reprocess_url": f"/studio/r/{rid}/reprocess" if stage == "done" and rec["kind"] != "document" else None,
    }


def list_payload(conn, viewer: Viewer, page: int = 1) -> dict:
    """The studio list (one page of it), with each recording's live state."""
    recs = manageable(conn, viewer)
    pages = max(1, -(-len(recs) // PAGE_SIZE))
    page = max(1, min(page, pages))
    shown = recs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    states = job_states(conn, [r["id"] for r in shown])
    from kb import speech_checks

    checks = speech_checks.incomplete(conn, [r["id"] for r in shown])
    rows = [row(r, states.get(r["id"]), checks.get(r["id"])) for r in shown]
    return {
        "count": len(recs),
        "page": page,
        "pages": pages,
        "recordings": rows,
        "active": any(r["active"] for r in rows),
        "speech_models": speech_checks.models(kb_config()) if checks else [],
    }


def job_json(conn, recording_id: int) -> dict:
    """A recording's processing state for the API: stage, percent, message, error and addresses."""
    rec = recordings.get(conn, recording_id)
    r = row(rec, job_states(conn, [recording_id]).get(recording_id))
    return {
        "id": recording_id,
        **{
            k: r[k]
            for k in (
                "title",
                "title_from_filename",
                "status",
                "stage",
                "stage_label",
                "progress",
                "message",
                "error",
                "error_code",
                "error_detail",
                "active",
                "attempts",
                "worker",
            )
        },
        "urls": {
            "recording": r["url"],
            "job": f"/api/v1/recordings/{recording_id}/job",
            "retry": f"/api/v1/recordings/{recording_id}/retry",
            "studio": r["edit_url"],
        },
    }


# ---------------------------------------------------------------- details from a form


def clean_text(value: str | None, limit: int, what: str) -> str:
    """NFC, control characters out, spaces collapsed; InputError (one line) when too long."""
    text = unicodedata.normalize("NFC", value or "")
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    text = " ".join(text.split())
    if len(text) > limit:
        raise InputError(_("%(what)s may have at most %(n)d characters.", what=what, n=limit), code="too_long")
    return text


def split_terms(raw: str | None) -> list[str]:
    """Terms typed in one field, separated by commas (also 、，) or new lines; duplicates dropped."""
    text = (raw or "").replace("、", ",").replace("，", ",").replace("\n", ",")
    out: list[str] = []
    for part in text.split(","):
        part = " ".join(unicodedata.normalize("NFC", part).split())
        if part and part not in out:
            out.append(part)
    return out


@dataclass
class FormMeta:
    """Details typed in the upload or edit form, checked."""

    title: str
    technique: str
    tags: list[str]
    language: str | None
    visibility: str
    meister: str | None  # only coordinators and admins choose; None = keep / the uploader's own
    glossary: list[str]


def parse_meta(form: Mapping, viewer: Viewer, default_visibility: str = "organisation") -> FormMeta:
    """The details from a form (or API call); InputError with one clear message for a bad value."""
    title = clean_text(form.get("title"), MAX_TITLE_CHARS, _("The title"))
    technique = clean_text(form.get("technique"), MAX_FIELD_CHARS, _("The technique"))
    raw_tags = form.getlist("tags") if hasattr(form, "getlist") else [form.get("tags") or ""]
    tags = split_terms(",".join(t or "" for t in raw_tags))
    if len(tags) > MAX_TAGS:
        raise InputError(_("At most %(n)d tags.", n=MAX_TAGS), code="too_many_tags")
    for t in tags:
        clean_text(t, MAX_FIELD_CHARS, _("A tag"))
    language = (form.get("language") or "").strip() or None
    if language in ("auto",):
        language = None
    if language is not None and language not in LANGUAGES:
        raise InputError(_("Choose Japanese, English or automatic for the language."), code="invalid_language")
    visibility = (form.get("visibility") or default_visibility).strip()
    if visibility not in VISIBILITIES:
        raise InputError(_("Choose who may see the recording."), code="invalid_visibility")
    meister = None
    if viewer.at_least("coordinator"):
        meister = clean_text(form.get("meister"), MAX_FIELD_CHARS, _("The meister's name")) or None
    glossary = split_terms(form.get("glossary"))
    if len(glossary) > MAX_GLOSSARY_TERMS:
        raise InputError(
            _("At most %(n)d glossary terms at a time.", n=MAX_GLOSSARY_TERMS), code="too_many_glossary_terms"
        )
    for term in glossary:
        clean_text(term, MAX_FIELD_CHARS, _("A glossary term"))
    return FormMeta(title, technique, tags, language, visibility, meister, glossary)


def uploader_meister(viewer: Viewer) -> str | None:
    """The meister name a meister's own uploads carry: their linked meister row, else their display name.

    (kb.users links a meister user to a meister row when the account is made; a user
    without one still owns what they upload through owner_user_id.)"""
    if viewer.role != "meister":
        return None
    account = auth.current_account()
    if account is not None and account.meister:
        return account.meister
    return viewer.display_name or viewer.login


def recording_meta(fm: FormMeta, viewer: Viewer, title: str | None) -> RecordingMeta:
    return RecordingMeta(
        title=title or None,
        meister=fm.meister or uploader_meister(viewer),
        technique=fm.technique or None,
        tags=list(fm.tags),
        language=fm.language,
        visibility=fm.visibility,
        organisation_id=viewer.organisation_id,
        owner_user_id=viewer.user_id,
    )


def add_glossary_terms(conn, viewer: Viewer, terms: list[str]) -> None:
    """Terms typed at upload join the organisation's glossary (hotwords for later recordings, synonyms)."""
    from kb import glossary

    existing = set(glossary.hotwords_for(conn, viewer.organisation_id))
    for term in terms:
        if term not in existing:
            glossary.add(conn, term, organisation_id=viewer.organisation_id, user_id=viewer.user_id)


# ---------------------------------------------------------------- uploading


@dataclass
class UploadOutcome:
    """What became of one uploaded file."""

    name: str
    ok: bool
    status: str  # queued | exists | refused
    message: str = ""  # in the reader's language and plain words
    recording_id: int | None = None
    url: str | None = None
    job: dict | None = None
    code: str | None = None  # why it was refused, stable (web.problems)
    detail: str = ""  # the technical reason in English, folded away on the page

    def to_json(self) -> dict:
        return asdict(self)


def received_files(field: str = "file") -> list[uploads.Received]:
    home = kb_config().home
    out = []
    for storage in request.files.getlist(field):
        item = uploads.received(storage, home)
        if item is not None:
            out.append(item)
    return out


def submit_all(
    conn, viewer: Viewer, items: list[uploads.Received], fm: FormMeta, titles: list[str]
) -> list[UploadOutcome]:
    """Queue each file; a refused one gets its reason, and the others still go through."""
    from ingest import queue

    config = kb_config()
    hotwords = tuple(fm.glossary)
    outcomes = []
    for n, item in enumerate(items):
        title = titles[n] if len(titles) == len(items) else (fm.title if len(items) == 1 else "")
        meta = recording_meta(fm, viewer, title)
        try:
            sub = queue.submit_file(
                config, conn, item.path, item.source_name, meta, hotwords=hotwords, move=True, viewer=viewer
            )
        except KBError as e:
            said = refusal(e, item.source_name)
            outcomes.append(
                UploadOutcome(item.source_name, False, "refused", said.message, code=said.code, detail=said.detail)
            )
            continue
        except Exception as e:  # a bug must not lose the other files of the upload
            log.exception("upload of %s failed", item.source_name)
            message = _(
                "%(name)s: the server could not take this file because of a fault of its own. Try again "
                "later, or ask the administrator.",
                name=item.source_name,
            )
            # detail: the class only (its message may name server paths: the log has it)
            outcomes.append(
                UploadOutcome(item.source_name, False, "refused", message, code="server_error", detail=type(e).__name__)
            )
            continue
        finally:
            uploads.discard(item)
        outcomes.append(submitted_outcome(conn, viewer, item.source_name, sub))
    return outcomes


def submitted_outcome(conn, viewer: Viewer, name: str, sub) -> UploadOutcome:
    rid = int(sub.recording_id)
    rec = recordings.get(conn, rid)
    state = job_states(conn, [rid]).get(rid)
    if sub.status == "exists":
        if can_view(viewer, rec):
            message = _("This file is already in the knowledge base as “%(title)s”.", title=rec["title"])
            return UploadOutcome(name, True, "exists", message, rid, urls.recording(rid), _job_json(rid, rec, state))
        return UploadOutcome(name, True, "exists", _("This file is already in the knowledge base."))
    return UploadOutcome(
        name,
        True,
        "queued",
        _("Received. It will be processed in the background."),
        rid,
        urls.recording(rid),
        _job_json(rid, rec, state),
    )


def _job_json(rid: int, rec: Mapping, state: Mapping | None) -> dict:
    r = row(rec, state)
    return {
        k: r[k]
        for k in (
            "status",
            "stage",
            "stage_label",
            "progress",
            "message",
            "error",
            "error_code",
            "error_detail",
            "active",
        )
    }


def upload_titles(form: Mapping) -> list[str]:
    values = form.getlist("title") if hasattr(form, "getlist") else [form.get("title") or ""]
    return [clean_text(t, MAX_TITLE_CHARS, _("The title")) for t in values]


def handle_upload(conn, viewer: Viewer, form: Mapping, items: list[uploads.Received]) -> list[UploadOutcome]:
    """Check the details once, then queue every file; the glossary terms join the organisation's."""
    try:
        fm = parse_meta(form, viewer)
        titles = upload_titles(form)
    except InputError:
        for item in items:
            uploads.discard(item)
        raise
    if fm.glossary:
        add_glossary_terms(conn, viewer, fm.glossary)
    return submit_all(conn, viewer, items, fm, titles)


# ---------------------------------------------------------------- changing and deleting


def values_of(rec: Mapping) -> dict:
    """A recording's details as the edit form shows them."""
    return {
        "title": rec["title"],
        "technique": rec.get("technique") or "",
        "tags": ", ".join(rec.get("tags") or []),
        "language": rec.get("language") or "",
        "visibility": rec.get("visibility") or "organisation",
        "meister": rec.get("meister") or "",
    }


def save_meta(conn, viewer: Viewer, rec: Mapping, form: Mapping) -> list[str]:
    """Store the details that changed; returns their names.

    A new title of a processed recording also queues a job that embeds its passages
    again, because search reads the title with every passage (search.store); the
    recording stays searchable meanwhile, under its old title."""
    fm = parse_meta(form, viewer, default_visibility=rec.get("visibility") or "organisation")
    if not fm.title:
        raise InputError(_("The title must not be empty."), code="title_empty")
    fields: dict = {}
    if fm.title != rec["title"]:
        fields["title"] = fm.title
    elif rec.get("title_from_filename"):
        fields["title_from_filename"] = 0  # saved as it is: the meister has seen the title and keeps it
    if (fm.technique or None) != rec.get("technique"):
        fields["technique"] = fm.technique or None
    if fm.tags != (rec.get("tags") or []):
        fields["tags"] = fm.tags
    if fm.language is not None and fm.language != rec.get("language"):
        fields["language"] = fm.language  # "detect automatically" keeps what was detected
    if fm.visibility != rec.get("visibility"):
        fields["visibility"] = fm.visibility
    if viewer.at_least("coordinator") and "meister" in form and fm.meister != rec.get("meister"):
        fields["meister_id"] = recordings.meister_id(conn, fm.meister) if fm.meister else None
    if fields:
        with conn:
            recordings.update(conn, int(rec["id"]), **fields)
            if "title" in fields and rec["status"] == "done":
                queue_reembedding(conn, rec)
    return sorted(fields)


def queue_reembedding(conn, rec: Mapping) -> None:
    """A job that starts at the embedding stage (call inside a transaction).  Not when a job is still
    unfinished: that one embeds after this change, or has just done so (then edit the title again)."""
    from ingest import queue

    job = queue.latest_job(conn, int(rec["id"]))
    if job is not None and job["stage"] not in queue.FINISHED:
        return
    queue.insert_job(conn, int(rec["id"]), {"shown": rec["source_name"]}, completed_stage="transcribing")


def curricula_using(conn, recording_id: int) -> list[dict]:
    """The curricula that include this recording: [{"id", "title", "url"}], named before a delete.

    Deleting then keeps those items, flagged as removed (their recording_id becomes
    NULL: ON DELETE SET NULL in migration 008; kb.curricula explains the snapshot)."""
    from kb import curricula

    return [
        {"id": c["id"], "title": c["title"], "url": urls.curriculum(c["id"])}
        for c in curricula.curricula_using(conn, recording_id)
    ]


def delete_recording(recording_id: int) -> None:
    """Everything of a recording goes: its job (a worker still on it stops at its next step), original,
    browser copy, thumbnails, scratch files, transcript and its history, passages, and both indexes.

    Through the search store this process searches with (SearchService.write), so
    the next search no longer finds it and no second copy of the index is loaded;
    under the index write lock, so a worker cannot save its copy over the change
    (services.recordings: the same path as `kb delete`)."""
    from services import recordings as recording_ops
    from web.db import search_service

    search_service().write(lambda store: recording_ops.delete_locked(store, recording_id))
