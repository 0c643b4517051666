"""HTTP details shared by every blueprint: content negotiation, security headers, safe redirects.

Why these headers: titles and transcripts come from uploaded files, so a page
must never run script that arrives in data.  Autoescaping does the main work;
the Content-Security-Policy is the second line (no inline script or style,
nothing from other origins), nosniff stops a transcript served as text from
being read as HTML, and frame-ancestors 'none' stops the pages being framed.
"""
from __future__ import annotations

from flask import Response, jsonify, render_template, request

CSP = "; ".join((
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
))


def wants_json() -> bool:
    """True when the client asks for JSON rather than HTML (Accept: application/json)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and (
        request.accept_mimetypes["application/json"] > request.accept_mimetypes["text/html"])


def is_partial() -> bool:
    """An htmx request for a fragment (not a history restore, which needs the whole page)."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def html_or_json(payload: dict, template: str, status: int = 200, **context):
    """The page for browsers, the payload itself for `Accept: application/json`."""
    if wants_json():
        response = jsonify(payload)
        response.status_code = status
        return response
    return render_template(template, data=payload, **context), status


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
