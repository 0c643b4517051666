"""Logging in and out, and the user's own account: change password, API tokens.

Why the forms look as they do: a wrong login and a wrong password get the same
answer (no hint which logins exist); too many failures get 429 and how long to
wait; a new API token is shown once, in the answer to the form that made it
(never stored in clear, never in an address), with ``Cache-Control: no-store``.
Token and password changes need a browser session: an API token cannot mint
more tokens or change the password.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext, ngettext

from kb import users
from web import auth, http
from web.db import get_db

bp = Blueprint("account", __name__)

ERROR_MESSAGES = {
    "password_short": lazy_gettext("The password needs at least %(n)s characters."),
    "password_long": lazy_gettext("The password may have at most %(n)s characters."),
    "password_is_login": lazy_gettext("The password must not be the same as the login."),
    "name_empty": lazy_gettext("Please fill in the name."),
    "name_long": lazy_gettext("A name may have at most %(n)s characters."),
    "organisation_exists": lazy_gettext("An organisation named %(name)s exists already."),
    "language_unknown": lazy_gettext("Choose a language from the list."),
    "login_format": lazy_gettext("A login is 2 to 64 letters or digits (also . _ @ -), without spaces."),
    "role_unknown": lazy_gettext("Choose a role."),
    "organisation_disabled": lazy_gettext("The organisation %(name)s is disabled."),
    "login_taken": lazy_gettext("The login %(login)s is taken."),
    "last_admin": lazy_gettext("The last admin cannot be disabled. Make another admin first."),
    "current_password_wrong": lazy_gettext("The current password is wrong."),
    "password_unchanged": lazy_gettext("The new password must differ from the current one."),
}


def account_error(error: users.AccountInputError) -> str:
    """The message for a refused account form, in the user's language."""
    template = ERROR_MESSAGES.get(error.code)
    return str(template) % error.params if template is not None else str(error)


def no_store(response):
    """Pages that show a secret once (a new token or password) are never cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- login and logout


@bp.route("/login", methods=["GET", "POST"])
@auth.public
def login():
    next_path = http.safe_next(request.values.get("next"))
    if request.method == "GET":
        if auth.current_viewer().is_authenticated:
            return redirect(next_path, code=303)
        return render_template(
            "account/login.html", next=next_path, login="", error=None, no_users=users.count_users(get_db()) == 0
        )
    login_name = (request.form.get("login") or "").strip()[:100]
    try:
        account = users.authenticate(
            get_db(), login_name, request.form.get("password") or "", request.remote_addr, auth.limits()
        )
    except users.RateLimited as e:
        error, status = (
            ngettext(
                "Too many failed attempts. Try again in %(num)d minute.",
                "Too many failed attempts. Try again in %(num)d minutes.",
                e.minutes,
            ),
            429,
        )
    except users.LoginRefused:
        error, status = _("The login or the password is wrong."), 401
    else:
        target = url_for("account.account", must_change=1) if account.must_change_password else next_path
        return auth.start_session(redirect(target, code=303), account)
    return render_template("account/login.html", next=next_path, login=login_name, error=error), status


@bp.post("/logout")
def logout():
    return auth.end_session(redirect(url_for("account.login"), code=303))


# ---------------------------------------------------------------- my account


def _page(status: int = 200, **context):
    account = auth.current_account()
    payload = {"user": account.public(), "tokens": users.list_tokens(get_db(), account.id)}
    if context.get("new_token"):
        payload["new_token"] = context["new_token"]
    context.setdefault("error", None)
    context.setdefault("done", request.args.get("done"))
    context.setdefault("must_change", account.must_change_password)
    context.setdefault("show_tokens", shows_tokens(account, payload["tokens"], context))
    return make_response(http.html_or_json(payload, "account/account.html", status=status, account=account, **context))


def shows_tokens(account, tokens: list, context: dict) -> bool:
    """Whether the page shows the API-token section.  Tokens are for programs (a shop-floor terminal, a
    curriculum tool), which meisters, coordinators and admins connect; an apprentice meets the section
    only when they already have a token or ask for it (?tokens=1, a link on the page), and nobody does on
    the first-login page, which is only about choosing a password."""
    if context.get("new_token") or tokens:
        return True
    if context.get("must_change"):
        return False
    return account.role != "apprentice" or request.args.get("tokens") == "1"


def _browser_session_only() -> None:
    if g.get("auth_via") != "session":
        abort(403, description=_("Passwords and API tokens are managed in the browser, after logging in."))


@bp.get("/account")
def account():
    return _page()


@bp.post("/account/password")
def change_password():
    _browser_session_only()
    account = auth.current_account()
    new = request.form.get("new_password") or ""
    if new != (request.form.get("confirm_password") or ""):
        return _page(400, error=_("The two new passwords are not the same."))
    try:
        users.change_password(
            get_db(),
            account.id,
            request.form.get("current_password") or "",
            new,
            keep_session_id=auth.current_session().id,
        )
    except users.AccountInputError as e:
        return _page(400, error=account_error(e))
    return redirect(url_for("account.account", done="password"), code=303)


@bp.post("/account/tokens")
def create_token():
    _browser_session_only()
    name = request.form.get("name") or ""
    try:
        _, clear = users.create_token(get_db(), auth.current_account().id, name)
    except users.AccountInputError as e:
        return _page(400, error=account_error(e), show_tokens=True)
    return no_store(_page(200, new_token=clear, done=None))


@bp.post("/account/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    _browser_session_only()
    if not users.revoke_token(get_db(), auth.current_account().id, token_id):
        abort(404, description=_("There is no such token."))
    return redirect(url_for("account.account", done="revoked"), code=303)
