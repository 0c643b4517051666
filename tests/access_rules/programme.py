"""Access rules of the programme dashboard (web/views/programme.py) and "record leaving" (web/views/admin.py).

Written by hand from docs/programme.md:

- the figures, their traces, CSV files and the JSON twin are for coordinators and admins
  (they run the programme); apprentices and meisters get 403, anonymous the login page
  (401 on /api/ and for JSON);
- an unknown figure is 404 for those who may see figures (403 below them: the role
  check comes first and says nothing about which figures exist);
- coordinators read the targets, only admins change them; a bad value is 400;
- leaving: coordinators and admins record and undo it for apprentices; an admin asking
  about an admin gets 400 (only apprentices leave the programme), a coordinator 403
  (coordinators do not manage admins); a missing user is 404.
"""

from access_rules import EACH, LOGIN, ROLE, Rule

TARGETS_FORM = {
    "fy": "2025",
    "default-technique_records": "100",
    "default-meisters_registered": "200",
    "default-completion_rate": "80",
    "default-retention_rate": "85",
    "year-technique_records": "",
}

RULES = [
    Rule("programme.dashboard", "GET", "/programme", ROLE("coordinator")),
    Rule("programme.dashboard", "GET", "/programme?fy=2025&org=2", ROLE("coordinator")),
    Rule("programme.dashboard", "GET", "/programme", ROLE("coordinator"), headers={"Accept": "application/json"}),
    Rule(
        "programme.dashboard",
        "GET",
        "/programme?fy=abc",
        EACH(anonymous=LOGIN, coordinator=400, admin=400, default=403),
    ),
    Rule("programme.api_figures", "GET", "/api/v1/programme/figures?fy=2025", ROLE("coordinator")),
    Rule("programme.figures_csv", "GET", "/programme/figures.csv?fy=2025&org=1", ROLE("coordinator")),
    Rule("programme.trace", "GET", "/programme/figures/technique_records?fy=2025", ROLE("coordinator")),
    Rule("programme.trace", "GET", "/programme/figures/retention_rate", ROLE("coordinator")),
    Rule(
        "programme.trace",
        "GET",
        "/programme/figures/no_such_figure",
        EACH(anonymous=LOGIN, coordinator=404, admin=404, default=403),
    ),
    Rule("programme.trace_csv", "GET", "/programme/figures/coaching_hours.csv?org=2", ROLE("coordinator")),
    Rule("programme.targets", "GET", "/programme/targets", ROLE("coordinator")),
    Rule("programme.save_targets", "POST", "/programme/targets", ROLE("admin", 303), data=TARGETS_FORM),
    Rule(
        "programme.save_targets",
        "POST",
        "/programme/targets",
        EACH(anonymous=LOGIN, admin=400, default=403),
        data={**TARGETS_FORM, "default-retention_rate": "120"},
        note="a rate above 100 is refused, and nothing is saved",
    ),
    Rule(
        "programme.save_targets",
        "POST",
        "/programme/targets",
        ROLE("admin", 303),
        data={"fy": "2025", "action": "clear", "name": "technique_records"},
    ),
    Rule(
        "admin.record_leaving",
        "POST",
        "/admin/users/{user}/leaving",
        ROLE("coordinator", 303),
        data={"left_on": "2025-09-30", "note": "家業を継ぐ {unique}"},
    ),
    Rule(
        "admin.record_leaving",
        "POST",
        "/admin/users/{user}/leaving",
        EACH(anonymous=LOGIN, coordinator=400, admin=400, default=403),
        data={"left_on": "2025/09/30"},
    ),
    Rule(
        "admin.record_leaving",
        "POST",
        "/admin/users/{admin_user}/leaving",
        EACH(anonymous=LOGIN, admin=400, default=403),
        data={"left_on": "2025-09-30"},
    ),
    Rule(
        "admin.record_leaving",
        "POST",
        "/admin/users/999999/leaving",
        EACH(anonymous=LOGIN, coordinator=404, admin=404, default=403),
        data={"left_on": "2025-09-30"},
    ),
    Rule("admin.undo_leaving", "POST", "/admin/users/{user}/leaving/undo", ROLE("coordinator", 303)),
]
