"""Issue 14, items 11 and 12: changing people, the CSV import (admin.*), and moments kept for later (saved.*).

Who may grant what (kb.people, docs/accounts.md): coordinators change apprentices and meisters and
give those two roles; only admins change coordinators and admins or make them.  A saved moment is
its owner's: anyone else gets 404, like a missing one."""

from __future__ import annotations

from access_rules import EACH, LOGGED_IN, LOGIN, ROLE, VIEW, Rule

# The table's CSV files: one apprentice per request (fresh logins), and one admin (only admins make admins).
APPRENTICE_CSV = "ログイン,氏名,役割,所属\nt-csv-{unique},取込 {unique},見習い,本社\n"
ADMIN_CSV = "login,name,role\nt-boss-{unique},管理 {unique},管理者\n"


def _own_saved(ctx) -> dict:
    """A moment the asking person kept (on any processed recording; written directly)."""
    user = ctx.account.id if ctx.account is not None else None
    if user is None:  # anonymous: any person's, never reached (the login page answers first)
        user = ctx.conn.execute("SELECT id FROM users ORDER BY id LIMIT 1").fetchone()[0]
    rid = ctx.conn.execute("SELECT id FROM recordings WHERE status = 'done' ORDER BY id LIMIT 1").fetchone()[0]
    with ctx.conn:
        cur = ctx.conn.execute(
            "INSERT INTO saved_moments(user_id, recording_id, place) VALUES (?, ?, ?)", (user, rid, f"t:{ctx.unique}")
        )
    return {"saved": cur.lastrowid}


def _others_saved(ctx) -> dict:
    asker = ctx.account.id if ctx.account is not None else -1
    someone = ctx.conn.execute("SELECT id FROM users WHERE id != ? ORDER BY id LIMIT 1", (asker,)).fetchone()[0]
    rid = ctx.conn.execute("SELECT id FROM recordings WHERE status = 'done' ORDER BY id LIMIT 1").fetchone()[0]
    with ctx.conn:
        cur = ctx.conn.execute(
            "INSERT INTO saved_moments(user_id, recording_id, place) VALUES (?, ?, ?)",
            (someone, rid, f"t:{ctx.unique}"),
        )
    return {"saved": cur.lastrowid}


RULES = [
    # -- changing a person: name, role, organisation
    Rule("admin.edit_user", "GET", "/admin/users/{user}/edit", ROLE("coordinator")),
    Rule(
        "admin.edit_user",
        "GET",
        "/admin/users/{admin_user}/edit",
        EACH(anonymous=LOGIN, admin=200, default=403),
        note="only an admin changes admins",
    ),
    Rule(
        "admin.edit_user",
        "GET",
        "/admin/users/999999/edit",
        EACH(anonymous=LOGIN, coordinator=404, admin=404, default=403),
    ),
    Rule(
        "admin.edit_user",
        "POST",
        "/admin/users/{user}/edit",
        ROLE("coordinator", 303),
        data={"display_name": "変更 {unique}", "role": "meister", "organisation_id": "2"},
    ),
    Rule(
        "admin.edit_user",
        "POST",
        "/admin/users/{user}/edit",
        EACH(anonymous=LOGIN, admin=303, default=403),
        data={"display_name": "昇格 {unique}", "role": "coordinator", "organisation_id": "1"},
        note="a coordinator may not make a coordinator (or an admin)",
    ),
    Rule(
        "admin.edit_user",
        "POST",
        "/admin/users/{admin_user}/edit",
        EACH(anonymous=LOGIN, admin=303, default=403),
        data={"display_name": "降格 {unique}", "role": "apprentice", "organisation_id": "1"},
    ),
    Rule(
        "admin.edit_user",
        "POST",
        "/admin/users/{user}/edit",
        ROLE("coordinator", 400),
        data={"display_name": "", "role": "apprentice", "organisation_id": "1"},
        note="a name is needed",
    ),
    # -- many people from a CSV file
    Rule("admin.import_users", "GET", "/admin/users/import", ROLE("coordinator")),
    Rule(
        "admin.import_users",
        "POST",
        "/admin/users/import",
        ROLE("coordinator", 400),
        data={},
        note="no file chosen (tests/test_web_people.py sends real files)",
    ),
    Rule(
        "admin.import_users_confirm",
        "POST",
        "/admin/users/import/confirm",
        ROLE("coordinator", 200),
        data={"csv": APPRENTICE_CSV},
    ),
    Rule(
        "admin.import_users_confirm",
        "POST",
        "/admin/users/import/confirm",
        EACH(anonymous=LOGIN, coordinator=400, admin=200, default=403),
        data={"csv": ADMIN_CSV},
        note="the coordinator's preview lists the admin row as not allowed; nothing is created",
    ),
    Rule("admin.import_example", "GET", "/admin/users/import/example.csv", ROLE("coordinator")),
    # -- 後で見る
    Rule(
        "saved.add",
        "POST",
        "/r/{rec}/later",
        VIEW(303, pending=404),
        data={"t": "3"},
        note="only what one may see, and only processed recordings",
    ),
    Rule(
        "saved.add",
        "POST",
        "/r/{rec}/later",
        VIEW(400, pending=404),
        data={"t": "-1"},
        note="the recording is checked first, then the time",
    ),
    Rule("saved.remove", "POST", "/saved/{saved}/delete", LOGGED_IN(303), values=_own_saved),
    Rule(
        "saved.remove",
        "POST",
        "/saved/{saved}/delete",
        EACH(anonymous=LOGIN, default=404),
        values=_others_saved,
        note="someone else's saved moment is not said to exist",
    ),
]
