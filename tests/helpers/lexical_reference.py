"""The word statistics over what a searcher may open, counted as search/lexical.py did before issue 17:
one join of every posting to its chunk.  The reference tests/test_matching.py and
tests/test_hidden_counts.py compare the current code with."""

from __future__ import annotations

import json


def old_visible_frequencies(conn, df, n, within, fts="chunk_fts"):
    scope = json.dumps(sorted({int(i) for i in within}))
    outside = "c.recording_id NOT IN (SELECT value FROM json_each(?))"
    if fts == "chunk_fts":
        hidden_n = conn.execute(f"SELECT count(*) FROM chunks c WHERE {outside}", (scope,)).fetchone()[0]
    else:
        hidden_n = conn.execute(
            f"SELECT count(*) FROM {fts} f JOIN chunks c ON c.id = f.rowid WHERE {outside}", (scope,)
        ).fetchone()[0]
    if not hidden_n:
        return df, n
    out = {}
    for t, count in df.items():
        if count > 0:
            hidden = conn.execute(
                f"SELECT count(*) FROM {fts} f JOIN chunks c ON c.id = f.rowid WHERE {fts} MATCH ? AND {outside}",
                ('"' + t.replace('"', '""') + '"', scope),
            ).fetchone()[0]
            count = max(0, count - hidden)
        out[t] = count
    return out, max(0, n - hidden_n)
