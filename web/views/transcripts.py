"""The transcript editor: correct lines, merge and split them, name speakers; history of every earlier version.

Who: the recording's meister, coordinators and admins (kb.access.can_edit).
Anyone who cannot see the recording gets 404 (its existence stays hidden);
someone who can see it but not change it gets 403.  What: videos, sounds and
subtitle files (kb.transcripts.correctable); a written document is not a
transcript and has no editor (404: its text is corrected by uploading the
corrected file in the studio).

Hearing what is corrected: the page carries the recording's player beside the
lines (editor.js): a click on a line plays that line, Esc plays or pauses,
Alt+R plays the current line again from its start.  Times are shown and typed
as 01:05 (kb.timecodes.clock / parse_clock); each line's exact start and end
(hundredths of a second) travel in hidden fields, so a time nobody retyped is
saved exactly as it was.

How a save works: the page holds the lines (editor.js merges, splits and deletes
them in the browser) and sends the whole list with the version it started
from, as JSON (fetch with the X-CSRF-Token header) or, without script, as a
plain form post.  kb.transcripts validates it, keeps the previous version,
and only the moments whose text changed are embedded again, through the web
process's own search store (web.searching.SearchService.write), so the next
search and the subtitles show the correction at once.  A stale base version
is refused with 409 and the submitted lines are shown again, nothing lost.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext

from kb import access, recordings, transcripts, urls
from kb.errors import InputError, NotFound
from services import transcripts as saving
from web import data, http, mediafiles
from web.auth import current_viewer, editable_recording, login_required
from web.db import get_db, kb_config, search_service

bp = Blueprint("transcripts", __name__)

LINE_FIELDS = ("idx", "start", "end", "page", "speaker", "text")

ERROR_MESSAGES = {
    "stale": lazy_gettext(
        "Someone saved a newer version of this transcript (version %(current)s) while you were "
        "editing version %(base)s. Open the newest version, then make your change again."
    ),
    "not_text": lazy_gettext("A line's text must be text."),
    "not_a_list": lazy_gettext("The transcript must be a list of lines."),
    "bad_body": lazy_gettext("The request must be a JSON object with lines and base_version."),
    "empty": lazy_gettext("The transcript would be empty. Keep at least one line."),
    "too_many_lines": lazy_gettext("A transcript has at most %(n)s lines."),
    "not_a_line": lazy_gettext("Line %(line)s is not a line."),
    "line_empty": lazy_gettext("Line %(line)s is empty. Write its text or delete the line."),
    "line_long": lazy_gettext("Line %(line)s is longer than %(n)s characters."),
    "speaker_long": lazy_gettext("Line %(line)s: the speaker's name is longer than %(n)s characters."),
    "time_invalid": lazy_gettext("Line %(line)s: the start and end must be times such as 01:05 (minutes:seconds)."),
    "end_before_start": lazy_gettext("Line %(line)s must end after it starts."),
    "after_end": lazy_gettext("Line %(line)s ends after the recording does (%(seconds)s s)."),
    "out_of_order": lazy_gettext("Line %(line)s starts before the line above it. Keep the lines in time order."),
    "page_invalid": lazy_gettext("Line %(line)s: the page must be a whole number from 1."),
    "processing": lazy_gettext("This recording is still being processed; its transcript can be edited afterwards."),
    "no_base_version": lazy_gettext("The version the edit is based on is missing. Reload the editor."),
}


def error_message(error) -> str:
    """A refused edit's reason in the user's language (the English one for an unknown code)."""
    template = ERROR_MESSAGES.get(getattr(error, "code", None))
    return str(template) % getattr(error, "params", {}) if template is not None else str(error)


@bp.app_template_global()
def can_edit_transcript(recording_id) -> bool:
    """For the recording page: show the "Edit transcript" link only to those who may use it."""
    try:
        rec = recordings.get(get_db(), int(recording_id))
    except (NotFound, TypeError, ValueError):
        return False
    return rec["status"] == "done" and transcripts.correctable(rec) and access.can_edit(current_viewer(), rec)


@bp.app_template_filter()
def clock_field(value) -> str:
    """A line's time as the editor shows it (01:05); a value sent back that is not a number, as it was typed."""
    from kb.timecodes import clock

    if value in (None, ""):
        return ""
    try:
        return clock(float(value))
    except (TypeError, ValueError, OverflowError):
        return str(value)


