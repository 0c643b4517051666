"""kb.users on a real SQLite database: passwords, login limits, sessions, API tokens; and the
`kb init` / `kb users` / `kb orgs` / `kb demo` account commands."""

from __future__ import annotations

import os
import re
import stat

import pytest

from kb import users
from kb.errors import InputError, NotFound


@pytest.fixture
def db(hash_config):
    from kb.home import init_home

    conn = init_home(hash_config)
    yield conn
    conn.close()


LIMITS = users.Limits(
    idle_seconds=600, max_seconds=3600, max_failures=3, max_failures_per_address=5, window_seconds=900
)


def test_password_is_stored_only_as_an_argon2id_hash(db):
    uid = users.create_user(db, "tanaka", "correct horse battery", "meister", display_name="田中 一郎")
    stored = db.execute("SELECT password_hash FROM users WHERE id = ?", (uid,)).fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert users.authenticate(db, "tanaka", "correct horse battery").id == uid
    assert users.authenticate(db, "TANAKA", "correct horse battery").id == uid  # logins ignore case


def test_meister_is_linked_to_the_name_their_recordings_carry(db):
    uid = users.create_user(db, "tanaka", "correct horse battery", "meister", display_name="田中 一郎")
    account = users.get_account(db, uid)
    assert account.meister == "田中 一郎" and account.viewer.meister_id == account.meister_id
    apprentice = users.get_account(db, users.create_user(db, "kobayashi", "another password", "apprentice"))
    assert apprentice.meister_id is None and apprentice.viewer.role == "apprentice"


@pytest.mark.parametrize(
    "login,password,role,code",
    [
        ("a", "long enough pw", "apprentice", "login_format"),
        ("has space", "long enough pw", "apprentice", "login_format"),
        ("ok-login", "short", "apprentice", "password_short"),
        ("ok-login", "OK-LOGIN", "apprentice", "password_is_login"),
        ("ok-login", "long enough pw", "boss", "role_unknown"),
    ],
)
def test_bad_user_values_get_one_clear_error(db, login, password, role, code):
    with pytest.raises(users.AccountInputError) as e:
        users.create_user(db, login, password, role)
    assert e.value.code == code and isinstance(e.value, InputError)
    assert users.count_users(db) == 0


def test_logins_are_unique_whatever_the_case(db):
    users.create_user(db, "Sato", "long enough pw", "apprentice")
    with pytest.raises(users.AccountInputError, match="taken"):
        users.create_user(db, "sato", "long enough pw", "apprentice")


def test_unknown_login_and_wrong_password_are_refused_alike(db):
    users.create_user(db, "tanaka", "correct horse battery", "meister")
    for login, password in (("tanaka", "wrong"), ("nobody", "wrong"), ("", "")):
        with pytest.raises(users.LoginRefused) as e:
            users.authenticate(db, login, password, "10.0.0.1", LIMITS)
        assert str(e.value) == "wrong login or password"


def test_failures_per_account_wait_whether_or_not_the_login_exists(db):
    users.create_user(db, "tanaka", "correct horse battery", "meister")
    now = 1_000_000.0
    for login in ("tanaka", "ghost"):
        for n in range(LIMITS.max_failures):
            with pytest.raises(users.LoginRefused):
                users.authenticate(db, login, "wrong", f"10.0.0.{n}", LIMITS, now=now + n)
        with pytest.raises(users.RateLimited) as e:  # even the right password waits now
            users.authenticate(db, login, "correct horse battery", "10.0.1.1", LIMITS, now=now + 10)
        assert e.value.minutes == 15
    # once the oldest failure leaves the window, the right password works again
    assert (
        users.authenticate(db, "tanaka", "correct horse battery", "10.0.1.1", LIMITS, now=now + 901).login == "tanaka"
    )


