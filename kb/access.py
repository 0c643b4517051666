"""Who may see and change what: one place for the rules, used by search, pages, media and the API.

Why one module: a hidden recording must not leak through any route (search
results and counts, snippets, pages, media, subtitles, thumbnails, the API,
exports).  Every route asks these functions rather than writing its own
condition, so a rule changed here changes everywhere.

The rules (documented for coordinators in docs/accounts.md):

- a recording is ``private`` (its meister and coordinators), ``organisation``
  (everyone in its organisation) or ``shared`` (every user of the programme);
- apprentices and meisters see shared recordings, their organisation's
  organisation-level ones, and private ones that are theirs (uploaded by them
  or recorded as their meister);
- coordinators and admins run the programme: they see every recording;
- meisters change their own recordings; coordinators and admins change any;
- the command line on the machine itself (``SYSTEM``) sees everything;
  anonymous visitors see nothing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Mapping

ROLES = ("apprentice", "meister", "coordinator", "admin")
_RANK = {"anonymous": 0, "apprentice": 1, "meister": 2, "coordinator": 3, "admin": 4, "system": 5}


@dataclass(frozen=True)
class Viewer:
    """The person (or process) asking.  Built from a session or an API token by the web app."""

    user_id: int | None
    role: str  # anonymous | apprentice | meister | coordinator | admin | system
    organisation_id: int | None = None
    meister_id: int | None = None
    login: str | None = None
    display_name: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.role != "anonymous"

    def at_least(self, role: str) -> bool:
        """True when this viewer's role is ``role`` or above (apprentice < meister < coordinator < admin)."""
        return _RANK[self.role] >= _RANK[role]

    @property
    def sees_everything(self) -> bool:
        return self.role in ("coordinator", "admin", "system")


ANONYMOUS = Viewer(None, "anonymous")
SYSTEM = Viewer(None, "system")


def owns(viewer: Viewer, rec: Mapping) -> bool:
    """The recording was uploaded by this user, or is recorded under this user's meister row."""
    if viewer.user_id is not None and rec.get("owner_user_id") == viewer.user_id:
        return True
    return viewer.meister_id is not None and rec.get("meister_id") == viewer.meister_id


def can_view(viewer: Viewer, rec: Mapping) -> bool:
    if viewer.sees_everything:
        return True
    if not viewer.is_authenticated:
        return False
    visibility = rec.get("visibility") or "organisation"
    if visibility == "shared":
        return True
    if visibility == "organisation" and rec.get("organisation_id") == viewer.organisation_id:
        return True
    return owns(viewer, rec)


def can_edit(viewer: Viewer, rec: Mapping) -> bool:
    """Edit metadata and transcript, replace the file, delete: the recording's meister, coordinators, admins."""
    if viewer.sees_everything:
        return True
    return viewer.role == "meister" and owns(viewer, rec)


def can_upload(viewer: Viewer) -> bool:
    return viewer.at_least("meister")


def visible_where(viewer: Viewer, alias: str = "r") -> tuple[str, list]:
    """A SQL condition on recordings (``alias``) selecting exactly what ``can_view`` allows, and its parameters."""
    a = alias
    if viewer.sees_everything:
        return "1", []
    if not viewer.is_authenticated:
        return "0", []
    clauses = [f"{a}.visibility = 'shared'", f"({a}.visibility = 'organisation' AND {a}.organisation_id IS ?)"]
    params: list = [viewer.organisation_id]
    if viewer.user_id is not None:
        clauses.append(f"{a}.owner_user_id = ?")
        params.append(viewer.user_id)
    if viewer.meister_id is not None:
        clauses.append(f"{a}.meister_id = ?")
        params.append(viewer.meister_id)
    return "(" + " OR ".join(clauses) + ")", params


def visible_recording_ids(conn: sqlite3.Connection, viewer: Viewer) -> set[int] | None:
    """Ids of the recordings ``viewer`` may see; None means all (no filter needed)."""
    if viewer.sees_everything:
        return None
    where, params = visible_where(viewer)
    return {row[0] for row in conn.execute(f"SELECT r.id FROM recordings r WHERE {where}", params)}


def visible_recording(conn: sqlite3.Connection, viewer: Viewer, recording_id: int) -> dict:
    """The recording if ``viewer`` may see it; otherwise NotFound.

    A hidden recording answers exactly like a missing one (same error, same
    message), so guessing ids tells nothing.  A recording still being processed
    (or failed) is shown only to those who may change it: apprentices see
    finished work only.  (Refusing to change a visible recording is the
    caller's: pages answer 403 there, since the recording is no secret.)"""
    from kb import recordings
    from kb.errors import NotFound

    missing = NotFound(f"no recording with id {recording_id}")
    try:
        rec = recordings.get(conn, recording_id)
    except NotFound:
        raise missing from None
    if not can_view(viewer, rec):
        raise missing
    if rec.get("status") != "done" and not can_edit(viewer, rec):
        raise missing
    return rec
