"""Adding many people at once from a CSV file (a list kept in Excel): read, check every row, create all.

Why it works this way:

- Excel saves CSV as UTF-8 with a BOM ("CSV UTF-8") or, in Japan, as Shift_JIS (cp932, plain "CSV");
  the file says neither, so the bytes decide: a BOM means UTF-8, bytes that are valid UTF-8 are
  UTF-8, otherwise cp932 (Microsoft's Shift_JIS, which Excel writes: it has ① and 髙).  Anything
  else is refused with one message rather than turned into mojibake names;
- the size is checked before anything is read or decoded, and the number of rows before any
  password is hashed (an argon2 hash takes a noticeable fraction of a second each);
- :func:`parse` checks every row against the same rules as adding one user (kb.users) and who may
  grant what (kb.people), and reports every problem of every row at once (a code per problem, said
  in the user's language by the web pages), so a coordinator fixes the file once;
- :func:`create_all` creates the rows in one transaction, only when no row has a problem: the
  file goes in whole or not at all.  Each person gets a generated first password, returned once to
  be printed and handed over; only its hash is stored, and they must choose their own at the
  first login (the ordinary first-login page).

Columns are found by their heading (the first row), in Japanese or English, in any order; extra
columns are ignored.  Needed: login, name, role; optional: organisation (default: the importer's
own), meister name (for meisters: the name their recordings carry; default: their name).
"""

from __future__ import annotations

import codecs
import csv
import io
import sqlite3
from dataclasses import dataclass, field

from kb import people, users
from kb.access import Viewer
from kb.db import NOW_SQL
from kb.errors import InputError

MAX_BYTES = 512 * 1024
MAX_ROWS = 300

HEADINGS = {
    "login": ("login", "loginid", "ログイン", "ログインid", "ログイン名", "ユーザーid", "ユーザid", "id"),
    "name": ("name", "displayname", "氏名", "名前", "表示名"),
    "role": ("role", "役割", "ロール", "権限"),
    "organisation": ("organisation", "organization", "org", "所属", "事業所", "組織"),
    "meister": ("meister", "meistername", "マイスター名", "記録上のマイスター名"),
}
REQUIRED = ("login", "name", "role")
ROLE_WORDS = {
    "apprentice": ("apprentice", "見習い", "見習", "技術者", "研修生"),
    "meister": ("meister", "マイスター", "技術マイスター"),
    "coordinator": ("coordinator", "コーディネーター", "コーディネータ"),
    "admin": ("admin", "administrator", "管理者"),
}


class ImportFileError(InputError):
    """The file as a whole cannot be read (too large, not text, no heading...); ``code`` for the web pages."""

    def __init__(self, code: str, message: str, **params):
        self.code, self.params = code, params
        super().__init__(message)


@dataclass
class Row:
    line: int  # line number in the file (the heading is line 1)
    login: str
    name: str
    role_text: str
    role: str | None
    organisation_text: str
    organisation: dict | None
    meister: str
    errors: list[tuple[str, dict]] = field(default_factory=list)  # (code, params)

    def public(self) -> dict:
        return {
            "line": self.line,
            "login": self.login,
            "name": self.name,
            "role": self.role or self.role_text,
            "organisation": self.organisation["name"] if self.organisation else self.organisation_text,
            "meister": self.meister,
            "errors": [code for code, _ in self.errors],
        }


@dataclass
class Parsed:
    rows: list[Row]
    encoding: str  # utf-8-sig, utf-8 or cp932
    text: str  # the decoded file, so a confirmation can check and create exactly what was previewed

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not any(r.errors for r in self.rows)

    @property
    def error_count(self) -> int:
        return sum(1 for r in self.rows if r.errors)


