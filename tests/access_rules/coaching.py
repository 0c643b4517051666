"""Access rules of the coaching sessions (web/views/coaching.py), written by hand from docs/coaching.md:

- every coaching address is for meisters, coordinators and admins: apprentices (of either
  organisation) get 403, anonymous visitors the login page (401 under /api/);
- the table's meister is 田中 一郎 of 本社.  He sees, logs and changes his own sessions; he
  changes or deletes one only while it waits for confirmation (403 once confirmed); another
  meister's session (中村 誠's) answers him 404, like a missing id; he never confirms (403);
- coordinators and admins see, log, change, delete and confirm every session.

Each request gets its own new session (values=...), so no rule depends on another.
"""

from access_rules import EACH, LOGIN, ROLE, Rule

JSON = {"Accept": "application/json"}


def _meister(conn, name: str) -> int:
    return conn.execute("SELECT id FROM meisters WHERE name = ?", (name,)).fetchone()[0]


def _log(ctx, login: str, meister: str) -> dict:
    """A new session for ``meister`` logged by the account ``login`` (a coordinator's is confirmed at once)."""
    from kb import coaching, users

    actor = users.find_account(ctx.conn, login)
    mid = _meister(ctx.conn, meister)
    sid = coaching.log_session(
        ctx.conn,
        actor,
        held_on="2025-06-10",
        meister_id=mid,
        organisation_id=1,
        hours=1.5,
        technique="旋盤 {}".format(ctx.unique),
    )
    return {
        "sid": sid,
        "meister": mid,
        "tanaka": _meister(ctx.conn, "田中 一郎"),
        "nakamura": _meister(ctx.conn, "中村 誠"),
    }


def own_waiting(ctx) -> dict:
    """田中's session, logged by himself: waiting for confirmation."""
    return _log(ctx, "meister", "田中 一郎")


def own_confirmed(ctx) -> dict:
    """田中's session, logged (and so confirmed) by the coordinator."""
    return _log(ctx, "coordinator", "田中 一郎")


def others(ctx) -> dict:
    """中村's session (第二工場's meister), logged by himself: waiting for confirmation."""
    return _log(ctx, "meister2", "中村 誠")


def meister_ids(ctx) -> dict:
    return {"tanaka": _meister(ctx.conn, "田中 一郎"), "nakamura": _meister(ctx.conn, "中村 誠")}


def COORDINATORS(ok: int, meister: int):
    """Coordinators and admins ``ok``; the table's meister ``meister``; apprentices 403; anonymous LOGIN."""
    return EACH(anonymous=LOGIN, apprentice=403, other=403, meister=meister, coordinator=ok, admin=ok)


MEISTERS = ROLE("meister")
FORM = {
    "held_on": "2025-06-11",
    "organisation_id": "1",
    "hours": "2",
    "technique": "溶接 {unique}",
    "meister_id": "{meister}",
}
NEW_OWN = {
    "held_on": "2025-06-11",
    "organisation_id": "1",
    "hours": "1",
    "technique": "旋盤 {unique}",
    "meister_id": "{tanaka}",
}
NEW_OTHER = dict(NEW_OWN, meister_id="{nakamura}")

RULES = [
    # -- the list and the form
    Rule("coaching.index", "GET", "/coaching", MEISTERS),
    Rule("coaching.index", "GET", "/coaching?fy=all&status=waiting&org=2", MEISTERS),
    Rule("coaching.index", "GET", "/coaching?fy=abc", ROLE("meister", 400), note="a filter that is no year"),
    Rule("coaching.new", "GET", "/coaching/new", MEISTERS),
    Rule(
        "coaching.new",
        "POST",
        "/coaching/new",
        ROLE("meister", 303),
        values=meister_ids,
        data=NEW_OWN,
        note="the meister logs his own; coordinators log for anyone",
    ),
    Rule(
        "coaching.new",
        "POST",
        "/coaching/new",
        COORDINATORS(303, meister=403),
        values=meister_ids,
        data=NEW_OTHER,
        note="a meister logging for another meister: 403",
    ),
    Rule(
        "coaching.new",
        "POST",
        "/coaching/new",
        ROLE("meister", 400),
        values=meister_ids,
        data=dict(NEW_OWN, hours="0"),
        note="0 hours: the form again with the message",
    ),
    # -- one session
    Rule("coaching.detail", "GET", "/coaching/{sid}", MEISTERS, values=own_waiting),
    Rule(
        "coaching.detail",
        "GET",
        "/coaching/{sid}",
        COORDINATORS(200, meister=404),
        values=others,
        note="another meister's session: 404 like a missing one",
    ),
    Rule("coaching.detail", "GET", "/coaching/999999", COORDINATORS(404, meister=404)),
    Rule("coaching.edit", "GET", "/coaching/{sid}/edit", MEISTERS, values=own_waiting),
    Rule(
        "coaching.edit",
        "GET",
        "/coaching/{sid}/edit",
        COORDINATORS(200, meister=403),
        values=own_confirmed,
        note="his own, but confirmed: only coordinators change it",
    ),
    Rule("coaching.edit", "GET", "/coaching/{sid}/edit", COORDINATORS(200, meister=404), values=others),
    Rule("coaching.edit", "POST", "/coaching/{sid}/edit", ROLE("meister", 303), values=own_waiting, data=FORM),
    Rule(
        "coaching.edit", "POST", "/coaching/{sid}/edit", COORDINATORS(303, meister=403), values=own_confirmed, data=FORM
    ),
    Rule("coaching.edit", "POST", "/coaching/{sid}/edit", COORDINATORS(303, meister=404), values=others, data=FORM),
    Rule("coaching.delete", "POST", "/coaching/{sid}/delete", ROLE("meister", 303), values=own_waiting),
    Rule("coaching.delete", "POST", "/coaching/{sid}/delete", COORDINATORS(303, meister=403), values=own_confirmed),
    Rule("coaching.delete", "POST", "/coaching/{sid}/delete", COORDINATORS(303, meister=404), values=others),
    Rule(
        "coaching.confirm",
        "POST",
        "/coaching/{sid}/confirm",
        COORDINATORS(303, meister=403),
        values=own_waiting,
        note="confirming is for coordinators, even of the meister's own session",
    ),
    Rule("coaching.confirm", "POST", "/coaching/{sid}/confirm", COORDINATORS(303, meister=404), values=others),
    # -- the JSON API (same rules; form fields or a JSON body)
    Rule("coaching.api_list", "GET", "/api/v1/coaching", MEISTERS),
    Rule("coaching.api_create", "POST", "/api/v1/coaching", ROLE("meister", 201), values=meister_ids, data=NEW_OWN),
    Rule(
        "coaching.api_create",
        "POST",
        "/api/v1/coaching",
        COORDINATORS(201, meister=403),
        values=meister_ids,
        data=NEW_OTHER,
    ),
    Rule("coaching.api_detail", "GET", "/api/v1/coaching/{sid}", MEISTERS, values=own_waiting),
    Rule("coaching.api_detail", "GET", "/api/v1/coaching/{sid}", COORDINATORS(200, meister=404), values=others),
    Rule(
        "coaching.api_confirm",
        "POST",
        "/api/v1/coaching/{sid}/confirm",
        COORDINATORS(200, meister=403),
        values=own_waiting,
    ),
    Rule(
        "coaching.api_confirm", "POST", "/api/v1/coaching/{sid}/confirm", COORDINATORS(200, meister=404), values=others
    ),
]