def test_failures_per_address_across_accounts(db):
    users.create_user(db, "tanaka", "correct horse battery", "meister")
    now = 2_000_000.0
    for n in range(LIMITS.max_failures_per_address):
        with pytest.raises(users.LoginRefused):
            users.authenticate(db, f"guess{n}", "wrong", "192.168.1.50", LIMITS, now=now + n)
    with pytest.raises(users.RateLimited):
        users.authenticate(db, "tanaka", "correct horse battery", "192.168.1.50", LIMITS, now=now + 60)
    assert users.authenticate(db, "tanaka", "correct horse battery", "192.168.1.51", LIMITS, now=now + 60)


def test_a_success_clears_the_accounts_failures(db):
    users.create_user(db, "tanaka", "correct horse battery", "meister")
    now = 3_000_000.0
    for n in range(LIMITS.max_failures - 1):
        with pytest.raises(users.LoginRefused):
            users.authenticate(db, "tanaka", "wrong", "10.0.0.1", LIMITS, now=now + n)
    users.authenticate(db, "tanaka", "correct horse battery", "10.0.0.1", LIMITS, now=now + 5)
    with pytest.raises(users.LoginRefused):  # counting starts again: refused, not rate limited
        users.authenticate(db, "tanaka", "wrong", "10.0.0.1", LIMITS, now=now + 6)


def test_old_hash_parameters_are_upgraded_at_login(db, monkeypatch):
    from argon2 import PasswordHasher

    monkeypatch.delenv("KB_TEST_FAST_HASH", raising=False)  # the real cost, as on a server
    uid = users.create_user(db, "tanaka", "correct horse battery", "meister")
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("correct horse battery")
    with db:
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (weak, uid))
    users.authenticate(db, "tanaka", "correct horse battery")
    stored = db.execute("SELECT password_hash FROM users WHERE id = ?", (uid,)).fetchone()[0]
    assert stored != weak and not PasswordHasher().check_needs_rehash(stored)


def test_sessions_expire_when_idle_and_after_their_lifetime(db):
    uid = users.create_user(db, "tanaka", "correct horse battery", "meister")
    token, session = users.create_session(db, uid, LIMITS, "10.0.0.1", now=0.0)
    stored = db.execute("SELECT id FROM sessions").fetchone()[0]
    assert stored != token and len(token) >= 40  # only the sha256 is kept
    assert users.lookup_session(db, token, LIMITS, now=500).account.id == uid
    assert users.lookup_session(db, token, LIMITS, now=1000).account.id == uid  # touched at 500: still alive
    assert users.lookup_session(db, token, LIMITS, now=1601) is None  # 601 s idle
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0  # and removed

    token, _ = users.create_session(db, uid, LIMITS, now=0.0)
    for t in range(500, 3600, 500):
        assert users.lookup_session(db, token, LIMITS, now=t) is not None
    assert users.lookup_session(db, token, LIMITS, now=3600) is None  # absolute lifetime, however busy
    assert users.lookup_session(db, "made-up-token", LIMITS) is None


def test_disabling_ends_sessions_and_tokens_at_once(db):
    uid = users.create_user(db, "tanaka", "correct horse battery", "meister")
    users.create_user(db, "boss", "correct horse battery", "admin")
    token, _ = users.create_session(db, uid, LIMITS)
    _, api = users.create_token(db, uid, "lathe terminal")
    users.set_disabled(db, uid, True)
    assert users.lookup_session(db, token, LIMITS) is None and users.lookup_token(db, api) is None
    with pytest.raises(users.LoginRefused):
        users.authenticate(db, "tanaka", "correct horse battery")
    users.set_disabled(db, uid, False)
    assert users.lookup_token(db, api) is None  # ended for good: enabling does not revive tokens (issue 16)
    assert users.authenticate(db, "tanaka", "correct horse battery").id == uid


def test_the_last_admin_cannot_be_disabled(db):
    uid = users.create_user(db, "boss", "correct horse battery", "admin")
    with pytest.raises(users.AccountInputError, match="last admin"):
        users.set_disabled(db, uid, True)
    users.create_user(db, "boss2", "correct horse battery", "admin")
    users.set_disabled(db, uid, True)
    assert users.get_account(db, uid).disabled


