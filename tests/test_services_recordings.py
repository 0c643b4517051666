"""The application layer (services/): the one delete path `kb delete` and the studio share.

Real SQLite, FTS5 and FAISS throughout, with the model-free hash embedder (these
check plumbing, not search quality).
"""

from __future__ import annotations

import threading

from click.testing import CliRunner

from kb import recordings


def _ingested(config, tmp_path, name="手順.md", text="# 段取り\n\n芯出しを確認してから削る。"):
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from kb.recordings import RecordingMeta

    conn = init_home(config)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = Ingestor(config, conn).ingest_file(path, RecordingMeta())
    assert result.status == "added", result.message
    return conn, result.recording_id


def test_kb_delete_removes_the_original_and_its_emptied_folder_like_the_studio(hash_config, tmp_path):
    from cli.main import cli

    conn, rid = _ingested(hash_config, tmp_path)
    stored = hash_config.home / recordings.get(conn, rid)["stored_path"]
    assert stored.is_file()
    out = CliRunner().invoke(
        cli,
        ["--home", str(hash_config.home), "delete", str(rid)],
        catch_exceptions=False,
        env={"KB_EMBED_MODEL": "hash"},
    )
    assert out.exit_code == 0 and f"deleted #{rid}" in out.output
    assert not stored.exists() and not stored.parent.exists()  # originals/<sha[:2]>/ held only this file
    assert conn.execute("SELECT COUNT(*) FROM chunks WHERE recording_id = ?", (rid,)).fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM recordings WHERE id = ?", (rid,)).fetchone()[0] == 0


def test_delete_waits_for_the_index_write_lock(hash_config, tmp_path):
    """A worker writing the index holds the lock: the delete waits for it instead of racing the save."""
    from search.store import index_write_lock
    from services import recordings as recording_ops

    conn, rid = _ingested(hash_config, tmp_path)
    done = threading.Event()

    def delete():
        from kb import db

        own = db.connect(hash_config.db_path)
        try:
            recording_ops.delete(hash_config, own, rid)
        finally:
            own.close()
            done.set()

    with index_write_lock(hash_config):
        thread = threading.Thread(target=delete)
        thread.start()
        assert not done.wait(1.0)  # blocked on the lock (it cannot finish while the lock is held)
        assert conn.execute("SELECT COUNT(*) FROM recordings WHERE id = ?", (rid,)).fetchone()[0] == 1
    thread.join()
    assert done.is_set()
    assert conn.execute("SELECT COUNT(*) FROM recordings WHERE id = ?", (rid,)).fetchone()[0] == 0
