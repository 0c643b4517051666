"""Access rules of the core routes: search, recordings and their files, the JSON API, accounts, admin."""

from access_rules import ANYONE, EACH, LOGGED_IN, LOGIN, ROLE, VIEW, Rule

RULES = [
    # -- search and browsing: logged-in users; what they list is checked in test_web_visibility.py
    Rule("search.home", "GET", "/", LOGGED_IN(200)),
    Rule("search.results", "GET", "/search?q=旋盤", LOGGED_IN(200)),
    Rule(
        "search.results",
        "GET",
        "/search?q=旋盤",
        EACH(anonymous=401, default=200),
        headers={"HX-Request": "true"},
        note="an htmx fragment: anonymous gets 401 with HX-Redirect to the login page",
    ),
    Rule("search.switch_language", "GET", "/lang/en?next=/", ANYONE(303)),
    Rule("recordings.browse", "GET", "/recordings", LOGGED_IN(200)),
    # -- one recording, its files and exports: hidden answers 404 exactly like missing
    Rule("recordings.recording", "GET", "/r/{rec}", VIEW(200)),
    Rule("recordings.recording", "GET", "/r/{rec}?t=5", VIEW(200), headers={"Accept": "application/json"}),
    Rule("recordings.subtitles", "GET", "/r/{rec}/subtitles.vtt", VIEW(200)),
    Rule(
        "recordings.media",
        "GET",
        "/r/{rec}/media",
        VIEW(200, pending=404),
        note="nothing is played before processing is done, even to its meister",
    ),
    Rule("recordings.thumbnail", "GET", "/r/{rec}/thumb/2.jpg", VIEW(200)),
    Rule("recordings.qr", "GET", "/r/{rec}/qr.svg?t=2", VIEW(200)),
    Rule("recordings.print_card", "GET", "/r/{rec}/print?t=2", VIEW(200)),
    # -- JSON API: anonymous gets 401 (not a redirect)
    Rule("api.index", "GET", "/api/v1/", LOGGED_IN(200)),
    Rule("api.search", "GET", "/api/v1/search?q=旋盤", LOGGED_IN(200)),
    Rule("api.recordings", "GET", "/api/v1/recordings", LOGGED_IN(200)),
    Rule("api.recording", "GET", "/api/v1/recordings/{rec}", VIEW(200)),
    # -- logging in and out, the user's own account
    Rule(
        "account.login",
        "GET",
        "/login",
        EACH(anonymous=200, default=303),
        note="a logged-in user is sent on to the start page",
    ),
    Rule(
        "account.login",
        "POST",
        "/login",
        ANYONE(401),
        data={"login": "nobody-{unique}", "password": "not the password"},
    ),
    Rule("account.logout", "POST", "/logout", EACH(anonymous=LOGIN, default=303), fresh_session=True),
    Rule("account.account", "GET", "/account", LOGGED_IN(200)),
    Rule(
        "account.change_password",
        "POST",
        "/account/password",
        LOGGED_IN(400),
        data={
            "current_password": "wrong-{unique}",
            "new_password": "new-pass-{unique}",
            "confirm_password": "new-pass-{unique}",
        },
        note="the wrong current password: 400, and nothing changes",
    ),
    Rule("account.create_token", "POST", "/account/tokens", LOGGED_IN(200), data={"name": "table {unique}"}),
    Rule("account.revoke_token", "POST", "/account/tokens/{own_token}/revoke", LOGGED_IN(303)),
    Rule(
        "account.revoke_token",
        "POST",
        "/account/tokens/{others_token}/revoke",
        EACH(anonymous=LOGIN, default=404),
        note="someone else's token is not yours to revoke, and is not said to exist",
    ),
    # -- running the programme: coordinators manage apprentices and meisters, admins everyone
    Rule("admin.users", "GET", "/admin/users", ROLE("coordinator")),
    Rule(
        "admin.create_user",
        "POST",
        "/admin/users",
        ROLE("coordinator", 200),
        data={"login": "new-{unique}", "display_name": "新人 {unique}", "role": "apprentice", "organisation_id": "1"},
    ),
    Rule(
        "admin.create_user",
        "POST",
        "/admin/users",
        EACH(anonymous=LOGIN, admin=200, default=403),
        data={"login": "boss-{unique}", "display_name": "管理 {unique}", "role": "admin", "organisation_id": "1"},
        note="only an admin makes admins",
    ),
    Rule("admin.disable_user", "POST", "/admin/users/{user}/disable", ROLE("coordinator", 303)),
    Rule(
        "admin.disable_user", "POST", "/admin/users/{admin_user}/disable", EACH(anonymous=LOGIN, admin=303, default=403)
    ),
    Rule(
        "admin.disable_user",
        "POST",
        "/admin/users/999999/disable",
        EACH(anonymous=LOGIN, coordinator=404, admin=404, default=403),
    ),
    Rule("admin.enable_user", "POST", "/admin/users/{user}/enable", ROLE("coordinator", 303)),
    Rule("admin.reset_password", "POST", "/admin/users/{user}/password", ROLE("coordinator", 200)),
    Rule(
        "admin.reset_password",
        "POST",
        "/admin/users/{admin_user}/password",
        EACH(anonymous=LOGIN, admin=200, default=403),
    ),
    Rule("admin.organisations", "GET", "/admin/organisations", ROLE("admin")),
    Rule(
        "admin.create_organisation", "POST", "/admin/organisations", ROLE("admin", 303), data={"name": "工場 {unique}"}
    ),
]
