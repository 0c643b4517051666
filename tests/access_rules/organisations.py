"""An organisation's speech language (issue 12, web/views/admin.py): admins only, like the organisations page."""

from access_rules import EACH, LOGIN, ROLE, Rule

RULES = [
    Rule(
        "admin.organisation_language",
        "POST",
        "/admin/organisations/1/language",
        ROLE("admin", 303),
        data={"language": ""},
        note="empty: the setting's language, as organisation 1 has it (changes nothing)",
    ),
    Rule(
        "admin.organisation_language",
        "POST",
        "/admin/organisations/999999/language",
        EACH(anonymous=LOGIN, admin=404, default=403),
        data={"language": "en"},
    ),
]
