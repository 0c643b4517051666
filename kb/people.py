"""Who may give whom which role and organisation, and changing a user's name, role and organisation.

The rules extend the ones the user pages always had (docs/accounts.md), in one place so the web
form, the CSV import (kb.users_import) and `kb users import` cannot disagree:

- coordinators and admins manage people; apprentices and meisters manage nobody;
- a coordinator manages apprentices and meisters: they may give those two roles only, and may
  not change a coordinator or an admin (nor make one);
- an admin gives every role;
- nobody changes their own role (a coordinator cannot promote themselves, an admin cannot
  demote themselves by mistake), and the last admin stays an admin;
- people go only into an organisation that exists and is not disabled (an organisation is
  disabled to close it, so nobody is added or moved there).  Coordinators run the programme
  across every organisation (they see every user and every recording), so any organisation
  that is open is theirs to place people in: the same rule as adding a user always had.

A refusal is a :class:`GrantRefused` with a ``code`` the web pages say in the user's language;
``forbidden`` tells the pages to answer 403 (the viewer's role may not do this at all) rather
than 400 (a value to correct).
"""

from __future__ import annotations

import sqlite3

from kb.access import ROLES, Viewer
from kb.errors import NotFound
from kb.users import (
    Account,
    AccountInputError,
    _clean_name,
    find_organisation,
    get_account,
)

COORDINATOR_GRANTS = ("apprentice", "meister")
FORBIDDEN = frozenset({"not_manager", "target_not_manageable", "role_not_allowed"})


class GrantRefused(AccountInputError):
    """The actor may not give this role / organisation (or change this person)."""

    @property
    def forbidden(self) -> bool:
        return self.code in FORBIDDEN


def grantable_roles(actor: Viewer) -> tuple[str, ...]:
    """The roles ``actor`` may give (and whose holders they may change)."""
    if actor.at_least("admin"):
        return ROLES
    if actor.at_least("coordinator"):
        return COORDINATOR_GRANTS
    return ()


def may_manage(actor: Viewer, target: Account) -> bool:
    """May ``actor`` change ``target`` at all (name, role, organisation, password, disable)?"""
    return target.role in grantable_roles(actor)


def check_organisation(conn: sqlite3.Connection, organisation: str | int | None, current: int | None = None) -> dict:
    """The organisation people may be put in: it exists and is open (staying in a closed one is no move)."""
    if organisation is None or str(organisation).strip() == "":
        raise GrantRefused("organisation_unknown", "choose an organisation", name="")
    try:
        org = find_organisation(conn, organisation)
    except NotFound:
        raise GrantRefused(
            "organisation_unknown", f"no organisation {organisation!r}", name=str(organisation)
        ) from None
    if org["disabled"] and org["id"] != current:
        raise GrantRefused("organisation_disabled", f"organisation {org['name']!r} is disabled", name=org["name"])
    return org


def check_grant(
    conn: sqlite3.Connection, actor: Viewer, *, role: str, organisation: str | int | None, target: Account | None = None
) -> dict:
    """Raise GrantRefused unless ``actor`` may give ``role`` in ``organisation`` (to ``target``, an existing
    user, or to a new one when None).  Returns the organisation's row."""
    if not actor.at_least("coordinator"):
        raise GrantRefused("not_manager", "only coordinators and admins manage people")
    if target is not None and not may_manage(actor, target):
        raise GrantRefused("target_not_manageable", "only an admin changes coordinators and admins")
    if role not in ROLES:
        raise GrantRefused("role_unknown", f"role must be one of {', '.join(ROLES)}", role=role)
    if role not in grantable_roles(actor):
        raise GrantRefused("role_not_allowed", f"a {actor.role} may not give the role {role}", role=role)
    if target is not None and role != target.role:
        if target.id == actor.user_id:
            raise GrantRefused("own_role", "nobody changes their own role")
        if target.role == "admin" and _other_admins(conn, target.id) == 0:
            raise GrantRefused("last_admin_role", "the last admin stays an admin (make another admin first)")
    return check_organisation(conn, organisation, current=target.organisation_id if target else None)


def _other_admins(conn: sqlite3.Connection, user_id: int) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?", (user_id,)
    ).fetchone()[0]


def update_user(
    conn: sqlite3.Connection,
    actor: Viewer,
    user_id: int,
    *,
    display_name: str,
    role: str,
    organisation: str | int,
    meister: str | None = None,
) -> list[str]:
    """Change a user's name, role and organisation (and, for a meister, the meister name their recordings
    carry).  Returns what changed ("display_name", "role", "organisation", "meister").

    A meister is linked to a meister name (given, else the one they had, else their name), which is what
    makes recordings theirs (kb.access.owns); any other role holds no such link, so an apprentice who was
    a meister does not keep seeing that meister's private recordings."""
    from kb.recordings import meister_id

    target = get_account(conn, user_id)
    org = check_grant(conn, actor, role=role, organisation=organisation, target=target)
    display_name = _clean_name(display_name, "the display name")
    meister_name = None
    if role == "meister":
        meister_name = _clean_name(
            meister or (target.meister if target.role == "meister" else None) or display_name, "the meister name"
        )
    changed = [
        field
        for field, old, new in (
            ("display_name", target.display_name, display_name),
            ("role", target.role, role),
            ("organisation", target.organisation_id, org["id"]),
            ("meister", target.meister, meister_name),
        )
        if old != new
    ]
    if not changed:
        return []
    with conn:
        mid = meister_id(conn, meister_name) if meister_name else None
        conn.execute(
            "UPDATE users SET display_name = ?, role = ?, organisation_id = ?, meister_id = ? WHERE id = ?",
            (display_name, role, org["id"], mid, target.id),
        )
    return changed
