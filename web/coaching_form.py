"""The coaching-session form: what it offers to choose from, what was typed, and refusals in the user's language.

Why a module apart from the views (web.views.coaching): the page form and the JSON API
(POST /api/v1/coaching) take the same fields and must refuse the same things the same way.

What the form offers (decided here, documented in docs/coaching.md):

- meisters: a meister logs only their own sessions, so their form has no meister choice;
  coordinators and admins choose any meister of the registry;
- technicians: apprentices still in the programme (not disabled, not left), grouped by
  organisation, the visited organisation first; ones already on the session stay offered;
- recordings covered: finished recordings the person logging may see (kb.access decides),
  the session meister's own first;
- curriculum items covered: coordinators and admins only.  Curricula are theirs (a meister
  has no curricula pages, and an item may point at a recording the meister cannot see), so a
  meister names what was practised by recording; items a coordinator attached stay attached
  when the meister edits.

kb.coaching checks the values themselves (date, hours, lengths); this module only turns the
typed text into ids and refuses a choice that was not offered.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from datetime import datetime

from flask import request
from flask_babel import lazy_gettext

from kb import access, coaching, curricula, meisters, programme, users
from kb.errors import InputError, NotFound
from kb.timecodes import clock

TEXT_FIELDS = ("held_on", "meister_id", "organisation_id", "technique", "hours", "notes")
LIST_FIELDS = ("technicians", "recording_ids", "item_ids")

FIELD_NAMES = {
    "date": lazy_gettext("The date"),
    "meister": lazy_gettext("The meister"),
    "organisation": lazy_gettext("The organisation visited"),
}
MESSAGES = {
    "required": lazy_gettext("%(what)s is required."),
    "date": lazy_gettext("The date %(value)s is not a date (write it as 2025-04-30)."),
    "hours": lazy_gettext("Hours must be a number more than 0 and at most 24 (for example 1.5)."),
    "too_long": lazy_gettext(
        "The technique may have at most %(technique)s characters and the notes at most %(notes)s."
    ),
    "choice": lazy_gettext(
        "Something chosen in the form is not available (any more). Check the choices and save again."
    ),
    "no_meister": lazy_gettext(
        "Your account is not linked to a meister of the registry, so sessions cannot be "
        "logged in your name yet. Ask a coordinator to link it."
    ),
}
REFUSALS = {
    "log": lazy_gettext("A meister logs only their own coaching sessions; coordinators log them for anyone."),
    "change": lazy_gettext("Only a coordinator can change or delete a confirmed session, or another meister's."),
    "confirm": lazy_gettext("Only a coordinator can confirm a coaching session."),
}


def error_message(error: Exception) -> str:
    """The refusal in the user's language (the English text for an error without a known code)."""
    code = getattr(error, "code", None) or ""
    params = dict(getattr(error, "params", {}) or {})
    if code == "too_long":
        params = {"technique": coaching.MAX_TECHNIQUE, "notes": coaching.MAX_NOTES}
    if code == "required":
        params["what"] = str(FIELD_NAMES.get(params.get("what"), params.get("what", "")))
    template = MESSAGES.get(code)
    if template is None:
        return str(error)
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):
        return str(error)


def today() -> str:
    """Today in Japan (the sessions' dates are Japan dates)."""
    return datetime.now(programme.JAPAN).date().isoformat()


# ---------------------------------------------------------------- what was typed


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def read_values() -> dict:
    """The fields as typed (strings, lists of strings), from a form or a JSON body."""
    if request.is_json:
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        values = {k: "" if body.get(k) is None else str(body.get(k)) for k in TEXT_FIELDS}
        values.update({k: _as_list(body.get(k)) for k in LIST_FIELDS})
    else:
        values = {k: request.form.get(k, "") for k in TEXT_FIELDS}
        values.update({k: [v.strip() for v in request.form.getlist(k) if v.strip()] for k in LIST_FIELDS})
    return values


