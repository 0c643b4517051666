"""Running the programme: users (coordinators and admins) and organisations (admins).

Who may do what here: coordinators run the programme, so they see every user
and add, change (name, role, organisation), disable and reset apprentices and
meisters; only admins create or change coordinators and admins, and create
organisations (the rules of who may grant what: kb.people).  Many people at
once come from a CSV file (kb.users_import): checked and previewed first,
created together or not at all, with their first passwords on a sheet to print.  A new user (or a
reset one) gets a generated password shown once on the answering page, and
must choose their own at the first login.  Nobody can disable themselves or
the last admin, so the programme cannot lock itself out.  Coordinators also
record the day an apprentice left the programme (and undo a mistake): the
apprentice retention figure (kb.programme) counts it; the account is untouched.
"""

from __future__ import annotations

from flask import Blueprint, abort, make_response, redirect, request, url_for
from flask_babel import gettext as _

from kb import people, programme, users
from kb.access import Viewer
from kb.errors import InputError, NotFound
from web import http
from web.auth import current_viewer, role_label, role_required
from web.db import get_db
from web.views.account import account_error, no_store

bp = Blueprint("admin", __name__)


def manageable_roles(viewer: Viewer) -> tuple[str, ...]:
    return people.grantable_roles(viewer)


def backup_status() -> dict | None:
    """For admins: the last successful `kb backup` (time in Japan time) and whether it is overdue
    (none for backup_warn_days days); None for other roles.  Why here: the admin pages are where the
    person who keeps the PC running looks, and a knowledge base without a recent copy is one disk
    failure away from losing the meisters' work."""
    if not current_viewer().at_least("admin"):
        return None
    from kb import backup
    from web.db import kb_config

    conn = get_db()
    days = kb_config().get("backup_warn_days")
    info = backup.last_backup(conn)
    when = None
    if info:
        from datetime import datetime, timezone

        moment = datetime.strptime(info["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        when = moment.astimezone(programme.JAPAN).strftime("%Y-%m-%d %H:%M")
    return {"last": info, "when": when, "overdue": backup.backup_overdue(conn, days), "warn_days": days}


def _users_page(status: int = 200, **context):
    conn = get_db()
    viewer = current_viewer()
    accounts = users.list_accounts(conn)
    leavings = programme.leavings(conn)
    payload = {"users": [{**a.public(), **leavings.get(a.id, {"left_on": None, "left_note": ""})} for a in accounts]}
    if context.get("secret"):
        payload["secret"] = context["secret"]
    context["backup"] = backup_status()
    if context["backup"] is not None:
        payload["backup"] = context["backup"]
    context.setdefault("error", None)
    context.setdefault("done", request.args.get("done"))
    context["storage_low"] = _storage_low()
    if context["storage_low"]:
        payload["storage_low"] = context["storage_low"]
    return make_response(
        http.html_or_json(
            payload,
            "admin/users.html",
            status=status,
            accounts=accounts,
            roles=manageable_roles(viewer),
            leavings=leavings,
            organisations=[o for o in users.list_organisations(conn) if not o["disabled"]],
            **context,
        )
    )


def _storage_low() -> str | None:
    """The warning for the people who run the site when the disk is below its reserve (uploads are then
    refused and processing waits: issue 16, defect 5)."""
    from web.db import kb_config
    from web.uploads import StorageFull, check_space

    try:
        check_space(kb_config().home)
    except StorageFull as e:
        return e.description
    except OSError:
        return None
    return None


def _target(user_id: int) -> users.Account:
    """The user to change: 404 when there is none, 403 when the viewer's role may not manage theirs."""
    try:
        target = users.get_account(get_db(), user_id)
    except NotFound:
        abort(404, description=_("There is no such user."))
    if target.role not in manageable_roles(current_viewer()):
        abort(403, description=_("Only an administrator may change coordinators and administrators."))
    return target


@bp.get("/users", endpoint="users")
@role_required("coordinator")
def users_page():
    return _users_page()


@bp.post("/users", endpoint="create_user")
@role_required("coordinator")
def create_user():
    form = request.form
    role = form.get("role") or ""
    if role not in manageable_roles(current_viewer()):
        abort(403, description=_("Only an administrator may create coordinators and administrators."))
    password = users.generate_password()
    login = (form.get("login") or "").strip()
    try:
        organisation = int(form.get("organisation_id") or 1)
        users.create_user(
            get_db(),
            login,
            password,
            role,
            organisation_id=organisation,
            display_name=form.get("display_name") or None,
            meister=form.get("meister") or None,
            must_change_password=True,
        )
    except users.AccountInputError as e:
        return _users_page(400, error=account_error(e))
    except (ValueError, NotFound):
        return _users_page(400, error=_("Choose an organisation."))
    return no_store(_users_page(200, secret={"login": login, "password": password, "new": True}))


@bp.post("/users/<int:user_id>/disable", endpoint="disable_user")
@role_required("coordinator")
def disable_user(user_id: int):
    target = _target(user_id)
    if target.id == current_viewer().user_id:
        return _users_page(400, error=_("You cannot disable yourself."))
    try:
        users.set_disabled(get_db(), target.id, True)
    except users.AccountInputError as e:
        return _users_page(400, error=account_error(e))
    return redirect(url_for("admin.users", done="disabled"), code=303)


@bp.post("/users/<int:user_id>/enable", endpoint="enable_user")
@role_required("coordinator")
def enable_user(user_id: int):
    users.set_disabled(get_db(), _target(user_id).id, False)
    return redirect(url_for("admin.users", done="enabled"), code=303)


@bp.post("/users/<int:user_id>/password", endpoint="reset_password")
@role_required("coordinator")
def reset_password(user_id: int):
    target = _target(user_id)
    password = users.reset_password(get_db(), target.id)
    return no_store(_users_page(200, secret={"login": target.login, "password": password, "new": False}))


@bp.post("/users/<int:user_id>/leaving", endpoint="record_leaving")
@role_required("coordinator")
def record_leaving(user_id: int):
    """A coordinator records that an apprentice left the programme (for the retention figure, kb.programme);
    the account itself stays as it is (disable it separately if they should no longer log in)."""
    return _leaving(user_id, request.form.get("left_on") or "", request.form.get("note") or "")


@bp.post("/users/<int:user_id>/leaving/undo", endpoint="undo_leaving")
@role_required("coordinator")
def undo_leaving(user_id: int):
    return _leaving(user_id, None, "")


def _leaving(user_id: int, left_on: str | None, note: str):
    from web.programme_labels import error_message

    target = _target(user_id)
    if target.role != "apprentice":  # the retention figure counts apprentices
        return _users_page(400, error=_("Leaving is recorded for apprentices only."))
    if left_on is not None and not left_on.strip():
        return _users_page(400, error=_("Enter the date they left."))
    try:
        programme.record_leaving(get_db(), target.id, left_on, note)
    except InputError as e:
        return _users_page(400, error=error_message(e))
    done = "left" if left_on else "left_undone"
    return redirect(url_for("admin.users", done=done) + f"#user-{target.id}", code=303)


@bp.get("/organisations", endpoint="organisations")
@role_required("admin")
def organisations_page(status: int = 200, error: str | None = None):
    from web.db import kb_config

    payload = {
        "organisations": users.list_organisations(get_db()),
        "backup": backup_status(),
        "languages": list(users.ORGANISATION_LANGUAGES),
        "fallback_language": kb_config().get("fallback_language"),
    }
    return make_response(
        http.html_or_json(
            payload,
            "admin/organisations.html",
            status=status,
            error=error,
            done=request.args.get("done"),
            backup=payload["backup"],
        )
    )


@bp.post("/organisations", endpoint="create_organisation")
@role_required("admin")
def create_organisation():
    try:
        users.create_organisation(get_db(), request.form.get("name") or "")
    except users.AccountInputError as e:
        return organisations_page(400, account_error(e))
    return redirect(url_for("admin.organisations", done="created"), code=303)


@bp.post("/organisations/<int:organisation_id>/language", endpoint="organisation_language")
@role_required("admin")
def organisation_language(organisation_id: int):
    """The organisation's language for speech recognition (empty: the setting fallback_language)."""
    try:
        changed = users.set_organisation_language(get_db(), organisation_id, request.form.get("language") or "")
    except users.AccountInputError as e:
        return organisations_page(400, account_error(e))
    return redirect(
        url_for("admin.organisations", done="language" if changed else "unchanged")
        + f"#organisation-{organisation_id}",
        code=303,
    )


# ---------------------------------------------------------------- changing a person (kb.people)


def _edit_page(target: users.Account, status: int = 200, error: str | None = None, values: dict | None = None):
    viewer = current_viewer()
    conn = get_db()
    organisations = [
        o for o in users.list_organisations(conn) if not o["disabled"] or o["id"] == target.organisation_id
    ]
    roles = people.grantable_roles(viewer)
    if target.id == viewer.user_id:
        roles = (target.role,)  # nobody changes their own role
    values = values or {
        "display_name": target.display_name,
        "role": target.role,
        "organisation_id": target.organisation_id,
        "meister": target.meister or "",
    }
    payload = {"user": target.public(), "roles": list(roles), "error": error}
    return make_response(
        http.html_or_json(
            payload,
            "admin/edit_user.html",
            status=status,
            target=target,
            roles=roles,
            organisations=organisations,
            values=values,
            error=error,
        )
    )


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"], endpoint="edit_user")
@role_required("coordinator")
def edit_user(user_id: int):
    """Change a person's name, role and organisation (and a meister's name on recordings)."""
    from web.people_messages import grant_error

    target = _target(user_id)
    if request.method == "GET":
        return _edit_page(target)
    form = request.form
    values = {
        "display_name": form.get("display_name") or "",
        "role": form.get("role") or "",
        "organisation_id": form.get("organisation_id") or "",
        "meister": form.get("meister") or "",
    }
    try:
        organisation = int(values["organisation_id"])
    except ValueError:
        organisation = None
    try:
        changed = people.update_user(
            get_db(),
            current_viewer(),
            target.id,
            display_name=values["display_name"],
            role=values["role"],
            organisation=organisation,
            meister=values["meister"] or None,
        )
    except people.GrantRefused as e:
        if e.forbidden:
            abort(403, description=grant_error(e))
        return _edit_page(target, 400, grant_error(e), values)
    except users.AccountInputError as e:
        return _edit_page(target, 400, account_error(e), values)
    return redirect(url_for("admin.users", done="changed" if changed else "unchanged") + f"#user-{target.id}", code=303)


# ---------------------------------------------------------------- many people from a CSV file (kb.users_import)


def _import_page(status: int = 200, parsed=None, error: str | None = None):
    from web.people_messages import row_error

    rows = []
    if parsed is not None:
        for row in parsed.rows:
            rows.append({**row.public(), "messages": [row_error(code, params) for code, params in row.errors]})
    payload = {
        "rows": rows,
        "ok": bool(parsed and parsed.ok),
        "error": error,
        "errors": parsed.error_count if parsed else 0,
    }
    return make_response(
        http.html_or_json(
            payload,
            "admin/import_users.html",
            status=status,
            parsed=parsed,
            rows=rows,
            error=error,
            max_rows=_max_rows(),
            max_kb=_import_module().MAX_BYTES // 1024,
        )
    )


def _import_module():
    from kb import users_import

    return users_import


def _max_rows() -> int:
    from web.db import kb_config

    return kb_config().get("user_import_max_rows")


def _parse(raw):
    """(parsed, None) or (None, the file's error in the user's language)."""
    from web.people_messages import file_error

    users_import = _import_module()
    try:
        return users_import.parse(get_db(), raw, current_viewer(), max_rows=_max_rows()), None
    except users_import.ImportFileError as e:
        return None, file_error(e.code, e.params)


@bp.route("/users/import", methods=["GET", "POST"], endpoint="import_users")
@role_required("coordinator")
def import_users():
    """GET: the form.  POST a CSV file: the preview (every row, with its problems), and the button that
    creates them when there are none.  The size is checked before the file is decoded."""
    from web.people_messages import file_error

    if request.method == "GET":
        return _import_page()
    upload = request.files.get("file")
    limit = _import_module().MAX_BYTES
    raw = upload.read(limit + 1) if upload else b""
    if not raw:
        return _import_page(400, error=file_error("file_missing"))
    parsed, error = _parse(raw)
    if error:
        return _import_page(400, error=error)
    return _import_page(200 if parsed.ok else 400, parsed=parsed)


@bp.post("/users/import/confirm", endpoint="import_users_confirm")
@role_required("coordinator")
def import_users_confirm():
    """Create the previewed people (the file's text comes back from the preview and is checked again: a
    login taken meanwhile shows the preview with its problem, and nobody is created).  The answer is
    the sheet of first passwords, shown this once."""
    from web.people_messages import file_error

    text = request.form.get("csv") or ""
    if not text.strip():
        return _import_page(400, error=file_error("file_missing"))
    parsed, error = _parse(text)
    if error:
        return _import_page(400, error=error)
    if not parsed.ok:
        return _import_page(400, parsed=parsed)
    try:
        created = _import_module().create_all(get_db(), parsed)
    except users.AccountInputError:  # taken between the check and the transaction: check again, show why
        parsed, error = _parse(text)
        return _import_page(400, parsed=parsed, error=error)
    for person in created:
        person["role_label"] = str(role_label(person["role"]))
    payload = {"created": [{k: v for k, v in p.items() if k != "role_label"} for p in created]}
    return no_store(make_response(http.html_or_json(payload, "admin/import_sheet.html", created=created)))


@bp.get("/users/import/example.csv", endpoint="import_example")
@role_required("coordinator")
def import_example():
    """An example file to fill in, with the Japanese headings (UTF-8 with BOM for Excel)."""
    response = make_response(_import_module().template_csv())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="users-example.csv"'
    return response
