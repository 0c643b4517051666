"""Who is asking, and may they: login sessions, API tokens, CSRF, and the decorators views use.

The contract other modules build on:

- :func:`current_viewer` -> :class:`kb.access.Viewer` (``ANONYMOUS`` when not
  logged in), from the session cookie or from ``Authorization: Bearer <token>``;
- every route needs a logged-in user unless its view is marked :func:`public`
  (the login page, static files, the language switch): a browser is sent to
  ``/login?next=...``, JSON and ``/api/`` callers get 401;
- :func:`login_required` and :func:`role_required` (minimum role; too low -> 403);
- :func:`viewable_recording` / :func:`editable_recording`: the recording, or 404
  exactly like a missing id (or 403 when it may be seen but not changed);
- CSRF: every POST/PUT/PATCH/DELETE from a browser must carry the session's
  token (form field ``csrf_token`` or header ``X-CSRF-Token``; templates get it
  from the Jinja global ``csrf_token()``, scripts from ``<meta name="csrf-token">``).
  Token-authenticated API calls are exempt: a browser never adds that header
  by itself, so another site cannot forge one.  Before login, the login form
  uses a double-submit cookie (``kb_csrf``), so logins cannot be forged either.

Why server-side sessions (not signed cookies): logging out, changing a
password and disabling a user must end sessions at once, which needs a row to
delete; and the app then needs no secret key to keep.
"""

from __future__ import annotations

import functools
import hmac
import secrets

from flask import Flask, abort, current_app, g, make_response, redirect, request, url_for
from flask_babel import gettext

from kb import users
from kb.access import ANONYMOUS, Viewer, can_edit, visible_recording
from web import http
from web.errors import BEARER, ApiRefused, Refused

SESSION_COOKIE = "kb_session"
PRE_CSRF_COOKIE = "kb_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
PUBLIC_ENDPOINTS = frozenset(("static",))
# What an API token may never change: accounts (the admin pages), passwords and tokens.
TOKEN_FORBIDDEN_PREFIXES = ("admin.",)
TOKEN_FORBIDDEN_ENDPOINTS = frozenset(
    ("account.change_password", "account.create_token", "account.revoke_token", "account.login", "account.logout")
)
# What a user who must change their password may still reach (everything else sends them to /account).
PASSWORD_CHANGE_ENDPOINTS = frozenset(
    ("static", "account.account", "account.change_password", "account.logout", "search.switch_language")
)


def role_label(role: str | None) -> str:
    """A role's name in the interface language."""
    from flask_babel import lazy_gettext

    labels = {
        "apprentice": lazy_gettext("Apprentice"),
        "meister": lazy_gettext("Meister"),
        "coordinator": lazy_gettext("Coordinator"),
        "admin": lazy_gettext("Administrator"),
    }
    return str(labels.get(role or "", role or ""))


def public(view):
    """Mark a view as reachable without logging in (the login page, the language switch)."""
    view.kb_public = True
    return view


def init_app(app: Flask) -> None:
    app.before_request(_identify_and_guard)
    app.after_request(_set_pre_session_cookie)
    app.jinja_env.globals.update(
        csrf_token=csrf_token, current_viewer=current_viewer, current_account=current_account, role_label=role_label
    )


# ---------------------------------------------------------------- who is asking


def current_viewer() -> Viewer:
    return g.get("viewer", ANONYMOUS) if _in_request() else ANONYMOUS


def current_account() -> users.Account | None:
    return g.get("account") if _in_request() else None


def current_session() -> users.Session | None:
    return g.get("session") if _in_request() else None


def _in_request() -> bool:
    from flask import has_request_context

    return has_request_context()


def limits() -> users.Limits:
    cached = current_app.extensions.get("kb_limits")
    if cached is None:
        from web.db import kb_config

        cached = current_app.extensions["kb_limits"] = users.Limits.from_config(kb_config())
    return cached


