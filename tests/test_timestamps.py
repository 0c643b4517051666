"""One timestamp expression (kb.db.NOW_SQL) and one way to change a recording (kb.recordings.update,
which now takes ``playback`` too, so ingest no longer writes that column by hand)."""

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPRESSION = "strftime('%Y-%m-%dT%H:%M:%SZ'"


def test_the_timestamp_expression_is_written_once_in_python():
    writers = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("tests", "kb-data", "__pycache__"))
        for name in sorted(f for f in files if f.endswith(".py")):
            if EXPRESSION in (Path(root) / name).read_text(encoding="utf-8"):
                writers.append((Path(root) / name).relative_to(REPO).as_posix())
    assert writers == ["kb/db.py"], writers


def test_now_sql_stamps_like_the_column_defaults_and_update_sets_playback(hash_config):
    from kb import db, recordings
    from kb.home import init_home

    conn = init_home(hash_config)
    try:
        with conn:
            rec_id = recordings.create(
                conn,
                title="旋盤",
                kind="video",
                fmt="mp4",
                source_name="a.mp4",
                sha256="0" * 64,
                size_bytes=1,
                meta=recordings.RecordingMeta(),
            )
            conn.execute("UPDATE recordings SET updated_at = '2000-01-01T00:00:00Z' WHERE id = ?", (rec_id,))
            recordings.update(conn, rec_id, playback="original")
        row = conn.execute(
            f"SELECT playback, updated_at, created_at, {db.NOW_SQL} FROM recordings WHERE id = ?", (rec_id,)
        ).fetchone()
    finally:
        conn.close()
    assert row[0] == "original"
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    assert all(stamp.fullmatch(v) for v in row[1:]), row  # the same shape as the schema's DEFAULT
    assert row[1] > "2000-01-01T00:00:00Z"
