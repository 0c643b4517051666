"""Accounts: organisations, users, passwords, login limits, browser sessions and API tokens.

Why each piece is as it is:

- passwords are stored only as argon2id hashes (argon2-cffi's defaults); a hash
  made with older parameters is replaced at the next successful login;
- a failed login is answered the same way whether or not the login exists
  (same message, and an argon2 verification is run either way, so the time
  taken does not tell either), and failures are counted per account and per
  network address in SQLite, so guessing stops after a few tries even across
  server restarts;
- a browser session is a random token in a cookie; the database keeps only its
  sha256, so a copied database cannot be used to log in.  Sessions end after a
  stretch without use and after an absolute lifetime; a disabled user's (or
  organisation's) sessions stop working at once because every lookup checks;
- API tokens work the same way: shown once, stored as sha256, revocable.

Everything here is plain functions over a sqlite3 connection, shared by the web
app and the ``kb users`` / ``kb orgs`` commands.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass

from kb.access import ROLES, Viewer
from kb.db import MINUTE_AGO_SQL, NOW_SQL
from kb.errors import InputError, KBError, NotFound

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 200
MAX_NAME_CHARS = 80
LOGIN_PATTERN = re.compile(r"[\w][\w.@-]{1,63}")
TOKEN_PREFIX = "tkb_"
TOUCH_EVERY_SECONDS = 60  # write last_seen_at at most once a minute per session
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: easy to read out and type


class AccountInputError(InputError):
    """A value an account form cannot take; ``code`` lets the web UI say it in the user's language."""

    def __init__(self, code: str, message: str, **params):
        self.code, self.params = code, params
        super().__init__(message)


class LoginRefused(KBError):
    """Wrong login or password (deliberately not saying which)."""

    def __init__(self):
        super().__init__("wrong login or password")


class RateLimited(KBError):
    """Too many failed logins for this account or from this address; ``minutes`` until the next try."""

    def __init__(self, minutes: int):
        self.minutes = minutes
        super().__init__(f"too many failed logins: try again in {minutes} minutes")