def _identify_and_guard():
    """Before every request: find the viewer, then refuse what they may not do (login, CSRF)."""
    from web.db import get_db

    g.viewer, g.account, g.session, g.auth_via = ANONYMOUS, None, None, None
    if _worker_endpoint(request.endpoint):
        return _identify_worker(request.headers.get("Authorization"))
    # Only "Bearer tkb_..." is an API token; any other Authorization header (Basic from a login proxy in
    # front of the site, say) is not ours to judge, and the session cookie decides (issue 16, defect 7).
    scheme, _, token = (request.headers.get("Authorization") or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token.startswith(users.TOKEN_PREFIX):
        account = users.lookup_token(get_db(), token)
        if account is None:
            raise ApiRefused(
                401, gettext("The API token is not valid or has been revoked."), "invalid_token", headers=BEARER
            )
        g.account, g.viewer, g.auth_via = account, account.viewer, "token"
    else:
        token = request.cookies.get(SESSION_COOKIE)
        session = users.lookup_session(get_db(), token, limits()) if token else None
        if session is not None:
            g.session, g.account, g.viewer, g.auth_via = session, session.account, session.account.viewer, "session"

    endpoint = request.endpoint
    if endpoint is None:
        return None  # no such route: the 404 / 405 follows, and says nothing about anything else
    if not _is_public(endpoint) and not g.viewer.is_authenticated:
        return login_needed()
    if request.method in UNSAFE_METHODS and g.auth_via != "token" and not _csrf_ok():
        return _csrf_refused()
    account = g.account
    if g.auth_via == "token":
        return _token_guard(account, endpoint)
    if (
        account is not None
        and account.must_change_password
        and g.auth_via == "session"
        and endpoint not in PASSWORD_CHANGE_ENDPOINTS
    ):
        if http.answers_json():
            raise Refused(403, _change_password_first(), "password_change_required")
        return redirect(url_for("account.account", must_change=1))
    return None


def _worker_endpoint(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return bool(getattr(view, "kb_worker", False))


def _identify_worker(header: str | None):
    """The worker API (web/views/api_worker.py) takes a worker token and nothing else: no login, no person's
    token (and a worker token opens nothing else: kb.users.lookup_token refuses it)."""
    from kb import worker_tokens
    from web.db import get_db

    scheme, _, token = (header or "").partition(" ")
    worker = worker_tokens.lookup(get_db(), token.strip()) if scheme.lower() == "bearer" else None
    if worker is None:
        raise ApiRefused(
            401, "a worker token is needed (kb worker-token create NAME)", "worker_token_required", headers=BEARER
        )  # read by programs on other machines: English
    g.worker, g.auth_via = worker, "worker"
    return None


def _token_guard(account, endpoint: str):
    """What an API token may not do (issue 16, defect 13): anything while its user must change their
    password, and any change to accounts, passwords or tokens (those need a browser login)."""
    if account is not None and account.must_change_password:
        raise ApiRefused(403, _change_password_first(), "password_change_required")
    if request.method in UNSAFE_METHODS and (
        endpoint.startswith(TOKEN_FORBIDDEN_PREFIXES) or endpoint in TOKEN_FORBIDDEN_ENDPOINTS
    ):
        raise ApiRefused(
            403,
            gettext("API tokens cannot manage accounts, passwords or tokens. Log in with a browser."),
            "token_not_allowed",
        )
    return None


def _is_public(endpoint: str) -> bool:
    if endpoint in PUBLIC_ENDPOINTS:
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, "kb_public", False))


def _change_password_first() -> str:
    return gettext("Change your password first (on the account page, /account).")


def login_url() -> str:
    """The login page, with a way back to the page asked for (local paths only)."""
    target = request.full_path.rstrip("?") if request.method == "GET" else "/"
    target = http.safe_next(target)
    return url_for("account.login", next=target) if target != "/" else url_for("account.login")


def login_needed():
    """The answer to an anonymous request for a protected route: 401 for JSON/API, else the login page."""
    if http.answers_json():
        raise Refused(
            401,
            gettext("Log in first (or send an API token: Authorization: Bearer ...)."),
            "login_required",
            headers=BEARER,
        )
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 401)
        response.headers["HX-Redirect"] = login_url()
        return response
    return redirect(login_url(), code=302)


