"""Issue 16, defect 16: a damaged file is named as damaged, in the reader's language, not with a
library's internal words or a wrong "nothing was said"."""

from __future__ import annotations

import subprocess

import pytest


def _kb(tmp_path):
    from kb.home import init_home
    from kb.settings import load_config

    config = load_config(home=tmp_path / "kb", embed_model="hash", second_embed_model="none")
    return config, init_home(config)


def _video(path, seconds: int = 6, sound: str = "sine=frequency=440:duration={s}") -> None:
    from media.ffmpeg import ffmpeg_binary

    subprocess.run(
        [
            ffmpeg_binary(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size=320x240:rate=25:d={seconds}",
            "-f",
            "lavfi",
            "-t",
            str(seconds),
            "-i",
            sound.format(s=seconds),
            "-shortest",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
            str(path),
        ],
        check=True,
        timeout=120,
    )


@pytest.mark.slow
def test_a_truncated_video_is_called_damaged_not_silent(tmp_path):
    from ingest.pipeline import Ingestor
    from kb.recordings import RecordingMeta

    config, conn = _kb(tmp_path)
    whole = tmp_path / "whole.mp4"
    _video(whole)
    cut = tmp_path / "途中まで.mp4"
    cut.write_bytes(whole.read_bytes()[:20_000])
    result = Ingestor(config, conn).ingest_file(cut, RecordingMeta(language="en"))
    assert not result.ok
    assert "damaged or cut short" in result.message and "nothing was said" not in result.message
    problem = conn.execute(
        "SELECT json_extract(payload, '$.problem.code') FROM jobs WHERE recording_id = ?", (result.recording_id,)
    ).fetchone()[0]
    assert problem == "damaged_media"


def test_a_whole_file_decodes_cleanly_and_nothing_taken_still_says_nothing_was_said(tmp_path):
    from ingest.stages import nothing_taken
    from media.ffmpeg import decode_errors

    whole = tmp_path / "whole.mp4"
    _video(whole, 3)
    assert decode_errors(whole) == []
    e = nothing_taken("whole.mp4", [])
    assert e.code == "no_text" and "nothing was said or written" in str(e)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[:20_000])
    errors = decode_errors(cut)
    assert errors
    assert nothing_taken("cut.mp4", errors, damaged_if_any=True).code == "damaged_media"


@pytest.mark.parametrize("content", [b"%PDF-1.4\n1 0 obj garbage", b"%PDF-1.7\n" + bytes(300)])
def test_a_damaged_pdf_says_so_without_the_libraries_words(tmp_path, content):
    from ingest.documents import DocumentError, extract_document

    p = tmp_path / "壊れた.pdf"
    p.write_bytes(content)
    with pytest.raises(DocumentError) as e:
        extract_document(p, "pdf")
    assert e.value.code == "damaged_pdf" and "damaged PDF" in str(e.value)
    assert "Error" not in e.value.reason and "exceeds" not in e.value.reason


def test_a_pdf_with_a_broken_cross_reference_table(tmp_path):
    from reportlab.pdfgen import canvas

    from ingest.documents import DocumentError, extract_document

    good = tmp_path / "good.pdf"
    c = canvas.Canvas(str(good))
    c.drawString(72, 720, "lathe setup")
    c.save()
    data = good.read_bytes()
    start = data.rindex(b"startxref")
    broken = data[:start] + b"startxref\n999999\n%%EOF\n"
    data = broken.replace(b"/Size ", b"/Size 999999 /Old ", 1)
    p = tmp_path / "xref.pdf"
    p.write_bytes(data)
    try:
        doc = extract_document(p, "pdf")  # pypdf may repair it; then the text is there
        assert "lathe" in doc.text
    except DocumentError as e:
        assert e.code == "damaged_pdf" and "Declared size" not in str(e)


def test_the_studio_says_the_problem_in_japanese(tmp_path):
    from helpers.web import new_user_client
    from ingest.pipeline import Ingestor
    from kb.recordings import RecordingMeta
    from web.app import create_app

    config, conn = _kb(tmp_path)
    p = tmp_path / "壊れた.pdf"
    p.write_bytes(b"%PDF-1.4\n1 0 obj garbage")
    result = Ingestor(config, conn).ingest_file(p, RecordingMeta())
    assert not result.ok
    app = create_app({"KB_CONFIG": config, "TESTING": True})
    client = new_user_client(app, "coordinator")
    client.set_cookie("lang", "ja")
    rows = client.get("/studio", headers={"Accept": "application/json"}).get_json()
    row = next(r for r in _rows(rows) if r["id"] == result.recording_id)
    assert "PDF" in row["error"] and "壊れて" in row["error"]
    client.set_cookie("lang", "en")
    rows = client.get("/studio", headers={"Accept": "application/json"}).get_json()
    row = next(r for r in _rows(rows) if r["id"] == result.recording_id)
    assert "damaged" in row["error"]


def _rows(payload):
    if isinstance(payload, dict):
        for key in ("recordings", "rows", "items"):
            if isinstance(payload.get(key), list):
                return payload[key]
    raise AssertionError(f"no recordings in {list(payload)}")
