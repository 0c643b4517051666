"""What the user pages say when a change of a person or a row of an imported CSV is refused.

Why a table of codes: kb.people and kb.users_import raise errors with a code and parameters (their
English message is the command line's); the pages say the same thing in the person's language, in
the plain words a coordinator would use on the shop floor.
"""

from __future__ import annotations

from flask_babel import lazy_gettext

from web.auth import role_label

GRANT_MESSAGES = {
    "not_manager": lazy_gettext("Only coordinators and administrators manage people."),
    "target_not_manageable": lazy_gettext("Only an administrator may change coordinators and administrators."),
    "role_not_allowed": lazy_gettext("Only an administrator may make someone a %(role)s."),
    "role_unknown": lazy_gettext("Choose a role."),
    "own_role": lazy_gettext("You cannot change your own role. Ask another administrator."),
    "last_admin_role": lazy_gettext(
        "The last administrator must stay an administrator. Make another administrator first."
    ),
    "organisation_unknown": lazy_gettext("There is no organisation %(name)s."),
    "organisation_disabled": lazy_gettext("The organisation %(name)s is disabled: nobody can be added or moved there."),
}

ROW_MESSAGES = {
    "login_missing": lazy_gettext("The login is missing."),
    "login_format": lazy_gettext("A login is 2 to 64 letters or digits (also . _ @ -), without spaces."),
    "login_taken": lazy_gettext("The login %(login)s is taken already."),
    "login_repeated": lazy_gettext("The login %(login)s is in the file twice (also on line %(line)s)."),
    "name_missing": lazy_gettext("The name is missing."),
    "name_long": lazy_gettext("A name may have at most %(n)s characters."),
    "meister_long": lazy_gettext("A meister name may have at most %(n)s characters."),
    "role_missing": lazy_gettext("The role is missing."),
    "role_unknown": lazy_gettext("Unknown role “%(role)s” (use 見習い, マイスター, コーディネーター or 管理者)."),
    "role_not_allowed": lazy_gettext("Only an administrator may make someone a %(role)s."),
    "organisation_unknown": lazy_gettext("There is no organisation %(name)s."),
    "organisation_disabled": lazy_gettext("The organisation %(name)s is disabled: nobody can be added or moved there."),
}

FILE_MESSAGES = {
    "file_missing": lazy_gettext("Choose a CSV file to import."),
    "file_empty": lazy_gettext("The file is empty."),
    "file_too_large": lazy_gettext("The file is too large (at most %(kb)s KB)."),
    "file_encoding": lazy_gettext("The file could not be read as text. In Excel, save it as “CSV UTF-8” or “CSV”."),
    "file_broken": lazy_gettext("The file is not a readable CSV file."),
    "columns_missing": lazy_gettext("The first row must name the columns. Missing: %(columns)s."),
    "no_rows": lazy_gettext("The file has a heading row but nobody under it."),
    "too_many_rows": lazy_gettext(
        "At most %(n)s people per file (this one has %(found)s). Split it into several files."
    ),
}

COLUMN_LABELS = {"login": lazy_gettext("Login"), "name": lazy_gettext("Name"), "role": lazy_gettext("Role")}


def _say(template, params: dict) -> str:
    params = dict(params)
    if "role" in params and params["role"] in ("apprentice", "meister", "coordinator", "admin"):
        params["role"] = role_label(params["role"])
    if "columns" in params:
        params["columns"] = "、".join(str(COLUMN_LABELS.get(c, c)) for c in params["columns"])
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):
        return str(template)


def grant_error(error) -> str:
    template = GRANT_MESSAGES.get(error.code)
    if template is None:
        from web.views.account import account_error

        return account_error(error)
    return _say(template, error.params)


def row_error(code: str, params: dict) -> str:
    return _say(ROW_MESSAGES.get(code, code), params)


def file_error(code: str, params: dict | None = None) -> str:
    return _say(FILE_MESSAGES.get(code, code), params or {})
