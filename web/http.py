"""HTTP details shared by every blueprint: content negotiation, security headers, safe redirects.

Why these headers: titles and transcripts come from uploaded files, so a page
must never run script that arrives in data.  Autoescaping does the main work;
the Content-Security-Policy is the second line (no inline script or style,
nothing from other origins), nosniff stops a transcript served as text from
being read as HTML, and frame-ancestors 'none' stops the pages being framed.
"""

from __future__ import annotations

from flask import Response, jsonify, render_template, request

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def wants_json() -> bool:
    """True when the client asks for JSON rather than HTML (Accept: application/json)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and (
        request.accept_mimetypes["application/json"] > request.accept_mimetypes["text/html"]
    )


def answers_json() -> bool:
    """True when this request is answered in JSON: it asks for JSON (wants_json), or it is an /api/ address
    (a script's, whatever its Accept says).  Errors and refusals choose their shape by this."""
    return wants_json() or request.path.startswith("/api/")


def is_partial() -> bool:
    """An htmx request for a fragment (not a history restore, which needs the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def html_or_json(payload: dict, template: str, status: int = 200, **context):
    """The page for browsers, the payload itself for `Accept: application/json`."""
    if wants_json():
        response = jsonify(payload)
        response.status_code = status
        return response
    return render_template(template, data=payload, **context), status


# The stable code of an API error that names no code of its own: one per HTTP status.
ERROR_CODES = {
    400: "bad_request",
    401: "login_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    429: "too_many_requests",
    500: "server_error",
    503: "unavailable",
    507: "storage_full",
}


def error_code(status: int) -> str:
    return ERROR_CODES.get(int(status), "error")


def json_error(status: int, message: str, code: str | None = None, **extra):
    """The API's one shape of an error: ``{"error": message, "code": code, "status": status, ...}``.

    ``error`` is a sentence in the caller's language (a person may read it), ``code`` a stable word a
    program can test (``empty_file``, ``invalid_kind``, ``not_found``), ``status`` the HTTP status."""
    response = jsonify({"error": message, "code": code or error_code(status), "status": status, **extra})
    response.status_code = status
    return response


def safe_next(target: str | None) -> str:
    """A local path to go back to, never another site (//evil, /\\evil, javascript:)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 32 for ch in target):
        return "/"
    return target


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype in ("text/html", "application/json"):
        response.vary.update(("Accept", "Accept-Language", "Cookie", "HX-Request"))
        response.headers.setdefault("Cache-Control", "no-cache")
    return response