@dataclass(frozen=True)
class Account:
    """A user as the rest of the program sees it (never the password hash)."""

    id: int
    organisation_id: int
    organisation: str
    login: str
    display_name: str
    role: str
    meister_id: int | None
    meister: str | None
    disabled: bool
    must_change_password: bool
    created_at: str
    password_changed_at: str | None

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.id, self.role, self.organisation_id, self.meister_id, self.login, self.display_name)

    def public(self) -> dict:
        return {
            "id": self.id,
            "login": self.login,
            "display_name": self.display_name,
            "role": self.role,
            "organisation_id": self.organisation_id,
            "organisation": self.organisation,
            "meister": self.meister,
            "disabled": self.disabled,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Limits:
    """Session lifetimes and login limits, from the settings (see kb.settings)."""

    idle_seconds: float = 480 * 60
    max_seconds: float = 168 * 3600
    max_failures: int = 5
    max_failures_per_address: int = 20
    window_seconds: float = 15 * 60

    @classmethod
    def from_config(cls, config) -> "Limits":
        return cls(
            idle_seconds=config.get("session_idle_minutes") * 60,
            max_seconds=config.get("session_max_hours") * 3600,
            max_failures=config.get("login_max_failures"),
            max_failures_per_address=config.get("login_max_failures_per_address"),
            window_seconds=config.get("login_window_minutes") * 60,
        )


@dataclass(frozen=True)
class Session:
    id: str  # sha256 of the cookie token
    account: Account
    csrf_token: str
    created_at: float
    last_seen_at: float
    expires_at: float


# ---------------------------------------------------------------- passwords


# Tests only (kb.settings.NOT_SETTINGS): argon2id at its lowest cost, 0.5 ms a hash instead of ~100 ms, so the
# suite's thousands of logins do not dominate it.  Safe if ever set by mistake on a real server: a hash made
# with these parameters is upgraded to the library's at the next login without the switch (authenticate).
def _hasher():
    from argon2 import PasswordHasher

    if os.environ.get("KB_TEST_FAST_HASH"):
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _verify(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    """A hash to verify against when the login does not exist, so both cases take the same time."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def generate_password() -> str:
    """A random password that is easy to read out and type: four groups of four (about 79 bits)."""
    return "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))


def check_password_rules(password: str, login: str | None = None) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise AccountInputError(
            "password_short", f"the password must have at least {MIN_PASSWORD_CHARS} characters", n=MIN_PASSWORD_CHARS
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountInputError(
            "password_long", f"the password must have at most {MAX_PASSWORD_CHARS} characters", n=MAX_PASSWORD_CHARS
        )
    if login and password.strip().lower() == login.strip().lower():
        raise AccountInputError("password_is_login", "the password must not be the login")


# ---------------------------------------------------------------- organisations


def _clean_name(name: str | None, what: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise AccountInputError("name_empty", f"{what} is empty")
    if len(name) > MAX_NAME_CHARS:
        raise AccountInputError("name_long", f"{what} is longer than {MAX_NAME_CHARS} characters", n=MAX_NAME_CHARS)
    return name


def create_organisation(conn: sqlite3.Connection, name: str) -> int:
    name = _clean_name(name, "the organisation name")
    if conn.execute("SELECT 1 FROM organisations WHERE name = ?", (name,)).fetchone():
        raise AccountInputError("organisation_exists", f"an organisation named {name!r} exists already", name=name)
    with conn:
        return int(conn.execute("INSERT INTO organisations(name) VALUES (?)", (name,)).lastrowid)


def list_organisations(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute(
        """SELECT o.id, o.name, o.disabled, o.created_at, o.language,
                  (SELECT COUNT(*) FROM users u WHERE u.organisation_id = o.id) AS users,
                  (SELECT COUNT(*) FROM recordings r WHERE r.organisation_id = o.id) AS recordings
           FROM organisations o ORDER BY o.id"""
    )
    return [dict(r, disabled=bool(r["disabled"])) for r in rows]


def organisation_choices(conn: sqlite3.Connection) -> list[dict]:
    """Every organisation as ``{"id", "name"}``, oldest first: what a form's organisation menu offers."""
    return [dict(r) for r in conn.execute("SELECT id, name FROM organisations ORDER BY id")]


# The languages an organisation may have as its own (the ones the studio offers for a recording).
ORGANISATION_LANGUAGES = ("ja", "en")


def set_organisation_language(conn: sqlite3.Connection, organisation_id: int, language: str | None) -> bool:
    """Set the organisation's language for speech recognition (None or '' = the setting
    fallback_language again).  True when it changed.

    Why per organisation: a short clip whose language Whisper is unsure of is transcribed in the
    language its workshop speaks; one programme may hold a Japanese factory and an English-speaking
    site, and one setting for the whole installation cannot serve both."""
    code = (language or "").strip().lower() or None
    if code is not None and code not in ORGANISATION_LANGUAGES:
        raise AccountInputError(
            "language_unknown",
            f"unknown language {language!r} (one of: {', '.join(ORGANISATION_LANGUAGES)}, or empty for the setting)",
        )
    organisation = find_organisation(conn, int(organisation_id))
    with conn:
        return (
            conn.execute(
                "UPDATE organisations SET language = ? WHERE id = ? AND language IS NOT ?",
                (code, organisation["id"], code),
            ).rowcount
            > 0
        )


def organisation_language(conn: sqlite3.Connection, organisation_id: int | None, default: str | None) -> str | None:
    """The language a recording of this organisation falls back to when detection is unsure: its own
    language when it set one, else ``default`` (the setting fallback_language)."""
    if organisation_id is None:
        return default
    row = conn.execute("SELECT language FROM organisations WHERE id = ?", (int(organisation_id),)).fetchone()
    return (row[0] if row is not None else None) or default


def find_organisation(conn: sqlite3.Connection, name_or_id: str | int) -> dict:
    """An organisation by id or exact name; NotFound says which names exist."""
    row = None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        row = conn.execute("SELECT * FROM organisations WHERE id = ?", (int(name_or_id),)).fetchone()
    if row is None:
        row = conn.execute("SELECT * FROM organisations WHERE name = ?", (str(name_or_id).strip(),)).fetchone()
    if row is None:
        names = ", ".join(r["name"] for r in conn.execute("SELECT name FROM organisations ORDER BY id"))
        raise NotFound(f"no organisation {name_or_id!r} (there are: {names})")
    return dict(row)


# ---------------------------------------------------------------- users


_ACCOUNT_SELECT = """SELECT u.*, o.name AS organisation, m.name AS meister, o.disabled AS organisation_disabled
                     FROM users u JOIN organisations o ON o.id = u.organisation_id
                     LEFT JOIN meisters m ON m.id = u.meister_id"""


def _account(row: sqlite3.Row) -> Account:
    return Account(
        id=row["id"],
        organisation_id=row["organisation_id"],
        organisation=row["organisation"],
        login=row["login"],
        display_name=row["display_name"],
        role=row["role"],
        meister_id=row["meister_id"],
        meister=row["meister"],
        disabled=bool(row["disabled"] or row["organisation_disabled"]),
        must_change_password=bool(row["must_change_password"]),
        created_at=row["created_at"],
        password_changed_at=row["password_changed_at"],
    )


def count_users(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]


def get_account(conn: sqlite3.Connection, user_id: int) -> Account:
    row = conn.execute(_ACCOUNT_SELECT + " WHERE u.id = ?", (user_id,)).fetchone()
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    return _account(row)


def find_account(conn: sqlite3.Connection, login: str) -> Account:
    row = conn.execute(_ACCOUNT_SELECT + " WHERE u.login = ?", ((login or "").strip(),)).fetchone()
    if row is None:
        raise NotFound(f"no user with login {login!r}")
    return _account(row)


def list_accounts(conn: sqlite3.Connection, organisation_id: int | None = None) -> list[Account]:
    where, params = (" WHERE u.organisation_id = ?", (organisation_id,)) if organisation_id else ("", ())
    return [_account(r) for r in conn.execute(_ACCOUNT_SELECT + where + " ORDER BY o.id, u.login", params)]


def create_user(
    conn: sqlite3.Connection,
    login: str,
    password: str,
    role: str,
    organisation_id: int = 1,
    display_name: str | None = None,
    meister: str | None = None,
    must_change_password: bool = False,
) -> int:
    """A new user.  A meister is linked to the meister name their recordings carry (default: their
    display name), which is what makes those recordings theirs (kb.access.owns)."""
    from kb.recordings import meister_id

    login = (login or "").strip()
    if not LOGIN_PATTERN.fullmatch(login):
        raise AccountInputError("login_format", "a login is 2 to 64 letters, digits or . _ @ - (no spaces)")
    if role not in ROLES:
        raise AccountInputError("role_unknown", f"role must be one of {', '.join(ROLES)}")
    check_password_rules(password, login)
    display_name = _clean_name(display_name or login, "the display name")
    organisation = find_organisation(conn, organisation_id)
    if organisation["disabled"]:
        raise AccountInputError(
            "organisation_disabled", f"organisation {organisation['name']!r} is disabled", name=organisation["name"]
        )
    if conn.execute("SELECT 1 FROM users WHERE login = ?", (login,)).fetchone():
        raise AccountInputError("login_taken", f"the login {login!r} is taken", login=login)
    if role == "meister" and not meister:
        meister = display_name
    password_hash = hash_password(password)
    with conn:
        mid = meister_id(conn, _clean_name(meister, "the meister name")) if meister else None
        cur = conn.execute(
            f"""INSERT INTO users(organisation_id, login, display_name, role, password_hash, meister_id,
                                 must_change_password, password_changed_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, {NOW_SQL})""",
            (organisation["id"], login, display_name, role, password_hash, mid, int(must_change_password)),
        )
    return int(cur.lastrowid)


def set_disabled(conn: sqlite3.Connection, user_id: int, disabled: bool = True) -> None:
    """Disable (sessions and tokens stop working at once) or enable a user.  The last admin stays."""
    account = get_account(conn, user_id)
    if disabled and account.role == "admin":
        others = conn.execute(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?", (user_id,)
        ).fetchone()[0]
        if others == 0:
            raise AccountInputError("last_admin", "the last admin cannot be disabled (make another admin first)")
    with conn:
        conn.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user_id))
        if disabled:  # ended for good: enabling the user again does not bring sessions or tokens back
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            _revoke_all_tokens(conn, user_id)


