"""ingest.detect: kind and format from the content, on real files made by the bundled ffmpeg."""

from __future__ import annotations

import random
import subprocess
import zipfile
from functools import lru_cache

import pytest

from ingest.detect import (
    AUDIO_FORMATS,
    DOCUMENT_FORMATS,
    EXTENSIONS,
    SUBTITLE_FORMATS,
    SUPPORTED_FORMATS,
    VIDEO_FORMATS,
    detect,
)

VIDEO_IN = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=0.4"]
AUDIO_IN = ["-f", "lavfi", "-i", "sine=frequency=440:duration=0.4"]

# name, ffmpeg arguments after the inputs, encoders it needs, expected kind, expected format
MEDIA = [
    ("clip.mp4", VIDEO_IN + AUDIO_IN + ["-c:v", "libx264", "-c:a", "aac"], ["libx264", "aac"], "video", "mp4"),
    ("clip.mov", VIDEO_IN + AUDIO_IN + ["-c:v", "libx264", "-c:a", "aac"], ["libx264", "aac"], "video", "mov"),
    ("clip.mkv", VIDEO_IN + AUDIO_IN + ["-c:v", "libx264", "-c:a", "aac"], ["libx264", "aac"], "video", "mkv"),
    (
        "clip.webm",
        VIDEO_IN + AUDIO_IN + ["-c:v", "libvpx", "-c:a", "libvorbis"],
        ["libvpx", "libvorbis"],
        "video",
        "webm",
    ),
    ("clip.avi", VIDEO_IN + AUDIO_IN + ["-c:v", "mpeg4", "-c:a", "mp2"], ["mpeg4", "mp2"], "video", "avi"),
    (
        "clip.3gp",
        VIDEO_IN + AUDIO_IN + ["-c:v", "h263", "-s", "176x144", "-c:a", "aac", "-ar", "8000", "-ac", "1"],
        ["h263", "aac"],
        "video",
        "3gp",
    ),
    ("clip.ts", VIDEO_IN + AUDIO_IN + ["-c:v", "libx264", "-c:a", "aac"], ["libx264", "aac"], "video", "ts"),
    (
        "clip.mpg",
        VIDEO_IN + AUDIO_IN + ["-c:v", "mpeg2video", "-c:a", "mp2", "-f", "vob"],
        ["mpeg2video", "mp2"],
        "video",
        "mpg",
    ),
    ("clip.wmv", VIDEO_IN + AUDIO_IN + ["-c:v", "wmv2", "-c:a", "wmav2"], ["wmv2", "wmav2"], "video", "wmv"),
    ("clip.ogv", VIDEO_IN + ["-c:v", "libtheora"], ["libtheora"], "video", "ogv"),
    ("tone.wav", AUDIO_IN, ["pcm_s16le"], "audio", "wav"),
    ("tone.mp3", AUDIO_IN + ["-c:a", "libmp3lame"], ["libmp3lame"], "audio", "mp3"),
    ("bare.mp3", AUDIO_IN + ["-c:a", "libmp3lame", "-write_id3v2", "0"], ["libmp3lame"], "audio", "mp3"),
    ("tone.m4a", AUDIO_IN + ["-c:a", "aac"], ["aac"], "audio", "m4a"),
    ("tone.flac", AUDIO_IN, ["flac"], "audio", "flac"),
    ("tone.ogg", AUDIO_IN + ["-c:a", "libvorbis"], ["libvorbis"], "audio", "ogg"),
    ("tone.opus", AUDIO_IN + ["-c:a", "libopus"], ["libopus"], "audio", "opus"),
    ("tone.aac", AUDIO_IN + ["-c:a", "aac", "-f", "adts"], ["aac"], "audio", "aac"),
    ("tone.aiff", AUDIO_IN, ["pcm_s16be"], "audio", "aiff"),
    # a phone voice memo / a browser recording: video containers holding sound only
    ("memo.mp4", AUDIO_IN + ["-c:a", "aac"], ["aac"], "audio", "mp4"),
    ("memo.mov", AUDIO_IN + ["-c:a", "aac"], ["aac"], "audio", "mov"),
    ("memo.webm", AUDIO_IN + ["-c:a", "libopus"], ["libopus"], "audio", "webm"),
    ("memo.mkv", AUDIO_IN + ["-c:a", "flac"], ["flac"], "audio", "mkv"),
    # moov box before the media data (what web-optimised MP4s look like)
    ("fast.mp4", VIDEO_IN + ["-c:v", "libx264", "-movflags", "+faststart"], ["libx264"], "video", "mp4"),
]


