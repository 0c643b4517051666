"""Access rules of the meister registry (web/views/meisters.py), written by hand from docs/meisters.md:

- the directory, every profile and "who can teach this?" are for everyone logged in (the registry is
  public within the programme); what they list is checked in tests/test_web_meisters.py;
- a profile and its certifications are changed by the meister themselves (the table's meister is
  田中 一郎, so his own profile), coordinators and admins; everyone else gets 403.  Another meister's
  profile (中村 誠) is 403 for the table's meister too;
- registering a meister is for coordinators and admins;
- a missing meister is 404 for everyone logged in; the JSON API answers anonymous with 401.
"""

from access_rules import EACH, LOGGED_IN, LOGIN, ROLE, Rule

OWN = "田中 一郎"
OTHER = "中村 誠"


def _id(conn, name: str) -> int:
    return conn.execute("SELECT id FROM meisters WHERE name = ?", (name,)).fetchone()[0]


def own(ctx) -> dict:
    return {"mid": _id(ctx.conn, OWN)}


def other(ctx) -> dict:
    return {"mid": _id(ctx.conn, OTHER)}


def own_certification(ctx) -> dict:
    """A new certification of the table's meister for every request (each request deletes one)."""
    from kb import meisters

    mid = _id(ctx.conn, OWN)
    return {"mid": mid, "cid": meisters.add_certification(ctx.conn, mid, f"検定 {ctx.unique}", "機械加工")}


# The meister themselves, coordinators and admins; apprentices (of either organisation) 403.
SELF = EACH(anonymous=LOGIN, apprentice=403, other=403, meister=200, coordinator=200, admin=200)
SELF_303 = EACH(anonymous=LOGIN, apprentice=403, other=403, meister=303, coordinator=303, admin=303)
NOT_SELF = EACH(anonymous=LOGIN, apprentice=403, other=403, meister=403, coordinator=200, admin=200)

RULES = [
    # -- reading: everyone logged in
    Rule("meisters.directory", "GET", "/meisters", LOGGED_IN(200)),
    Rule("meisters.directory", "GET", "/meisters?q=溶接&area=東京&org=1", LOGGED_IN(200)),
    Rule("meisters.profile", "GET", "/meisters/{mid}", LOGGED_IN(200), values=own),
    Rule("meisters.profile", "GET", "/meisters/999999", LOGGED_IN(404)),
    Rule("meisters.teach", "GET", "/meisters/teach?q=旋盤のびびり", LOGGED_IN(200)),
    Rule("meisters.teach", "GET", "/meisters/teach", LOGGED_IN(200), note="no question yet: the form"),
    # -- changing a profile: the meister themselves, coordinators, admins
    Rule("meisters.edit", "GET", "/meisters/{mid}/edit", SELF, values=own),
    Rule(
        "meisters.edit",
        "GET",
        "/meisters/{mid}/edit",
        NOT_SELF,
        values=other,
        note="another meister's profile: the table's meister may not change it",
    ),
    Rule("meisters.edit", "GET", "/meisters/999999/edit", LOGGED_IN(404)),
    Rule(
        "meisters.edit",
        "POST",
        "/meisters/{mid}/edit",
        SELF_303,
        values=own,
        data={"name": OWN, "years_experience": "32", "categories": "旋盤、フライス", "organisation_ids": "1"},
    ),
    Rule(
        "meisters.add_certification",
        "POST",
        "/meisters/{mid}/certifications",
        SELF_303,
        values=own,
        data={"name": "技能検定1級 {unique}", "trade": "機械加工"},
    ),
    Rule(
        "meisters.delete_certification",
        "POST",
        "/meisters/{mid}/certifications/{cid}/delete",
        SELF_303,
        values=own_certification,
    ),
    # -- registering: coordinators and admins
    Rule("meisters.new", "GET", "/meisters/new", ROLE("coordinator")),
    Rule("meisters.new", "POST", "/meisters/new", ROLE("coordinator", 303), data={"name": "新人 {unique}"}),
    # -- JSON API
    Rule("meisters.api_directory", "GET", "/api/v1/meisters?q=溶接", LOGGED_IN(200)),
    Rule("meisters.api_profile", "GET", "/api/v1/meisters/{mid}", LOGGED_IN(200), values=own),
    Rule("meisters.api_profile", "GET", "/api/v1/meisters/999999", LOGGED_IN(404)),
    Rule("meisters.api_teach", "GET", "/api/v1/meisters/teach?q=溶接の歪み", LOGGED_IN(200)),
    Rule("meisters.api_teach", "GET", "/api/v1/meisters/teach", LOGGED_IN(400), note="no q: 400 with a message"),
]