def values_of(session: dict) -> dict:
    """A stored session as form values (for the edit form)."""
    return {
        "held_on": session["held_on"],
        "meister_id": str(session["meister_id"]),
        "organisation_id": str(session["organisation_id"]),
        "technique": session["technique"],
        "hours": hours_text(session["hours"]),
        "notes": session["notes"],
        "technicians": [str(t["id"]) for t in session["technicians"]],
        "recording_ids": [str(i) for i in session["recording_ids"]],
        "item_ids": [str(i) for i in session["item_ids"]],
    }


def blank_values(actor: users.Account, conn: sqlite3.Connection) -> dict:
    """A new session: today, the meister themselves, their (first) organisation."""
    org = actor.organisation_id
    if actor.meister_id is not None:
        theirs = meisters.organisations_of(conn, actor.meister_id)
        org = theirs[0]["id"] if theirs else org
    return {
        "held_on": today(),
        "meister_id": str(actor.meister_id or "") if actor.role == "meister" else "",
        "organisation_id": str(org or ""),
        "technique": "",
        "hours": "",
        "notes": "",
        "technicians": [],
        "recording_ids": [],
        "item_ids": [],
    }


def hours_text(hours) -> str:
    """2.0 -> "2", 2.5 -> "2.5" (as the dashboard shows hours)."""
    value = float(hours)
    return str(int(value)) if value.is_integer() else f"{round(value, 2):g}"


def hours_with_unit(hours) -> str:
    """Coaching hours as every page shows them, with their unit: 「2.5時間」 / "2.5 h" (issue 14, item 10)."""
    from flask_babel import gettext

    return gettext("%(hours)s h", hours=hours_text(hours))


# ---------------------------------------------------------------- what the form offers


def chooses_items(actor: users.Account) -> bool:
    return actor.viewer.at_least("coordinator")


def candidates(conn: sqlite3.Connection, actor: users.Account, values: dict, keep: dict | None = None) -> dict:
    """Everything the form offers, for ``values`` (the visited organisation and meister order the lists).
    ``keep``: the session's current links, offered even when they would not be any more."""
    keep = keep or {}
    viewer = actor.viewer
    org = _int(values.get("organisation_id"))
    meister = _int(values.get("meister_id"))
    return {
        "meisters": [{"id": m["id"], "name": m["name"]} for m in meisters.list_meisters(conn)]
        if viewer.at_least("coordinator")
        else [],
        "organisations": [o for o in users.list_organisations(conn) if not o["disabled"] or o["id"] == org],
        "technician_groups": technician_groups(conn, org, {int(t) for t in keep.get("technicians", ())}),
        "recordings": recordings(conn, viewer, meister, {int(r) for r in keep.get("recording_ids", ())}),
        "curricula": curriculum_items(conn, {int(i) for i in keep.get("item_ids", ())}) if chooses_items(actor) else [],
        "techniques": techniques(conn, viewer),
    }


def technician_groups(conn: sqlite3.Connection, visited: int | None, keep: set[int]) -> list[dict]:
    people = coaching.active_technicians(conn, keep)
    groups: dict[int, dict] = {}
    for p in people:
        groups.setdefault(p["organisation_id"], {"id": p["organisation_id"], "name": p["organisation"], "people": []})[
            "people"
        ].append(p)
    return sorted(groups.values(), key=lambda g: (g["id"] != visited, g["id"]))


def recordings(conn: sqlite3.Connection, viewer: access.Viewer, meister_id: int | None, keep: set[int]) -> list[dict]:
    """Finished recordings ``viewer`` may see, the meister's own first (``own``); ``keep`` ones too if visible."""
    rows = coaching.finished_recordings(conn, viewer)
    out = [dict(r, own=meister_id is not None and r["meister_id"] == meister_id) for r in rows]
    return sorted(out, key=lambda r: not r["own"])


