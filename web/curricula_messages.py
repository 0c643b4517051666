"""Curricula's refusals in the user's language.

kb/curricula*.py raise InputError with an English message (what the command
line and the JSON API print) and a ``code`` with its parameters; the pages
show the message for that code from the catalogue, so a Japanese coordinator
reads Japanese.  An error without a known code falls back to its English text.
"""

from __future__ import annotations

from flask_babel import lazy_gettext

FIELDS = {
    "title": lazy_gettext("The title"),
    "goal": lazy_gettext("The goal"),
    "description": lazy_gettext("The description"),
    "section title": lazy_gettext("The section title"),
    "note": lazy_gettext("The note"),
    "cohort name": lazy_gettext("The cohort name"),
    "comment": lazy_gettext("The comment"),
}

MESSAGES = {
    "required": lazy_gettext("%(what)s is required."),
    "too_long": lazy_gettext("%(what)s is too long (at most %(n)s characters)."),
    "level": lazy_gettext("Choose a level: basic, intermediate or advanced."),
    "due_date": lazy_gettext("The due date %(value)s is not a date (write it as 2025-04-30)."),
    "section_elsewhere": lazy_gettext("That section belongs to another curriculum."),
    "moment_order": lazy_gettext("A moment must end after it starts."),
    "changed": lazy_gettext("The curriculum changed meanwhile. Reload the page and try again."),
    "cohort_exists": lazy_gettext("There is already a cohort called %(name)s."),
    "assign_whom": lazy_gettext("Assign it to a technician or to a cohort."),
    "assign_role": lazy_gettext(
        "%(name)s cannot be given a curriculum: only apprentices and meisters (with an active account) can."
    ),
    "not_export": lazy_gettext("This is not a curriculum exported by Takumi KB."),
    "file_version": lazy_gettext("This curriculum file comes from a newer version of Takumi KB."),
    "file_incomplete": lazy_gettext("The curriculum file is incomplete."),
    "file_items": lazy_gettext("The curriculum file has items that cannot be read."),
}


def error_message(error: Exception) -> str:
    """The refusal in the user's language (the English message for an error without a known code)."""
    template = MESSAGES.get(getattr(error, "code", None) or "")
    if template is None:
        return str(error)
    params = dict(getattr(error, "params", {}) or {})
    if "what" in params:
        params["what"] = str(FIELDS.get(params["what"], params["what"]))
    return str(template) % params