def set_password(
    conn: sqlite3.Connection,
    user_id: int,
    password: str,
    *,
    must_change: bool = False,
    keep_session_id: str | None = None,
) -> None:
    """Store a new password; end the user's other sessions (all of them unless one is kept) and every
    API token: a new password is the answer to a compromised account, and a token taken with the old
    one must not outlive it (issue 16, defect 13)."""
    account = get_account(conn, user_id)
    check_password_rules(password, account.login)
    password_hash = hash_password(password)
    with conn:
        conn.execute(
            "UPDATE users SET password_hash = ?, must_change_password = ?, "
            f"password_changed_at = {NOW_SQL} WHERE id = ?",
            (password_hash, int(must_change), user_id),
        )
        conn.execute("DELETE FROM sessions WHERE user_id = ? AND id IS NOT ?", (user_id, keep_session_id))
        _revoke_all_tokens(conn, user_id)


def _revoke_all_tokens(conn: sqlite3.Connection, user_id: int) -> int:
    """Revoke every live API token of the user (inside the caller's transaction)."""
    return conn.execute(
        f"UPDATE api_tokens SET revoked_at = {NOW_SQL} WHERE user_id = ? AND revoked_at IS NULL", (user_id,)
    ).rowcount


def change_password(
    conn: sqlite3.Connection, user_id: int, current: str, new: str, keep_session_id: str | None = None
) -> None:
    """The user's own change: the current password must be right; other sessions end."""
    row = conn.execute("SELECT password_hash FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    if not _verify(row["password_hash"], current or ""):
        raise AccountInputError("current_password_wrong", "the current password is wrong")
    if current == new:
        raise AccountInputError("password_unchanged", "the new password must differ from the current one")
    set_password(conn, user_id, new, keep_session_id=keep_session_id)


def reset_password(conn: sqlite3.Connection, user_id: int) -> str:
    """A new generated password (returned once, to hand over); the user must change it at next login."""
    password = generate_password()
    set_password(conn, user_id, password, must_change=True)
    return password


# ---------------------------------------------------------------- logging in


def _key(login: str) -> str:
    return (login or "").strip().lower()


def _wait_minutes(conn, column: str, value: str, limit: int, limits: Limits, now: float) -> int | None:
    """Minutes to wait when ``limit`` failures for this login/address lie inside the window, else None."""
    rows = conn.execute(
        f"SELECT at FROM login_attempts WHERE {column} = ? AND ok = 0 AND at > ? ORDER BY at DESC LIMIT ?",
        (value, now - limits.window_seconds, limit),
    ).fetchall()
    if len(rows) < limit:
        return None
    free_at = rows[-1]["at"] + limits.window_seconds  # when the oldest of those leaves the window
    return max(1, math.ceil((free_at - now) / 60))


def authenticate(
    conn: sqlite3.Connection,
    login: str,
    password: str,
    address: str | None = None,
    limits: Limits = Limits(),
    now: float | None = None,
) -> Account:
    """The account for a right login and password; RateLimited or LoginRefused otherwise.

    The attempt is counted (as a failure) in the same write transaction that checks the limits, before
    the password is checked; a right password then marks it a success.  So parallel guesses cannot all
    pass the check before any of them is counted (issue 16, defect 14: 24 parallel guesses made 10
    password checks with a limit of 5)."""
    now = time.time() if now is None else now
    key = _key(login)
    address = address or "-"
    conn.commit()  # BEGIN IMMEDIATE needs no transaction open on this connection
    conn.execute("BEGIN IMMEDIATE")  # the database's write lock: one attempt is counted at a time
    try:
        waits = [
            w
            for w in (
                _wait_minutes(conn, "login", key, limits.max_failures, limits, now),
                _wait_minutes(conn, "address", address, limits.max_failures_per_address, limits, now),
            )
            if w is not None
        ]
        if waits:
            raise RateLimited(max(waits))
        conn.execute("DELETE FROM login_attempts WHERE at < ?", (now - 4 * limits.window_seconds,))
        attempt = conn.execute(
            "INSERT INTO login_attempts(login, address, at, ok) VALUES (?, ?, ?, 0)", (key, address, now)
        ).lastrowid
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    row = (
        conn.execute(
            _ACCOUNT_SELECT.replace("SELECT u.*", "SELECT u.*, u.password_hash AS hash") + " WHERE u.login = ?",
            ((login or "").strip(),),
        ).fetchone()
        if key
        else None
    )
    ok = _verify(row["hash"] if row is not None else _dummy_hash(), password or "")
    account = _account(row) if row is not None else None
    ok = ok and account is not None and not account.disabled
    if not ok:
        raise LoginRefused()
    with conn:
        conn.execute("UPDATE login_attempts SET ok = 1 WHERE id = ?", (attempt,))
        conn.execute("DELETE FROM login_attempts WHERE login = ? AND ok = 0", (key,))
    if _hasher().check_needs_rehash(row["hash"]):
        with conn:
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (hash_password(password), account.id))
    return account