def curriculum_items(conn: sqlite3.Connection, keep: set[int]) -> list[dict]:
    """Current curricula with their items (and the curricula of items already chosen)."""
    chosen = curricula.curricula_of_items(conn, keep)
    out = []
    for c in curricula.list_curricula(conn, archived=None):
        if c["archived"] and c["id"] not in chosen:
            continue
        its = [{"id": it["id"], "label": item_label(it)} for it in curricula.items(conn, c["id"])]
        if its:
            out.append({"id": c["id"], "title": c["title"], "items": its})
    return out


def item_label(item: dict) -> str:
    where = ""
    if item.get("start") is not None:
        where = f" ({clock(item['start'])})"
    elif item.get("page") is not None:
        where = f" (p.{item['page']})"
    return f"{item['title']}{where}"


def techniques(conn: sqlite3.Connection, viewer=None) -> list[str]:
    """Techniques to offer (kb.coaching.techniques)."""
    return coaching.techniques(conn, viewer)


# ---------------------------------------------------------------- typed values -> kb.coaching's arguments


def _int(value) -> int | None:
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _narrow(value) -> str:
    """Digits typed with a Japanese input method (２．５, ２０２５－０６－１０) read as ASCII."""
    return unicodedata.normalize("NFKC", value or "").strip()


def _ids(values: list[str]) -> list[int]:
    out = []
    for v in values:
        number = _int(v)
        if number is None:
            raise InputError(f"{v!r} is not an id", code="choice")
        out.append(number)
    return out


def to_fields(
    conn: sqlite3.Connection, actor: users.Account, values: dict, offered: dict, session: dict | None = None
) -> dict:
    """The keyword arguments of kb.coaching.log_session / update_session.

    A meister's form sends no meister (their own is meant).  A choice that was not offered is
    refused (code "choice").  For a meister editing, curriculum items stay as they were, and
    recordings they cannot see stay attached (they were not shown, so they cannot have been unticked)."""
    meister_text = (values.get("meister_id") or "").strip()
    if not meister_text and actor.role == "meister":
        if actor.meister_id is None:
            raise InputError("this account is not linked to a meister", code="no_meister")
        meister_id = actor.meister_id
    elif not meister_text:
        raise InputError("the meister is required", code="required", what="meister")
    else:
        meister_id = _int(meister_text)
        if meister_id is None:
            raise InputError(f"{meister_text!r} is not a meister id", code="choice")
        try:
            meisters.get_meister(conn, meister_id)
        except NotFound:
            raise InputError(f"no meister with id {meister_id}", code="choice") from None
    org_text = (values.get("organisation_id") or "").strip()
    if not org_text:
        raise InputError("the organisation visited is required", code="required", what="organisation")
    organisation_id = _int(org_text)
    if organisation_id is None or organisation_id not in {o["id"] for o in offered["organisations"]}:
        raise InputError(f"no organisation {org_text!r}", code="choice")

    technicians = _ids(values.get("technicians", []))
    offered_people = {p["id"] for g in offered["technician_groups"] for p in g["people"]}
    recording_ids = _ids(values.get("recording_ids", []))
    visible = {r["id"] for r in offered["recordings"]}
    if set(technicians) - offered_people or set(recording_ids) - visible:
        raise InputError("a technician or recording that was not offered", code="choice")
    if session is not None:
        recording_ids += [r for r in session["recording_ids"] if r not in visible]
    fields = {
        "held_on": _narrow(values.get("held_on")),
        "meister_id": meister_id,
        "organisation_id": organisation_id,
        "technique": values.get("technique", ""),
        "hours": _narrow(values.get("hours")),
        "notes": values.get("notes", ""),
        "technicians": technicians,
        "recording_ids": recording_ids,
    }
    if chooses_items(actor):
        item_ids = _ids(values.get("item_ids", []))
        if set(item_ids) - {it["id"] for c in offered["curricula"] for it in c["items"]}:
            raise InputError("a curriculum item that was not offered", code="choice")
        fields["item_ids"] = item_ids
    elif session is not None:
        fields["item_ids"] = session["item_ids"]
    return fields
