"""What a reader may browse, cut to what they may see (kb.access.visible_where in the SQL): the values the
search filters offer, technique categories with their counts, the newest finished recordings.

Why in SQL aggregates: the home and search pages show these on every visit, over every recording; the
visibility condition goes into the same statement, so a hidden recording's technique, meister, tag or
language never shows in a menu."""

from __future__ import annotations

import sqlite3

from kb.access import Viewer, visible_where
from kb.recordings import KINDS


def technique_counts(conn: sqlite3.Connection, viewer: Viewer) -> list[dict]:
    """Technique categories with how many finished recordings ``viewer`` may see in each, most first."""
    where, params = visible_where(viewer, "r")
    rows = conn.execute(
        "SELECT r.technique AS name, COUNT(*) AS count FROM recordings r WHERE r.status = 'done' "
        f"AND r.technique IS NOT NULL AND r.technique != '' AND {where} GROUP BY r.technique "
        "ORDER BY count DESC, r.technique",
        params,
    )
    return [dict(r) for r in rows]


def facets(conn: sqlite3.Connection, viewer: Viewer) -> dict:
    """Values the filters offer: those present in searchable recordings ``viewer`` may see."""
    where, params = visible_where(viewer, "r")

    def column(sql: str) -> list:
        return [r[0] for r in conn.execute(sql, params)]

    done = f"FROM recordings r WHERE r.status = 'done' AND {where}"
    return {
        "techniques": column(f"SELECT DISTINCT r.technique {done} AND r.technique IS NOT NULL ORDER BY 1"),
        "meisters": column(
            "SELECT DISTINCT m.name FROM recordings r JOIN meisters m ON m.id = r.meister_id "
            f"WHERE r.status = 'done' AND {where} ORDER BY 1"
        ),
        "kinds": [k for k in KINDS if k in set(column(f"SELECT DISTINCT r.kind {done}"))],
        "languages": column(f"SELECT DISTINCT r.language {done} AND r.language IS NOT NULL ORDER BY 1"),
        "tags": column(
            f"SELECT t.value FROM recordings r, json_each(r.tags) t WHERE r.status = 'done' AND {where} "
            "GROUP BY t.value ORDER BY COUNT(*) DESC, t.value"
        ),
    }


def newest_ids(conn: sqlite3.Connection, viewer: Viewer, limit: int) -> list[int]:
    """The ids of the newest finished recordings ``viewer`` may see, newest first."""
    where, params = visible_where(viewer, "r")
    return [
        r[0]
        for r in conn.execute(
            f"SELECT r.id FROM recordings r WHERE r.status = 'done' AND {where} ORDER BY r.id DESC LIMIT ?",
            (*params, limit),
        )
    ]
