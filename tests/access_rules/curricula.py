"""Access rules of the curricula (web/views/curricula.py) and "my learning" (web/views/learning.py).

Written by hand from docs/curricula.md:

- building, assigning, the matrix, exports and imports are for coordinators and
  admins: apprentices and meisters get 403 on every /curricula address;
- "add to curriculum" names a recording: coordinators may add any recording
  that exists (they see all of them), a missing id is 404;
- "my learning" is every logged-in user's own: a curriculum or item not
  assigned to the asking user is 404, like a missing one;
- sign-offs: meisters (of the technician's organisation), coordinators and
  admins; apprentices 403.  The technician signed off here is a 本社
  apprentice, so the 本社 meister may.
"""

from access_rules import LOGGED_IN, LOGIN, RANK, ROLE, Rule, _Fn

LATHE = "旋盤:長い軸のびびり対策(実演)"


def BUILD(ok: int = 200):
    """Coordinators and admins: ``ok`` (404 for a missing recording); everyone else 403; anonymous LOGIN."""

    def fn(p, t):
        if p == "anonymous":
            return LOGIN
        if RANK[p] < RANK["coordinator"]:
            return 403
        return 404 if t == "missing" else ok

    return _Fn(fn, f"BUILD({ok})")


def _recording(conn) -> int:
    return conn.execute("SELECT id FROM recordings WHERE title = ?", (LATHE,)).fetchone()[0]


def _curriculum(ctx, assign_to: int | None = None) -> dict:
    """A new curriculum with one section, one item and (optionally) an assignment."""
    from kb import curricula

    cid = curricula.create(ctx.conn, title=f"表 {ctx.unique}", goal="段取り")
    section = curricula.add_section(ctx.conn, cid, "基礎")
    item = curricula.add_item(ctx.conn, cid, _recording(ctx.conn), start=0, end=20)
    out = {"cur": cid, "sec": section, "item": item}
    if assign_to is not None:
        out["asg"] = curricula.assign(ctx.conn, cid, user_id=assign_to)
    return out


def built(ctx) -> dict:
    return _curriculum(ctx)


def mine(ctx) -> dict:
    """Assigned to the asking user (anonymous: to nobody; the request is refused before it matters).
    Coordinators and admins can no longer be given a curriculum (kb.curricula.ASSIGNABLE_ROLES), but an
    assignment made before that rule is still theirs to follow: such a row is written directly."""
    from kb import curricula

    if ctx.account is None or ctx.account.role in curricula.ASSIGNABLE_ROLES:
        return _curriculum(ctx, ctx.account.id if ctx.account is not None else None)
    out = _curriculum(ctx)
    with ctx.conn:
        out["asg"] = ctx.conn.execute(
            "INSERT INTO curriculum_assignments(curriculum_id, user_id) VALUES (?, ?)", (out["cur"], ctx.account.id)
        ).lastrowid
    return out


def for_signoff(ctx) -> dict:
    """Assigned to a new 本社 apprentice, who marked the item done."""
    import uuid

    from kb import curricula_progress, users

    technician = users.create_user(ctx.conn, f"t-learn-{ctx.unique}", users.generate_password(), "apprentice")
    out = _curriculum(ctx, technician)
    curricula_progress.record_event(ctx.conn, technician, event_id=str(uuid.uuid4()), item_id=out["item"], kind="done")
    return dict(out, technician=technician)


def assigned_to_user(ctx) -> dict:
    from kb import users

    out = _curriculum(ctx)
    out["target"] = "user:" + str(
        users.create_user(ctx.conn, f"t-asg-{ctx.unique}", users.generate_password(), "apprentice")
    )
    return out


def with_key(ctx) -> dict:
    """For the suggest POST: one moment sent back (the lathe video at 0..20 s)."""
    return dict(built(ctx), rec_key=f"{_recording(ctx.conn)}:0:20::")


COORD = ROLE("coordinator")
JSON = {"Accept": "application/json"}