def decode(raw: bytes, max_bytes: int = MAX_BYTES) -> tuple[str, str]:
    """(text, encoding) of a CSV file's bytes; ImportFileError when empty, too large or not readable."""
    if len(raw) > max_bytes:
        raise ImportFileError("file_too_large", f"the file is larger than {max_bytes // 1024} KB", kb=max_bytes // 1024)
    if not raw.strip():
        raise ImportFileError("file_empty", "the file is empty")
    if raw.startswith(codecs.BOM_UTF8):
        encodings = ("utf-8-sig",)
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError("file_encoding", "the file is UTF-16: save it as CSV UTF-8 or CSV (Shift_JIS)")
    else:
        encodings = ("utf-8", "cp932")
    for encoding in encodings:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text, encoding
    raise ImportFileError("file_encoding", "the file is neither UTF-8 nor Shift_JIS text")


def _key(text: str) -> str:
    return "".join((text or "").split()).lower().replace("_", "").replace("-", "")


def _columns(heading: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(heading):
        key = _key(cell)
        for column, words in HEADINGS.items():
            if key in words and column not in found:
                found[column] = index
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise ImportFileError(
            "columns_missing", f"the first row must name the columns; missing: {', '.join(missing)}", columns=missing
        )
    return found


def _role(text: str) -> str | None:
    key = _key(text)
    for role, words in ROLE_WORDS.items():
        if key in (_key(w) for w in words):
            return role
    return None


def parse(
    conn: sqlite3.Connection, raw: bytes | str, actor: Viewer, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> Parsed:
    """Read and check the file; every row comes back with its problems (none: it can be created)."""
    if isinstance(raw, str):
        text, encoding = raw, "utf-8"
        if len(raw.encode("utf-8")) > max_bytes:
            raise ImportFileError(
                "file_too_large", f"the file is larger than {max_bytes // 1024} KB", kb=max_bytes // 1024
            )
    else:
        text, encoding = decode(raw, max_bytes)
    try:
        table = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))]
    except csv.Error as e:
        raise ImportFileError("file_broken", f"the file is not a readable CSV: {e}") from None
    numbered = [(i + 1, r) for i, r in enumerate(table) if any(c.strip() for c in r)]
    if not numbered:
        raise ImportFileError("file_empty", "the file is empty")
    columns = _columns(numbered[0][1])
    body = numbered[1:]
    if not body:
        raise ImportFileError("no_rows", "the file has a heading but no people")
    if len(body) > max_rows:
        raise ImportFileError(
            "too_many_rows",
            f"at most {max_rows} people per file (this one has {len(body)})",
            n=max_rows,
            found=len(body),
        )
    grantable = people.grantable_roles(actor)
    existing = {r[0].lower() for r in conn.execute("SELECT login FROM users")}
    seen: dict[str, int] = {}
    rows = []
    for line, cells in body:
        value = {
            column: " ".join(cells[index].split()) if index < len(cells) else "" for column, index in columns.items()
        }
        row = Row(
            line=line,
            login=value.get("login", ""),
            name=value.get("name", ""),
            role_text=value.get("role", ""),
            role=None,
            organisation_text=value.get("organisation", ""),
            organisation=None,
            meister=value.get("meister", ""),
        )
        _check(conn, row, actor, grantable, existing, seen)
        rows.append(row)
    return Parsed(rows, encoding, text)


def _check(conn, row: Row, actor: Viewer, grantable, existing: set[str], seen: dict[str, int]) -> None:
    add = row.errors.append
    if not row.login:
        add(("login_missing", {}))
    elif not users.LOGIN_PATTERN.fullmatch(row.login):
        add(("login_format", {}))
    elif row.login.lower() in existing:
        add(("login_taken", {"login": row.login}))
    elif row.login.lower() in seen:
        add(("login_repeated", {"login": row.login, "line": seen[row.login.lower()]}))
    if row.login:
        seen.setdefault(row.login.lower(), row.line)
    if not row.name:
        add(("name_missing", {}))
    elif len(row.name) > users.MAX_NAME_CHARS:
        add(("name_long", {"n": users.MAX_NAME_CHARS}))
    if not row.role_text:
        add(("role_missing", {}))
    else:
        row.role = _role(row.role_text)
        if row.role is None:
            add(("role_unknown", {"role": row.role_text}))
        elif row.role not in grantable:
            add(("role_not_allowed", {"role": row.role}))
    if len(row.meister) > users.MAX_NAME_CHARS:
        add(("meister_long", {"n": users.MAX_NAME_CHARS}))
    try:
        row.organisation = people.check_organisation(conn, row.organisation_text or actor.organisation_id or 1)
    except people.GrantRefused as e:
        add((e.code, {"name": row.organisation_text}))


def create_all(conn: sqlite3.Connection, parsed: Parsed) -> list[dict]:
    """Create every row in one transaction; [{login, name, role, organisation, password}] in file order.

    Only for a file without problems (ValueError otherwise: check ``parsed.ok`` first).  A login taken
    between the check and this (another coordinator, another tab) ends the transaction: nothing is
    created, and kb.users' "taken" error says which."""
    from kb.recordings import meister_id

    if not parsed.ok:
        raise ValueError("the file has rows with problems; nothing is created")
    made = []
    for row in parsed.rows:
        password = users.generate_password()
        made.append((row, password, users.hash_password(password)))  # slow: outside the transaction
    with conn:
        for row, _password, password_hash in made:
            if conn.execute("SELECT 1 FROM users WHERE login = ?", (row.login,)).fetchone():
                raise users.AccountInputError("login_taken", f"the login {row.login!r} is taken", login=row.login)
            mid = meister_id(conn, row.meister or row.name) if row.role == "meister" else None
            conn.execute(
                f"""INSERT INTO users(organisation_id, login, display_name, role, password_hash, meister_id,
                                     must_change_password, password_changed_at)
                   VALUES (?, ?, ?, ?, ?, ?, 1, {NOW_SQL})""",
                (row.organisation["id"], row.login, row.name, row.role, password_hash, mid),
            )
    return [
        {
            "login": row.login,
            "name": row.name,
            "role": row.role,
            "organisation": row.organisation["name"],
            "password": password,
        }
        for row, password, _ in made
    ]


def template_csv() -> bytes:
    """An example file to fill in (UTF-8 with BOM, so Excel opens the Japanese headings intact)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["ログイン", "氏名", "役割", "所属", "マイスター名"])
    writer.writerow(["sato.hanako", "佐藤 花子", "見習い", "本社", ""])
    writer.writerow(["suzuki.ichiro", "鈴木 一郎", "マイスター", "本社", "鈴木 一郎"])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