# ---------------------------------------------------------------- browser sessions


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def peek_token(conn: sqlite3.Connection, clear: str) -> Account | None:
    """lookup_token without its writes (no last-used time, no disabled check): for a read-only connection,
    as web.bodylimit's, which runs in the server's network thread before the app."""
    if len(clear) > 200:
        return None
    row = conn.execute(
        "SELECT user_id FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", (_sha256(clear),)
    ).fetchone()
    return get_account(conn, row[0]) if row else None


def peek_session(conn: sqlite3.Connection, token: str | None, limits: Limits) -> Session | None:
    """lookup_session without its writes (an expired session is not deleted, last-seen not moved)."""
    if not token or len(token) > 200:
        return None
    row = conn.execute("SELECT * FROM sessions WHERE id = ?", (_sha256(token),)).fetchone()
    now = time.time()
    if row is None or row["expires_at"] <= now or row["last_seen_at"] + limits.idle_seconds <= now:
        return None
    account = get_account(conn, row["user_id"])
    return Session(row["id"], account, row["csrf_token"], row["created_at"], row["last_seen_at"], row["expires_at"])


def create_session(
    conn: sqlite3.Connection,
    user_id: int,
    limits: Limits = Limits(),
    address: str | None = None,
    now: float | None = None,
) -> tuple[str, Session]:
    """A new session; returns the cookie token (given to the browser, never stored) and the session."""
    now = time.time() if now is None else now
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with conn:
        conn.execute(
            "DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?", (now, now - limits.idle_seconds)
        )
        conn.execute(
            "INSERT INTO sessions(id, user_id, csrf_token, created_at, last_seen_at, expires_at, address) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_sha256(token), user_id, csrf, now, now, now + limits.max_seconds, address),
        )
    return token, Session(_sha256(token), get_account(conn, user_id), csrf, now, now, now + limits.max_seconds)