def _recording(recording_id: int) -> dict:
    """The recording: 404 when the viewer may not see it, 403 when they may see but not edit it."""
    return editable_recording(recording_id)


def _transcribed(rec: dict) -> dict:
    """404 for a written document: it has no transcript to correct (kb.transcripts.correctable)."""
    if not transcripts.correctable(rec):
        from flask_babel import gettext as _

        abort(
            404,
            description=_(
                "A written document has no transcript to correct. To change its text, "
                "replace its file with the corrected one in the studio (Edit, then Replace the file)."
            ),
        )
    return rec


def _finished(rec: dict) -> dict:
    """409 while the recording is being processed: the pipeline is still writing its transcript."""
    if rec["status"] != "done":
        abort(409, description=str(ERROR_MESSAGES["processing"]))
    return rec


def _author() -> tuple[int | None, str | None]:
    viewer = current_viewer()
    return viewer.user_id, viewer.display_name or viewer.login


def _lines_payload(segments: list[dict]) -> list[dict]:
    return [
        {
            "idx": s.get("idx", n),
            "start": s.get("start"),
            "end": s.get("end"),
            "page": s.get("page"),
            "text": s.get("text", ""),
            "speaker": s.get("speaker"),
            "words": s.get("words"),
        }
        for n, s in enumerate(segments)
    ]


def _editor_payload(rec: dict, lines: list[dict] | None = None, version: int | None = None) -> dict:
    conn = get_db()
    segments = recordings.segments(conn, rec["id"])
    source = mediafiles.playable(kb_config(), rec)
    return {
        "recording": data.public(rec),
        "version": version or transcripts.current_version(conn, rec["id"]),
        "timed": transcripts.is_timed(segments),
        "duration": rec.get("duration"),
        "media": urls.media(rec["id"]) if source is not None else None,
        "media_type": source.mimetype if source is not None else None,
        "lines": lines if lines is not None else _lines_payload(segments),
        "save_url": url_for("transcripts.save", recording_id=rec["id"]),
        "history_url": url_for("transcripts.history", recording_id=rec["id"]),
    }


@bp.get("/r/<int:recording_id>/transcript/edit")
@login_required
def editor(recording_id: int):
    rec = _finished(_transcribed(_recording(recording_id)))
    payload = _editor_payload(rec)
    saved = request.args.get("saved", type=int)
    return http.html_or_json(
        payload, "transcripts/editor.html", saved=saved, reembedded=request.args.get("reembedded", type=int), error=None
    )