@lru_cache(maxsize=1)
def _ffmpeg() -> tuple[str, str]:
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    encoders = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=60).stdout
    return exe, encoders


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.mark.parametrize("name,args,encoders,kind,fmt", MEDIA, ids=[m[0] for m in MEDIA])
def test_real_media_files(media_dir, name, args, encoders, kind, fmt):
    exe, available = _ffmpeg()
    missing = [e for e in encoders if f" {e} " not in available]
    if missing:
        pytest.skip(f"the bundled ffmpeg has no encoder {', '.join(missing)} to write {name}")
    out = media_dir / name
    subprocess.run([exe, "-v", "error", "-y", *args, str(out)], check=True, timeout=60)
    found = detect(out)
    assert (found.kind, found.format, found.reason) == (kind, fmt, None)


def test_content_wins_over_the_name(media_dir):
    exe, available = _ffmpeg()
    if " aac " not in available:
        pytest.skip("the bundled ffmpeg has no aac encoder")
    out = media_dir / "recording.mp3"  # really an M4A
    subprocess.run([exe, "-v", "error", "-y", *AUDIO_IN, "-c:a", "aac", "-f", "ipod", str(out)], check=True, timeout=60)
    found = detect(out)
    assert (found.kind, found.format) == ("audio", "m4a")
    assert "named .mp3" in found.note


def test_real_speech_file(shared_data):
    found = detect(shared_data / "jfk.flac")
    assert (found.kind, found.format) == ("audio", "flac")


# -- refused files -------------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    p = tmp_path / "clip.mp4"
    p.write_bytes(b"")
    found = detect(p)
    assert (found.kind, found.reason) == ("unknown", "empty file (0 bytes)")


def test_text_named_mp4_is_refused(tmp_path):
    p = tmp_path / "clip.mp4"
    p.write_text("これは動画ではありません。\n", encoding="utf-8")
    found = detect(p)
    assert found.kind == "unknown"
    assert "content is text, not video" in found.reason and ".mp4" in found.reason


def test_text_named_pdf_is_refused(tmp_path):
    p = tmp_path / "manual.pdf"
    p.write_text("just text", encoding="utf-8")
    assert detect(p).kind == "unknown" and "not a PDF" in detect(p).reason


@pytest.mark.parametrize(
    "name,content",
    [
        ("list.m3u8", "#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:10,\nhttp://127.0.0.1/seg1.ts\n"),
        ("list.m3u", "/etc/passwd\n"),
        ("concat.txt", "ffconcat version 1.0\nfile '/etc/passwd'\n"),
        ("innocent.mp4", "#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n"),
        ("radio.pls", "[playlist]\nFile1=http://127.0.0.1/stream\n"),
    ],
)
def test_playlists_are_refused(tmp_path, name, content):
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    found = detect(p)
    assert found.kind == "unknown"
    assert found.reason == "playlist/concat files are not accepted"


def test_zip_that_is_not_docx(tmp_path):
    p = tmp_path / "files.docx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("notes.txt", "旋盤")
    found = detect(p)
    assert found.kind == "unknown" and found.format == "zip"
    assert "not a Word document" in found.reason


def test_damaged_zip(tmp_path):
    p = tmp_path / "broken.docx"
    p.write_bytes(b"PK\x03\x04" + bytes(100))
    assert detect(p).kind == "unknown"


def test_random_binary(tmp_path):
    p = tmp_path / "data.bin"
    rng = random.Random(1)
    p.write_bytes(bytes(rng.randrange(256) for _ in range(5000)))
    found = detect(p)
    assert found.kind == "unknown" and found.reason


@pytest.mark.parametrize(
    "magic,fmt",
    [
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    ],
)
def test_other_binaries_get_a_reason(tmp_path, magic, fmt):
    p = tmp_path / "file.mp4"
    p.write_bytes(magic + bytes(200))
    found = detect(p)
    assert (found.kind, found.format) == ("unknown", fmt)
    assert found.reason


def test_heic_photo_is_not_a_video(tmp_path):
    p = tmp_path / "IMG_0001.mov"
    p.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(100))
    assert detect(p).kind == "unknown" and "image" in detect(p).reason


# -- documents and text flavours -------------------------------------------------------------------------