def login_required(view):
    """Only for logged-in users (every route is, unless marked public; this states it where it matters)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_viewer().is_authenticated:
            return login_needed()
        return view(*args, **kwargs)

    return wrapper


def role_required(role: str):
    """Only for users with ``role`` or above (apprentice < meister < coordinator < admin); 403 below."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            viewer = current_viewer()
            if not viewer.is_authenticated:
                return login_needed()
            if not viewer.at_least(role):
                from flask_babel import gettext as _

                abort(403, description=_("Your role does not allow this."))
            return view(*args, **kwargs)

        return wrapper

    return decorate


# ---------------------------------------------------------------- recordings


def viewable_recording(recording_id: int) -> dict:
    """The recording if the viewer may see it, else kb.errors.NotFound (404, same as a missing id)."""
    from web.db import get_db

    return visible_recording(get_db(), current_viewer(), recording_id)


def editable_recording(recording_id: int) -> dict:
    """The recording if the viewer may change it; 404 when they may not even see it, 403 when only see."""
    from flask_babel import gettext as _

    rec = viewable_recording(recording_id)
    if not can_edit(current_viewer(), rec):
        abort(403, description=_("Only the recording's meister and coordinators may change it."))
    return rec


# ---------------------------------------------------------------- CSRF


def csrf_token() -> str:
    """The token forms and scripts send back: the session's, or before login the double-submit cookie's."""
    session = current_session()
    if session is not None:
        return session.csrf_token
    token = g.get("pre_csrf")
    if token is None:
        token = request.cookies.get(PRE_CSRF_COOKIE) or ""
        if not (20 <= len(token) <= 100):
            token = secrets.token_urlsafe(32)
            g.set_pre_csrf = True
        g.pre_csrf = token
    return token


def _sent_csrf() -> str:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = request.form.get(CSRF_FIELD)
    return sent or ""


def _csrf_ok() -> bool:
    session = current_session()
    expected = session.csrf_token if session is not None else request.cookies.get(PRE_CSRF_COOKIE, "")
    sent = _sent_csrf()
    return bool(expected) and bool(sent) and hmac.compare_digest(expected.encode(), sent.encode())


def _csrf_refused():
    from flask_babel import gettext as _

    message = _("This form has expired or came from another site. Reload the page and try again.")
    raise Refused(403, message, "csrf")  # JSON for scripts and the API, the error page for browsers


def cookie_secure() -> bool:
    """Secure cookies: setting cookie_secure = 1 / 0, or 'auto' = when this request came over HTTPS."""
    from web.db import kb_config

    setting = kb_config().get("cookie_secure")  # True, False, or None for 'auto'
    return request.is_secure if setting is None else setting


def _set_pre_session_cookie(response):
    if g.get("set_pre_csrf") and current_session() is None:
        response.set_cookie(
            PRE_CSRF_COOKIE, g.pre_csrf, httponly=True, samesite="Lax", secure=cookie_secure(), path="/"
        )
    return response


# ---------------------------------------------------------------- logging in and out


def start_session(response, account: users.Account):
    """Log ``account`` in: a new session row, its token in the cookie, the pre-login cookie dropped."""
    from web.db import get_db

    token, session = users.create_session(get_db(), account.id, limits(), address=request.remote_addr)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(limits().max_seconds),
        httponly=True,
        samesite="Lax",
        secure=cookie_secure(),
        path="/",
    )
    response.delete_cookie(PRE_CSRF_COOKIE, path="/")
    g.session, g.account, g.viewer = session, account, account.viewer
    return response


def end_session(response):
    """Log out: the session row is deleted (the cookie alone is worth nothing afterwards)."""
    from web.db import get_db

    users.delete_session(get_db(), request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/")
    g.session, g.account, g.viewer = None, None, ANONYMOUS
    return response
