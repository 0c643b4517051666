"""The format of the access-control table (see README.md here; the harness is tests/test_access_table.py).

Each module in this folder (not starting with ``_``) defines ``RULES = [Rule(...), ...]``: for one
route (endpoint + method), a path to request and the status every principal must get.  The
harness requests each rule as each principal (for ``{rec}`` paths: on each kind of recording)
and fails on any other status, and fails when a route of the app has no rule at all.

The expected answers are written here by hand from the rules in docs/accounts.md: this table
is the independent check of kb.access, so it must never be computed from kb.access.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Callable, Mapping

# Who asks.  "other" is the apprentice of the second organisation (第二工場).
PRINCIPALS = ("anonymous", "apprentice", "meister", "coordinator", "admin", "other")
# Which recording {rec} stands for (tests/helpers/web.py builds them; all copies of the demo lathe video):
#   shared    第二工場, shared, meister 中村 (not the table's meister)
#   org       本社, organisation, meister 田中 (= the table's meister)
#   private   本社, private, meister 田中
#   other_org 第二工場, organisation, meister 中村
#   pending   本社, organisation, meister 田中, still processing
#   missing   an id that does not exist
TARGETS = ("shared", "org", "private", "other_org", "pending", "missing")

# Who may see / change which target (by hand, from the rules; the meister is 田中 of 本社).
_ALL = frozenset(TARGETS) - {"missing"}
SEES: Mapping[str, frozenset] = {
    "anonymous": frozenset(),
    "apprentice": frozenset({"shared", "org"}),
    "meister": frozenset({"shared", "org", "private", "pending"}),
    "coordinator": _ALL,
    "admin": _ALL,
    "other": frozenset({"shared", "other_org"}),
}
EDITS: Mapping[str, frozenset] = {
    "anonymous": frozenset(),
    "apprentice": frozenset(),
    "meister": frozenset({"org", "private", "pending"}),
    "coordinator": _ALL,
    "admin": _ALL,
    "other": frozenset(),
}
RANK = {"anonymous": 0, "apprentice": 1, "other": 1, "meister": 2, "coordinator": 3, "admin": 4}

# The answer to an anonymous request for a protected route: 302 to /login for pages,
# 401 for /api/ paths and requests that ask for JSON.  The harness resolves it per rule.
LOGIN = "login"


class Expect:
    """Expected status for (principal, target); target is None for paths without {rec}."""

    def status(self, principal: str, target: str | None) -> int | str:
        raise NotImplementedError


@dataclass(frozen=True)
class _Fn(Expect):
    fn: Callable[[str, str | None], int | str]
    label: str

    def status(self, principal, target):
        return self.fn(principal, target)

    def __repr__(self):
        return self.label


def ANYONE(ok: int = 200) -> Expect:
    """Everyone, logged in or not (the login page, the language switch)."""
    return _Fn(lambda p, t: ok, f"ANYONE({ok})")


def LOGGED_IN(ok: int = 200) -> Expect:
    """Every logged-in user gets ``ok``; anonymous gets LOGIN."""
    return _Fn(lambda p, t: LOGIN if p == "anonymous" else ok, f"LOGGED_IN({ok})")


def ROLE(role: str, ok: int = 200, below: int = 403) -> Expect:
    """Users with ``role`` or above get ``ok``, lower roles ``below`` (403); anonymous gets LOGIN."""

    def fn(p, t):
        if p == "anonymous":
            return LOGIN
        return ok if RANK[p] >= RANK[role] else below

    return _Fn(fn, f"ROLE({role!r}, {ok})")


def VIEW(ok: int = 200, hidden: int = 404, **per_target: int) -> Expect:
    """For {rec} paths: who may see the target gets ``ok`` (or per_target[target], e.g. pending=404),
    everyone else ``hidden`` (404, exactly as for a missing id); anonymous gets LOGIN."""

    def fn(p, t):
        if p == "anonymous":
            return LOGIN
        return per_target.get(t, ok) if t in SEES[p] else hidden

    return _Fn(fn, f"VIEW({ok})")


def EDIT(ok: int = 200, readonly: int = 403, hidden: int = 404, **per_target: int) -> Expect:
    """For {rec} paths that change a recording: who may change it gets ``ok`` (or per_target[target]),
    who may only see it ``readonly`` (403), everyone else ``hidden`` (404); anonymous gets LOGIN."""

    def fn(p, t):
        if p == "anonymous":
            return LOGIN
        if t in EDITS[p]:
            return per_target.get(t, ok)
        return readonly if t in SEES[p] else hidden

    return _Fn(fn, f"EDIT({ok})")


def EACH(default: int | str | None = None, **by_principal: int | str) -> Expect:
    """Spelled out per principal, e.g. EACH(anonymous=LOGIN, admin=303, default=403)."""
    unknown = set(by_principal) - set(PRINCIPALS)
    if unknown:
        raise ValueError(f"unknown principals {sorted(unknown)}")

    def fn(p, t):
        value = by_principal.get(p, default)
        if value is None:
            raise ValueError(f"EACH has no status for {p}")
        return value

    return _Fn(fn, f"EACH({by_principal}, default={default})")


@dataclass
class Context:
    """What a ``values`` function gets: the table's own knowledge base and who is asking."""

    app: object
    conn: object  # sqlite3 connection to the table's copy of the test knowledge base
    config: object  # its kb.settings.Config
    principal: str
    account: object | None  # kb.users.Account of the principal (None for anonymous)
    target: str | None
    recording_id: int | None
    unique: str = field(default_factory=lambda: secrets.token_hex(4))


@dataclass(frozen=True)
class Rule:
    """One route as every principal sees it.

    endpoint  Flask endpoint name ("recordings.media"); method "GET" / "POST" / ...
    path      with placeholders: {rec} (expanded over TARGETS), {unique} (fresh text per request),
              {user} (a new 本社 apprentice's id), {admin_user} (a new admin's id),
              {own_token} / {others_token} (a new API token id of the asking user / of someone else),
              and any name ``values`` returns.
    expect    an Expect (ANYONE, LOGGED_IN, ROLE, VIEW, EDIT, EACH).
    data      form fields (placeholders allowed in values); the harness adds csrf_token.
    json      a JSON body instead (the harness sends the CSRF header).
    headers   extra request headers (e.g. {"Accept": "application/json"}: anonymous then expects 401).
    fresh     {rec} is a new copy of the target for every request (routes that change or delete it).
    fresh_session  the request is made in a new session (routes that end the session, like logout).
    values    function(Context) -> {placeholder: value}, run before every request.
    """

    endpoint: str
    method: str
    path: str
    expect: Expect
    data: Mapping | None = None
    json: Mapping | None = None
    headers: Mapping | None = None
    fresh: bool = False
    fresh_session: bool = False
    values: Callable[[Context], Mapping] | None = None
    note: str = ""

    @property
    def per_target(self) -> bool:
        return "{rec}" in self.path

    def wants_json(self) -> bool:
        accept = (self.headers or {}).get("Accept", "")
        return self.path.startswith("/api/") or "application/json" in accept

    def expected(self, principal: str, target: str | None) -> int:
        status = self.expect.status(principal, target)
        if status == LOGIN:
            return 401 if self.wants_json() else 302
        return int(status)

    def label(self) -> str:
        return f"{self.method} {self.path}"