def test_disabled_organisation_locks_its_users_out(db):
    org = users.create_organisation(db, "第二工場")
    uid = users.create_user(db, "ito", "correct horse battery", "apprentice", organisation_id=org)
    token, _ = users.create_session(db, uid, LIMITS)
    with db:
        db.execute("UPDATE organisations SET disabled = 1 WHERE id = ?", (org,))
    assert users.lookup_session(db, token, LIMITS) is None
    with pytest.raises(users.LoginRefused):
        users.authenticate(db, "ito", "correct horse battery")


def test_changing_the_password_ends_the_other_sessions(db):
    uid = users.create_user(db, "tanaka", "correct horse battery", "meister")
    here, session = users.create_session(db, uid, LIMITS)
    elsewhere, _ = users.create_session(db, uid, LIMITS)
    with pytest.raises(users.AccountInputError, match="current password"):
        users.change_password(db, uid, "wrong", "a new long password", keep_session_id=session.id)
    assert users.lookup_session(db, elsewhere, LIMITS) is not None
    users.change_password(db, uid, "correct horse battery", "a new long password", keep_session_id=session.id)
    assert users.lookup_session(db, here, LIMITS) is not None
    assert users.lookup_session(db, elsewhere, LIMITS) is None
    assert users.authenticate(db, "tanaka", "a new long password").id == uid


def test_reset_password_is_generated_must_be_changed_and_ends_sessions(db):
    uid = users.create_user(db, "tanaka", "correct horse battery", "meister")
    token, _ = users.create_session(db, uid, LIMITS)
    password = users.reset_password(db, uid)
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", password)
    assert users.lookup_session(db, token, LIMITS) is None
    account = users.authenticate(db, "tanaka", password)
    assert account.must_change_password