def test_pdf_and_docx(tmp_path):
    pytest.importorskip("reportlab")
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "manual"  # no extension at all
    c = canvas.Canvas(str(pdf))
    c.drawString(50, 800, "Lathe manual")
    c.save()
    assert (detect(pdf).kind, detect(pdf).format) == ("document", "pdf")

    import docx

    d = docx.Document()
    d.add_paragraph("旋盤")
    d.save(tmp_path / "notes.docx")
    assert (detect(tmp_path / "notes.docx").kind, detect(tmp_path / "notes.docx").format) == ("document", "docx")


@pytest.mark.parametrize(
    "name,content,kind,fmt",
    [
        ("notes.md", "旋盤のびびり対策\n", "document", "md"),
        ("notes.markdown", "# 見出し\n本文", "document", "md"),
        ("notes.txt", "# not markdown, the name says text\n", "document", "txt"),
        ("notes", "# 旋盤\n\n- 項目\n- [リンク](http://x)\n", "document", "md"),
        ("notes", "旋盤のびびり対策", "document", "txt"),
        ("README", "Plain words only.", "document", "txt"),
        ("page.html", "<!DOCTYPE html><html><body><p>旋盤</p></body></html>", "document", "html"),
        ("page.htm", "<p>旋盤</p>", "document", "html"),
        ("saved", "<!-- saved from url -->\n<html lang='ja'><p>旋盤</p></html>", "document", "html"),
        ("clip.srt", "1\n00:00:01,000 --> 00:00:02,500\n旋盤です\n", "subtitle", "srt"),
        ("clip.vtt", "WEBVTT\n\n00:01.000 --> 00:02.500\n旋盤です\n", "subtitle", "vtt"),
        ("subs", "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\nhello\r\n", "subtitle", "srt"),
    ],
)
def test_text_flavours(tmp_path, name, content, kind, fmt):
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    found = detect(p)
    assert (found.kind, found.format, found.reason) == (kind, fmt, None)


GCODE_LINE = "G01 X10.000 Z-5.000 F0.10 ; finishing pass    \n"  # 47 characters: 'G' every 188 bytes


@pytest.mark.parametrize(
    "content",
    ["I'm free to use the lathe today.", "bla mdat", "ID3 tags hold titles.", "MZ-5 model notes", GCODE_LINE * 40],
)
def test_text_that_looks_like_a_signature_is_text(tmp_path, content):
    p = tmp_path / "note"
    p.write_text(content, encoding="utf-8")
    assert (detect(p).kind, detect(p).format) == ("document", "txt")


def test_old_quicktime_without_ftyp(tmp_path):
    p = tmp_path / "old"
    p.write_bytes((16).to_bytes(4, "big") + b"wide" + bytes(8) + (8).to_bytes(4, "big") + b"mdat")
    assert (detect(p).kind, detect(p).format) == ("video", "mov")


def test_text_that_mentions_pdf_is_not_a_pdf(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("PDF files start with %PDF-1.7 and end with %%EOF.\n", encoding="utf-8")
    assert (detect(p).kind, detect(p).format) == ("document", "txt")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932", "euc_jp", "utf-16"])
def test_japanese_text_in_any_encoding_is_a_document(tmp_path, encoding):
    p = tmp_path / "memo.txt"
    p.write_bytes("旋盤のびびり対策\n回転数を下げる。".encode(encoding))
    assert (detect(p).kind, detect(p).format) == ("document", "txt")


def test_large_text_cut_inside_a_character(tmp_path):
    p = tmp_path / "long.txt"
    p.write_bytes(("あ" * 30000).encode("utf-8"))  # 90 kB: the 64 KiB head ends inside a character
    assert detect(p).format == "txt"


def test_format_constants_are_consistent():
    groups = [VIDEO_FORMATS, AUDIO_FORMATS, DOCUMENT_FORMATS, SUBTITLE_FORMATS]
    assert sum(len(g) for g in groups) == len(SUPPORTED_FORMATS)  # disjoint
    assert {"mp4", "mov", "mkv", "webm", "avi"} <= VIDEO_FORMATS
    assert {"wav", "mp3", "m4a", "flac", "ogg"} <= AUDIO_FORMATS
    assert {"pdf", "docx", "md", "txt", "html"} == DOCUMENT_FORMATS
    assert {"srt", "vtt"} == SUBTITLE_FORMATS
    assert set(EXTENSIONS) == SUPPORTED_FORMATS