def _submitted() -> tuple[list, object, str | None]:
    """(lines, base version, note) from a JSON body or a form post (one value per line in each field list)."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise transcripts.TranscriptInputError(
                "bad_body", "the request body must be a JSON object with lines and base_version"
            )
        return body.get("lines"), body.get("base_version"), body.get("note")
    form = request.form
    columns = {name: form.getlist(name) for name in LINE_FIELDS}
    typed = {name: form.getlist(f"{name}_at") for name in ("start", "end")}
    count = len(columns["text"])
    lines = []
    for n in range(count):
        line = {name: (values[n] if n < len(values) else None) for name, values in columns.items()}
        for name, values in typed.items():
            if n < len(values):
                line[name] = _typed_time(line[name], values[n])
        lines.append({k: (None if v == "" and k != "text" else v) for k, v in line.items()})
    return lines, form.get("base_version"), form.get("note")


def _typed_time(exact, typed: str):
    """A line's time from a form post: the exact seconds it had while its shown time (01:05) is unchanged,
    else the time typed (parsed; kept as typed when it is not a time, for kb.transcripts to refuse)."""
    from kb.timecodes import clock, parse_clock

    typed = (typed or "").strip()
    if not typed:
        return exact
    try:
        if exact not in (None, "") and clock(float(exact)) == typed:
            return exact
    except ValueError:
        pass
    seconds = parse_clock(typed)
    return seconds if seconds is not None else typed


@bp.post("/r/<int:recording_id>/transcript")
@login_required
def save(recording_id: int):
    rec = _finished(_transcribed(_recording(recording_id)))
    lines, base, note = None, None, None
    try:
        lines, base, note = _submitted()
        user_id, author = _author()
        result = search_service().write(
            lambda store: saving.save(store, recording_id, lines, base, user_id=user_id, author=author, note=note)
        )
    except transcripts.StaleVersion as e:
        return _refused(rec, lines, base, e, 409)
    except InputError as e:
        return _refused(rec, lines, base, e, 400)
    target = url_for(
        "transcripts.editor", recording_id=recording_id, saved=result.version, reembedded=result.reembedded
    )
    if http.wants_json() or request.is_json:
        return {"ok": True, **result.to_json(), "editor_url": target, "recording_url": urls.recording(recording_id)}
    return redirect(target, code=303)


def _refused(rec: dict, lines, base, error: Exception, status: int):
    """The error, and for a browser the editor again with the lines as submitted (nothing typed is lost)."""
    message = error_message(error)
    if http.wants_json() or request.is_json:
        return {
            "ok": False,
            "error": message,
            "code": getattr(error, "code", None),
            "status": status,
            "current_version": transcripts.current_version(get_db(), rec["id"]),
        }, status
    shown = lines if isinstance(lines, list) and all(isinstance(x, dict) for x in lines) else None
    try:
        version = int(base)
    except (TypeError, ValueError):
        version = None
    payload = _editor_payload(rec, shown, version)
    return render_template(
        "transcripts/editor.html",
        data=payload,
        saved=None,
        reembedded=None,
        error=message,
        error_code=getattr(error, "code", None),
        stale=status == 409,
    ), status


@bp.get("/r/<int:recording_id>/transcript/history")
@login_required
def history(recording_id: int):
    rec = _recording(recording_id)
    conn = get_db()
    payload = {
        "recording": data.public(rec),
        "version": transcripts.current_version(conn, recording_id),
        "versions": transcripts.history(conn, recording_id),
    }
    return http.html_or_json(payload, "transcripts/history.html")


@bp.get("/r/<int:recording_id>/transcript/versions/<int:version>")
@login_required
def version(recording_id: int, version: int):
    rec = _recording(recording_id)
    conn = get_db()
    current = transcripts.current_version(conn, recording_id)
    segments = transcripts.version_segments(conn, recording_id, version)
    payload = {
        "recording": data.public(rec),
        "version": version,
        "current_version": current,
        "lines": _lines_payload(segments),
    }
    return http.html_or_json(payload, "transcripts/version.html")


@bp.post("/r/<int:recording_id>/transcript/versions/<int:version>/restore")
@login_required
def restore(recording_id: int, version: int):
    rec = _finished(_transcribed(_recording(recording_id)))
    body = request.get_json(silent=True) if request.is_json else request.form
    base = (body or {}).get("base_version")
    user_id, author = _author()
    try:
        result = search_service().write(
            lambda store: saving.restore(store, recording_id, version, base, user_id=user_id, author=author)
        )
    except (transcripts.StaleVersion, InputError) as e:
        status = 409 if isinstance(e, transcripts.StaleVersion) else 400
        if http.wants_json() or request.is_json:
            return {"ok": False, "error": error_message(e), "code": e.code, "status": status}, status
        abort(status, description=error_message(e))
    target = url_for("transcripts.editor", recording_id=rec["id"], saved=result.version, reembedded=result.reembedded)
    if http.wants_json() or request.is_json:
        return {"ok": True, **result.to_json(), "editor_url": target}
    return redirect(target, code=303)
