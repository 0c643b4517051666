"""How large a request body may be, decided before any of it is stored (issue 16, defect 4).

Why: 300 MB posted to ``/login`` with no session was written to the temporary
folder before the 403 came.  A request body is accepted only up to the small
``max_request_bytes`` (forms, JSON, a curriculum file) on every route, with one
exception: the upload routes (:data:`UPLOAD_PATHS`), and there only for a
logged-in meister, coordinator or admin (by session cookie or API token) who
does not have to change their password first.  Their files are then bounded per
file by ``max_upload_bytes`` and by the free space (web.uploads).

The decision is made twice, with the same rule:

- in waitress (``kb serve``), from the request line and headers, before the
  body is read: waitress buffers a whole body (to a temporary file) before the
  app sees it, so a parser of our own answers 413 at once instead
  (:func:`install_waitress`);
- in the Flask app, for any other WSGI server and the test client: the
  request's ``max_content_length`` (:class:`BodyLimitRequest`), which Werkzeug
  checks before it reads the body.

The CSRF token of a browser upload travels inside the multipart body, so it can
only be checked once the body is read; a forged cross-site upload cannot reach
this point with a session anyway (the session cookie is SameSite=Lax, so other
sites' forms arrive without it and get the small limit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie

from flask import Flask, g, request

UPLOAD_PATHS = re.compile(r"^/(?:studio/upload|studio/r/\d{1,18}/replace|api/v1/recordings)/?$")
UPLOAD_ENDPOINTS = frozenset(("studio.upload", "studio.replace", "api_studio.upload"))
UPLOAD_ROLE = "meister"


def small_limit(config) -> int:
    return max(1024, config.get("max_request_bytes"))


def large_limit(config) -> int | None:
    """An upload request: as many files as a form holds, each bounded by web.uploads (None: no total)."""
    return None


def _account_may_upload(account) -> bool:
    return (
        account is not None
        and not account.disabled
        and not account.must_change_password
        and account.viewer.at_least(UPLOAD_ROLE)
    )


def may_upload_from_headers(config, headers: Mapping[str, str]) -> bool:
    """From raw headers (waitress, before the app): a live token or session of an uploader."""
    from kb import db, users
    from web.auth import SESSION_COOKIE

    auth = (headers.get("AUTHORIZATION") or "").strip()
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    cookie_token = None
    try:
        cookie = SimpleCookie(headers.get("COOKIE") or "")
        if SESSION_COOKIE in cookie:
            cookie_token = cookie[SESSION_COOKIE].value
    except CookieError:
        cookie_token = None
    if not (scheme.lower() == "bearer" and token.startswith(users.TOKEN_PREFIX)) and not cookie_token:
        return False
    try:
        conn = db.connect(config.db_path, readonly=True)
    except Exception:  # noqa: BLE001 - no database to ask: the small limit
        return False
    try:
        if scheme.lower() == "bearer" and token.startswith(users.TOKEN_PREFIX):
            return _account_may_upload(users.peek_token(conn, token))
        session = users.peek_session(conn, cookie_token, users.Limits.from_config(config))
        return session is not None and _account_may_upload(session.account)
    except Exception:  # noqa: BLE001
        return False
    finally:
        conn.close()


def limit_for(config, method: str, path: str, headers: Mapping[str, str]) -> int | None:
    """The body limit of one request, from its method, path and headers (None: no total limit)."""
    if (
        method.upper() in ("POST", "PUT")
        and UPLOAD_PATHS.match(path or "")
        and may_upload_from_headers(config, headers)
    ):
        return large_limit(config)
    return small_limit(config)


# ---------------------------------------------------------------- in the Flask app


class BodyLimitRequest:
    """Request mix-in: ``max_content_length`` is the small limit unless this is an upload route and the
    viewer (already identified by web.auth, which runs before any form is read) may upload."""

    @property
    def max_content_length(self) -> int | None:  # type: ignore[override]
        from web.db import kb_config

        config = kb_config()
        endpoint = request.endpoint if request else None
        viewer_account = g.get("account")
        if endpoint in UPLOAD_ENDPOINTS and _account_may_upload(viewer_account):
            return large_limit(config)
        return small_limit(config)

    @max_content_length.setter
    def max_content_length(self, value) -> None:  # Flask may assign it; the rule above decides
        pass


def install(app: Flask) -> None:
    if not issubclass(app.request_class, BodyLimitRequest):
        app.request_class = type("BodyLimitedRequest", (BodyLimitRequest, app.request_class), {})


# ---------------------------------------------------------------- in waitress


def install_waitress(server, config) -> None:
    """Make a waitress server decide each body's limit from its headers, before reading the body."""
    import copy

    from waitress.channel import HTTPChannel
    from waitress.parser import HTTPRequestParser

    class LimitedParser(HTTPRequestParser):
        def parse_header(self, header_plus):
            super().parse_header(header_plus)
            limit = limit_for(config, self.command or "", self.path or "", self.headers)
            if limit is not None:
                adj = copy.copy(self.adj)
                # waitress refuses at content_length >= max_request_body_size
                adj.max_request_body_size = min(adj.max_request_body_size, limit + 1)
                self.adj = adj

    class LimitedChannel(HTTPChannel):
        parser_class = LimitedParser

    if hasattr(server, "channel_class"):  # one listening socket (what make_server creates)
        server.channel_class = LimitedChannel
    else:  # several: waitress keeps their servers in its socket map
        for s in list((getattr(server, "map", None) or {}).values()):
            if hasattr(s, "channel_class"):
                s.channel_class = LimitedChannel
