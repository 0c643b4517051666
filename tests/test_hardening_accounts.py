"""Issue 16, defects 13, 14 and 7: API tokens obey passwords, the login lockout counts every guess,
and an Authorization header that is not ours does not break the site."""

from __future__ import annotations

import threading

import pytest

from helpers.hardening import make_kb


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    return make_kb(tmp_path_factory.mktemp("accounts"))


def _token(kb, key: str) -> str:
    from kb import users

    return users.create_token(kb.conn, kb.user_id(key), "script")[1]


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


# -- 13: tokens cannot manage accounts, and do not outlive a password reset, change or disable ------


def test_a_token_cannot_reset_passwords_create_admins_or_disable_users(kb):
    client = kb.app.test_client()
    headers = _bearer(_token(kb, "admin"))
    target = kb.user_id("apprentice")
    r = client.post(f"/admin/users/{target}/password", headers=headers)
    assert r.status_code == 403 and "password" not in (r.get_json() or {})
    r = client.post("/admin/users", data={"login": "eve", "role": "admin", "organisation_id": "1"}, headers=headers)
    assert r.status_code == 403
    assert kb.conn.execute("SELECT COUNT(*) FROM users WHERE login = 'eve'").fetchone()[0] == 0
    assert client.post(f"/admin/users/{target}/disable", headers=headers).status_code == 403
    assert client.post("/account/tokens", data={"name": "more"}, headers=headers).status_code == 403
    # reading with a token still works
    assert client.get("/api/v1/recordings", headers=headers).status_code == 200


@pytest.mark.parametrize("how", ["reset", "change", "disable_enable"])
def test_a_password_reset_change_or_disable_ends_every_token(kb, how):
    from kb import users

    key = "other_meister"
    token = _token(kb, key)
    client = kb.app.test_client()
    assert client.get("/api/v1/recordings", headers=_bearer(token)).status_code == 200
    uid = kb.user_id(key)
    if how == "reset":
        users.reset_password(kb.conn, uid)
    elif how == "change":
        new = users.generate_password()
        users.set_password(kb.conn, uid, new)
    else:
        users.set_disabled(kb.conn, uid, True)
        users.set_disabled(kb.conn, uid, False)
    r = client.get("/api/v1/recordings", headers=_bearer(token))
    assert r.status_code == 401
    if how == "reset":  # the forced change: restore a usable state for the other cases
        users.set_password(kb.conn, uid, users.generate_password())


def test_the_users_own_password_change_in_the_browser_ends_their_tokens(kb):
    from helpers.web import csrf_token
    from kb import users

    _, _, uid = kb.logins["coordinator"]
    password = users.generate_password()
    users.set_password(kb.conn, uid, password)
    token = _token(kb, "coordinator")
    browser = kb.client("coordinator")
    new = users.generate_password()
    r = browser.post(
        "/account/password",
        data={
            "current_password": password,
            "new_password": new,
            "confirm_password": new,
            "csrf_token": csrf_token(browser),
        },
    )
    assert r.status_code == 303
    assert kb.app.test_client().get("/api/v1/recordings", headers=_bearer(token)).status_code == 401
    assert browser.get("/account").status_code == 200  # the session that changed it stays


def test_a_token_of_a_user_who_must_change_their_password_is_refused(kb):
    from kb import users

    uid = users.create_user(kb.conn, "must-change", users.generate_password(), "apprentice", must_change_password=True)
    with kb.conn:
        kb.conn.execute(
            "INSERT INTO api_tokens(user_id, name, token_hash, prefix) VALUES (?, 'x', ?, 'tkb_xx')",
            (uid, users._sha256("tkb_must-change-token")),
        )
    r = kb.app.test_client().get("/api/v1/recordings", headers=_bearer("tkb_must-change-token"))
    assert r.status_code == 403


# -- 14: the lockout cannot be raced ----------------------------------------------------------------


def test_parallel_wrong_passwords_make_at_most_the_limit_of_password_checks(kb, monkeypatch):
    from kb import db, users

    checks = []
    real_verify = users._verify

    def counting_verify(password_hash, password):
        checks.append(1)
        return real_verify(password_hash, password)

    monkeypatch.setattr(users, "_verify", counting_verify)
    login = kb.logins["apprentice"][0]
    limits = users.Limits.from_config(kb.config)
    outcomes = []
    start = threading.Barrier(24)

    def guess(n):
        conn = db.connect(kb.config.db_path)
        try:
            start.wait()
            users.authenticate(conn, login, f"wrong-{n}", f"10.0.0.{n}", limits)
        except users.RateLimited:
            outcomes.append("limited")
        except users.LoginRefused:
            outcomes.append("refused")
        finally:
            conn.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 24
    assert outcomes.count("refused") == limits.max_failures
    assert len(checks) <= limits.max_failures


def test_a_right_password_still_logs_in_and_clears_the_failures(kb):
    from kb import users

    login, _, uid = kb.logins["other_apprentice"]
    password = users.generate_password()
    users.set_password(kb.conn, uid, password)
    limits = users.Limits.from_config(kb.config)
    with pytest.raises(users.LoginRefused):
        users.authenticate(kb.conn, login, "nope", "10.1.1.1", limits)
    assert users.authenticate(kb.conn, login, password, "10.1.1.1", limits).id == uid
    assert (
        kb.conn.execute("SELECT COUNT(*) FROM login_attempts WHERE login = ? AND ok = 0", (login.lower(),)).fetchone()[
            0
        ]
        == 0
    )


# -- 7: a login proxy's Authorization header ------------------------------------------------------


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Negotiate abc", "Bearer not-one-of-ours", "Digest x=1"])
def test_an_authorization_header_that_is_not_ours_is_ignored(kb, header):
    browser = kb.client("apprentice")
    assert browser.get("/", headers={"Authorization": header}).status_code == 200
    assert kb.app.test_client().get("/login", headers={"Authorization": header}).status_code == 200


def test_a_wrong_token_of_ours_is_still_401(kb):
    r = kb.app.test_client().get("/api/v1/recordings", headers=_bearer("tkb_wrong"))
    assert r.status_code == 401