def test_api_tokens_shown_once_stored_hashed_listed_and_revoked(db):
    uid = users.create_user(db, "tanaka", "correct horse battery", "meister")
    other = users.create_user(db, "sato", "correct horse battery", "apprentice")
    token_id, clear = users.create_token(db, uid, "旋盤3号機の端末")
    assert clear.startswith("tkb_") and len(clear) > 40
    row = db.execute("SELECT * FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
    assert row["token_hash"] != clear and clear not in row["token_hash"] and clear.startswith(row["prefix"])
    listed = users.list_tokens(db, uid)
    assert [t["name"] for t in listed] == ["旋盤3号機の端末"] and "token_hash" not in listed[0]
    assert users.lookup_token(db, clear).id == uid
    assert users.lookup_token(db, clear[:-1] + ("A" if clear[-1] != "A" else "B")) is None
    assert users.revoke_token(db, other, token_id) is False  # not theirs
    assert users.revoke_token(db, uid, token_id) is True
    assert users.lookup_token(db, clear) is None and users.list_tokens(db, uid) == []
    with pytest.raises(users.AccountInputError):
        users.create_token(db, uid, "   ")


def test_organisations(db):
    org = users.create_organisation(db, " 第二工場 ")
    assert users.find_organisation(db, "第二工場")["id"] == org == users.find_organisation(db, str(org))["id"]
    with pytest.raises(users.AccountInputError, match="exists"):
        users.create_organisation(db, "第二工場")
    with pytest.raises(NotFound, match="本社"):  # says which exist
        users.find_organisation(db, "第三工場")
    users.create_user(db, "ito", "correct horse battery", "apprentice", organisation_id=org)
    counts = {o["name"]: o["users"] for o in users.list_organisations(db)}
    assert counts == {"本社": 0, "第二工場": 1}


# ---------------------------------------------------------------- the commands


def run_kb(config, *args, input=None):
    from click.testing import CliRunner

    from cli.main import cli

    result = CliRunner().invoke(
        cli, ["--home", str(config.home), *args], input=input, catch_exceptions=False, env={"KB_EMBED_MODEL": "hash"}
    )
    return result


def test_kb_init_creates_the_first_admin_once_and_prints_the_password(hash_config):
    first = run_kb(hash_config, "init")
    assert first.exit_code == 0, first.output
    password = re.search(r"password: (\S+)", first.output).group(1)
    assert "login:    admin" in first.output
    from kb.home import open_db

    conn = open_db(hash_config)
    account = users.authenticate(conn, "admin", password)
    assert account.role == "admin" and account.must_change_password
    again = run_kb(hash_config, "init")
    assert again.exit_code == 0 and "password" not in again.output and users.count_users(conn) == 1


def test_kb_users_and_orgs_commands(hash_config):
    run_kb(hash_config, "init")
    assert run_kb(hash_config, "orgs", "add", "第二工場").exit_code == 0
    added = run_kb(
        hash_config, "users", "add", "ito", "--role", "apprentice", "--name", "伊藤 陽菜", "--org", "第二工場"
    )
    assert added.exit_code == 0 and "added ito (apprentice, 第二工場)" in added.output
    password = re.search(r"password: (\S+)", added.output).group(1)
    typed = run_kb(
        hash_config, "users", "add", "tanaka", "--role", "meister", "--password-stdin", input="my own long password\n"
    )
    assert typed.exit_code == 0 and "password:" not in typed.output
    listed = run_kb(hash_config, "users", "list").output
    assert re.search(r"ito\s+apprentice\s+第二工場\s+伊藤 陽菜 \(must choose a password\)", listed)
    assert re.search(r"tanaka\s+meister\s+本社\s+tanaka / meister tanaka$", listed, re.M)
    as_json = run_kb(hash_config, "users", "list", "--json").output
    assert "password" not in as_json and '"login": "ito"' in as_json
    assert "第二工場  users: 1" in run_kb(hash_config, "orgs", "list").output

    from kb.home import open_db

    conn = open_db(hash_config)
    assert users.authenticate(conn, "ito", password)
    assert run_kb(hash_config, "users", "disable", "ito").exit_code == 0
    with pytest.raises(users.LoginRefused):
        users.authenticate(conn, "ito", password)
    run_kb(hash_config, "users", "enable", "ito")
    new = re.search(r"new password for ito: (\S+)", run_kb(hash_config, "users", "passwd", "ito").output).group(1)
    assert users.authenticate(conn, "ito", new).must_change_password
    bad = run_kb(hash_config, "users", "add", "x y", "--role", "apprentice")
    assert bad.exit_code == 1 and "kb: a login is" in bad.output
    assert run_kb(hash_config, "users", "disable", "ghost").exit_code == 1
    last_admin = run_kb(hash_config, "users", "disable", "admin")
    assert last_admin.exit_code == 1 and "last admin" in last_admin.output


def test_demo_accounts_are_made_once_and_kept_in_a_private_file(hash_config):
    from cli.demo import DEMO_ACCOUNTS, ensure_demo_accounts, read_demo_accounts
    from kb.home import init_home

    conn = init_home(hash_config)
    users.create_user(conn, "admin", "set before the demo", "admin")
    lines = list(ensure_demo_accounts(hash_config, conn))
    path = hash_config.home / "demo-accounts.txt"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    known = read_demo_accounts(hash_config.home)
    assert set(known) == {a.key for a in DEMO_ACCOUNTS} - {"admin"}  # the existing admin is left alone
    for key, (login, password) in known.items():
        assert users.authenticate(conn, login, password).login == login
        assert any(password in line for line in lines)
    assert any("admin" in line and "kb users passwd" in line for line in lines)
    other = users.find_account(conn, "apprentice2")
    assert other.organisation == "第二工場"
    assert users.find_account(conn, "meister").meister == "田中 一郎"

    again = list(ensure_demo_accounts(hash_config, conn))
    assert read_demo_accounts(hash_config.home) == known and users.count_users(conn) == len(DEMO_ACCOUNTS)
    assert not any(password in line for _, password in known.values() for line in again)
    assert str(path) in again[-1]