RULES = [
    # -- building
    Rule("curricula.index", "GET", "/curricula", COORD),
    Rule("curricula.new", "GET", "/curricula/new", COORD),
    Rule("curricula.new", "POST", "/curricula/new", ROLE("coordinator", 303), data={"title": "新しい教程 {unique}"}),
    Rule("curricula.edit", "GET", "/curricula/{cur}", COORD, values=built),
    Rule(
        "curricula.edit",
        "POST",
        "/curricula/{cur}",
        ROLE("coordinator", 303),
        values=built,
        data={"title": "直した {unique}", "goal": "", "level": "basic", "description": ""},
    ),
    Rule(
        "curricula.add_section",
        "POST",
        "/curricula/{cur}/sections",
        ROLE("coordinator", 303),
        values=built,
        data={"title": "応用"},
    ),
    Rule(
        "curricula.section",
        "POST",
        "/curricula/{cur}/sections/{sec}",
        ROLE("coordinator", 303),
        values=built,
        data={"action": "rename", "title": "改名"},
    ),
    Rule(
        "curricula.item",
        "POST",
        "/curricula/{cur}/items/{item}",
        ROLE("coordinator", 303),
        values=built,
        data={"action": "down"},
    ),
    Rule(
        "curricula.layout",
        "POST",
        "/curricula/{cur}/layout",
        ROLE("coordinator", 409),
        values=built,
        headers=JSON,
        json={"layout": [[None, []]]},
        note="an order that leaves items out is refused with 409 (JSON bodies take no placeholders; "
        "reordering itself: test_web_curricula.py)",
    ),
    Rule("curricula.add", "GET", "/curricula/add?recording_id={rec}&start=10", BUILD(200)),
    Rule(
        "curricula.add",
        "POST",
        "/curricula/add?recording_id={rec}",
        BUILD(303),
        values=built,
        data={"curriculum_id": "{cur}", "start": "5"},
    ),
    # -- assigning
    Rule(
        "curricula.assign",
        "POST",
        "/curricula/{cur}/assign",
        ROLE("coordinator", 303),
        values=assigned_to_user,
        data={"target": "{target}", "due_date": "2025-12-31"},
    ),
    Rule(
        "curricula.unassign",
        "POST",
        "/curricula/{cur}/assignments/{asg}/delete",
        ROLE("coordinator", 303),
        values=for_signoff,
    ),
    Rule("curricula.cohorts", "GET", "/curricula/cohorts", COORD),
    Rule(
        "curricula.cohorts",
        "POST",
        "/curricula/cohorts",
        ROLE("coordinator", 303),
        data={"name": "組 {unique}", "organisation_id": "1"},
    ),
    # -- following, exports
    Rule("curricula.matrix", "GET", "/curricula/{cur}/matrix", COORD, values=for_signoff),
    Rule("curricula.matrix_csv", "GET", "/curricula/{cur}/matrix.csv", COORD, values=for_signoff),
    Rule("curricula.copy", "POST", "/curricula/{cur}/copy", ROLE("coordinator", 303), values=built),
    Rule(
        "curricula.archive",
        "POST",
        "/curricula/{cur}/archive",
        ROLE("coordinator", 303),
        values=built,
        data={"archived": "1"},
    ),
    Rule(
        "curricula.suggest",
        "GET",
        "/curricula/{cur}/suggest?goal=",
        COORD,
        values=built,
        note="an empty goal: the page without searching (suggesting itself: test_web_curricula.py)",
    ),
    Rule(
        "curricula.suggest",
        "POST",
        "/curricula/{cur}/suggest",
        ROLE("coordinator", 303),
        values=with_key,
        data={"key": "{rec_key}"},
    ),
    Rule("curricula.print_page", "GET", "/curricula/{cur}/print", COORD, values=built),
    Rule("curricula.pdf", "GET", "/curricula/{cur}.pdf", COORD, values=built),
    Rule("curricula.export_json", "GET", "/curricula/{cur}/export.json", COORD, values=built),
    Rule("curricula.import_json", "GET", "/curricula/import", COORD),
    Rule(
        "curricula.import_json",
        "POST",
        "/curricula/import",
        ROLE("coordinator", 400),
        data={"x": "1"},
        note="no file: 400 'choose a curriculum file' (importing: test_web_curricula.py)",
    ),
    # -- my learning: each user's own
    Rule("learning.mine", "GET", "/learning", LOGGED_IN(200)),
    Rule("learning.curriculum", "GET", "/learning/c/{cur}", LOGGED_IN(200), values=mine),
    Rule(
        "learning.curriculum",
        "GET",
        "/learning/c/{cur}",
        LOGGED_IN(404),
        values=built,
        note="not assigned to the asking user: 404 like a missing curriculum, also for coordinators",
    ),
    Rule(
        "learning.mark_done",
        "POST",
        "/learning/items/{item}/done",
        LOGGED_IN(303),
        values=mine,
        data={"event_id": "{unique}-0000-4000-8000", "done": "1"},
    ),
    Rule(
        "learning.mark_done",
        "POST",
        "/learning/items/{item}/done",
        LOGGED_IN(404),
        values=built,
        data={"event_id": "{unique}-1111-4000-8000", "done": "1"},
    ),
    Rule(
        "learning.events",
        "POST",
        "/learning/events",
        LOGGED_IN(200),
        headers=JSON,
        json={"events": [{"event_id": "0a1b2c3d-2222-4000-8000-000000000000", "item_id": 999999, "kind": "done"}]},
        note="200 with a per-event answer (here: refused, no such item); counting: test_learning.py",
    ),
    Rule("learning.signoff", "GET", "/learning/signoff", ROLE("meister")),
    Rule(
        "learning.signoff",
        "POST",
        "/learning/signoff",
        ROLE("meister", 303),
        values=for_signoff,
        data={"item_id": "{item}", "user_id": "{technician}", "comment": "確認 {unique}"},
    ),
]
