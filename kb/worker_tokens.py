"""Worker tokens: what a transcription worker on another machine shows the server.

Why a kind of token of its own (not a person's API token): a worker needs to
read the originals of the jobs it is given and to hand back their results --
and nothing else.  A worker token opens only the worker endpoints
(web/views/api_worker.py); a person's token or login opens none of them, and a
worker token opens no page or API a person uses.  Like API tokens it is shown
once, stored as sha256, and revocable (`kb worker-token revoke`).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3

from kb.db import MINUTE_AGO_SQL, NOW_SQL
from kb.errors import InputError

TOKEN_PREFIX = "tkw_"


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(conn: sqlite3.Connection, name: str) -> tuple[int, str]:
    """A new worker token; returns (id, the token in clear: shown once, never stored)."""
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise InputError("a worker token needs a name of 1 to 100 characters (e.g. the machine's name)")
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with conn:
        cur = conn.execute(
            "INSERT INTO worker_tokens(name, token_hash, prefix) VALUES (?, ?, ?)",
            (name, _sha256(clear), clear[: len(TOKEN_PREFIX) + 6]),
        )
    return int(cur.lastrowid), clear


def list_live(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute(
        "SELECT id, name, prefix, created_at, last_used_at FROM worker_tokens WHERE revoked_at IS NULL ORDER BY id"
    )
    return [dict(r) for r in rows]


def revoke(conn: sqlite3.Connection, token_id: int) -> bool:
    with conn:
        return (
            conn.execute(
                f"UPDATE worker_tokens SET revoked_at = {NOW_SQL} WHERE id = ? AND revoked_at IS NULL", (token_id,)
            ).rowcount
            == 1
        )


def lookup(conn: sqlite3.Connection, clear: str | None) -> dict | None:
    """The live worker token (id, name) for a token in clear, or None."""
    if not clear or not clear.startswith(TOKEN_PREFIX) or len(clear) > 200:
        return None
    row = conn.execute(
        "SELECT id, name FROM worker_tokens WHERE token_hash = ? AND revoked_at IS NULL", (_sha256(clear),)
    ).fetchone()
    if row is None:
        return None
    with conn:
        conn.execute(
            f"UPDATE worker_tokens SET last_used_at = {NOW_SQL} WHERE id = ? "
            f"AND (last_used_at IS NULL OR last_used_at < {MINUTE_AGO_SQL})",
            (row["id"],),
        )
    return {"id": row["id"], "name": row["name"]}
