"""The one error path of the web app (datasette's ``handle_exception``): every refusal and error ends here.

Why one place: views used to carry their own helper that chose between JSON and HTML (six of them, and
they disagreed about /api/ addresses).  Now a view raises a typed exception -- :class:`Refused` with the
status, the sentence in the reader's language and a stable code; kb's ``NotFound``; :class:`BadRequest`;
Werkzeug's ``abort`` -- and :func:`handle_exception` decides the shape once: the API's one error shape
(web.http.json_error: ``{"error", "code", "status"}``) when the request is answered in JSON
(web.http.answers_json), else the status page.  Exceptions are told apart by their classes (isinstance),
never by their names.
"""

from __future__ import annotations

import sqlite3

from flask import Flask, current_app, render_template
from flask_babel import lazy_gettext
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from kb.errors import NotFound
from web import http

ERROR_PAGE = "errors/error.html"


class Refused(Exception):
    """Stop the request with ``message`` said plainly: ``status``, a stable ``code`` (None: the status's own,
    web.http.ERROR_CODES), an optional English ``detail`` (the technical reason, shown folded away), and the
    ``page`` that says it to browsers (default: the status page; the studio and the programme have their own
    with a way back).  ``headers`` go on the answer either way (WWW-Authenticate on a 401)."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        *,
        detail: str = "",
        page: str | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.detail = status, message, code, detail
        self.page, self.headers = page, headers or {}


class ApiRefused(Refused):
    """A refusal answered in JSON whatever the request asks: the caller is a program (an API or worker
    token), so there is no page to show."""


class BadRequest(ValueError):
    """A parameter the API cannot take; the message (in the reader's language) names it and says what is
    allowed, ``code`` is the stable word for programs (``invalid_kind``, ``invalid_mode``, ``invalid_limit``)."""

    def __init__(self, message: str, code: str = "bad_request"):
        super().__init__(message)
        self.code = code


BEARER = {"WWW-Authenticate": 'Bearer realm="takumi-kb"'}

# A plain sentence in the reader's language for an error that brought none of its own (Werkzeug's
# English default descriptions, kb's "no recording with id 5"), by status; any other status: _SERVER.
_STATUS_SENTENCES = {
    404: lazy_gettext("There is no page or recording at this address. It may have been deleted."),
    405: lazy_gettext("This address does not take this kind of request."),
    400: lazy_gettext("A value in the request is not valid."),
    401: lazy_gettext("Log in first."),
    403: lazy_gettext("You are not allowed to do this."),
    429: lazy_gettext("Too many requests at once. Wait a moment and try again."),
}
_SERVER = lazy_gettext("The server could not answer. Please try again.")


def status_sentence(status: int) -> str:
    return str(_STATUS_SENTENCES.get(status, _SERVER))


def respond(
    status: int,
    message: str,
    code: str | None = None,
    *,
    detail: str = "",
    page: str | None = None,
    headers: dict | None = None,
    json: bool | None = None,
):
    """JSON for scripts and /api/ (web.http.json_error: message in the caller's language, a stable code),
    the error page for browsers.  ``json``: force the choice (None: web.http.answers_json decides)."""
    if json is None:
        json = http.answers_json()
    if json:
        response = http.json_error(status, message, code, **({"detail": detail} if detail else {}))
    else:
        response = current_app.make_response(
            (render_template(page or ERROR_PAGE, status=status, message=message), status)
        )
    response.headers.update(headers or {})
    return response


def handle_exception(e: BaseException):
    """The answer to every exception the app answers itself (registered for each class in init_app)."""
    from flask_babel import gettext as _

    from kb.errors import is_disk_full
    from web.uploads import UploadTooLarge, storage_full_message

    if isinstance(e, Refused):
        return respond(
            e.status,
            e.message,
            e.code,
            detail=e.detail,
            page=e.page,
            headers=e.headers,
            json=True if isinstance(e, ApiRefused) else None,
        )
    if isinstance(e, NotFound):
        return respond(404, status_sentence(404), detail=str(e))
    if isinstance(e, BadRequest):
        return respond(400, str(e), e.code)
    if isinstance(e, UploadTooLarge):  # a file over the limit, wherever it was found: its name and the limit
        return respond(413, e.description, "file_too_large", page="studio/problem.html")
    if isinstance(e, RequestEntityTooLarge):  # a body over max_request_bytes (web.bodylimit), refused unread
        if e.description and e.description != RequestEntityTooLarge.description:
            return respond(413, e.description)
        return respond(
            413, _("The request is too large for this address (only uploads of logged-in meisters may be large).")
        )
    if isinstance(e, HTTPException):
        status = e.code or 500
        default = type(e).description  # Werkzeug's English words: said in the reader's language instead
        if not e.description or e.description == default:
            return respond(status, status_sentence(status))
        return respond(status, e.description)
    if isinstance(e, OverflowError):  # a number from a form or query too large for SQLite: nothing broke
        return respond(400, _("A number in the request is too large."))
    if isinstance(e, (OSError, sqlite3.OperationalError)) and is_disk_full(e):
        # A full disk (errno 28, SQLite's "database or disk is full") is the machine's passing state, not a
        # bug: 507 with words a person can act on, never a 500 (issue 16, defect 5).
        current_app.logger.error("disk full: %s", e)
        return respond(507, storage_full_message())
    raise e


HANDLED = (Refused, NotFound, BadRequest, HTTPException, OverflowError, OSError, sqlite3.OperationalError)


def init_app(app: Flask) -> None:
    for cls in HANDLED:
        app.register_error_handler(cls, handle_exception)