def lookup_session(
    conn: sqlite3.Connection, token: str | None, limits: Limits = Limits(), now: float | None = None
) -> Session | None:
    """The live session for a cookie token, or None (expired, idle too long, unknown, user disabled)."""
    if not token or len(token) > 200:
        return None
    now = time.time() if now is None else now
    sid = _sha256(token)
    row = conn.execute("SELECT * FROM sessions WHERE id = ?", (sid,)).fetchone()
    if row is None:
        return None
    if row["expires_at"] <= now or row["last_seen_at"] + limits.idle_seconds <= now:
        with conn:
            conn.execute("DELETE FROM sessions WHERE id = ?", (sid,))
        return None
    try:
        account = get_account(conn, row["user_id"])
    except NotFound:
        return None
    if account.disabled:
        return None
    last_seen = row["last_seen_at"]
    if now - last_seen >= TOUCH_EVERY_SECONDS:
        with conn:
            conn.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ?", (now, sid))
        last_seen = now
    return Session(sid, account, row["csrf_token"], row["created_at"], last_seen, row["expires_at"])


def delete_session(conn: sqlite3.Connection, token: str | None) -> None:
    if token:
        with conn:
            conn.execute("DELETE FROM sessions WHERE id = ?", (_sha256(token),))


def end_sessions(conn: sqlite3.Connection, user_id: int, keep_session_id: str | None = None) -> int:
    with conn:
        return conn.execute(
            "DELETE FROM sessions WHERE user_id = ? AND id IS NOT ?", (user_id, keep_session_id)
        ).rowcount


# ---------------------------------------------------------------- API tokens


def create_token(conn: sqlite3.Connection, user_id: int, name: str) -> tuple[int, str]:
    """A new API token for the user; returns (id, the token in clear: shown once, never stored)."""
    name = _clean_name(name, "the token name")
    get_account(conn, user_id)
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with conn:
        cur = conn.execute(
            "INSERT INTO api_tokens(user_id, name, token_hash, prefix) VALUES (?, ?, ?, ?)",
            (user_id, name, _sha256(clear), clear[: len(TOKEN_PREFIX) + 6]),
        )
    return int(cur.lastrowid), clear


def list_tokens(conn: sqlite3.Connection, user_id: int) -> list[dict]:
    """The user's tokens that still work (names, prefixes and dates; never the hash)."""
    rows = conn.execute(
        "SELECT id, name, prefix, created_at, last_used_at FROM api_tokens "
        "WHERE user_id = ? AND revoked_at IS NULL ORDER BY id",
        (user_id,),
    )
    return [dict(r) for r in rows]


def revoke_token(conn: sqlite3.Connection, user_id: int, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False when there is no such live token of theirs."""
    with conn:
        return (
            conn.execute(
                f"UPDATE api_tokens SET revoked_at = {NOW_SQL} WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                (token_id, user_id),
            ).rowcount
            == 1
        )


def lookup_token(conn: sqlite3.Connection, clear: str | None) -> Account | None:
    """The account a live token belongs to (None: unknown, revoked, or the user is disabled)."""
    if not clear or not clear.startswith(TOKEN_PREFIX) or len(clear) > 200:
        return None
    row = conn.execute(
        "SELECT id, user_id FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", (_sha256(clear),)
    ).fetchone()
    if row is None:
        return None
    account = get_account(conn, row["user_id"])
    if account.disabled:
        return None
    with conn:
        conn.execute(
            f"UPDATE api_tokens SET last_used_at = {NOW_SQL} WHERE id = ? "
            f"AND (last_used_at IS NULL OR last_used_at < {MINUTE_AGO_SQL})",
            (row["id"],),
        )
    return account
