"""media.ffmpeg against the real imageio-ffmpeg binary: small media is made by ffmpeg itself
at test time, hostile inputs (corrupt, empty, text, playlists, concat lists) must each give
a MediaError with a clear one-line message, and the format whitelist must hold even when the
content sniffing is bypassed."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from media import ffmpeg as ffm
from media.ffmpeg import (
    MediaError,
    check_input,
    extract_audio_file,
    ffmpeg_binary,
    load_audio,
    make_thumbnail,
    make_web_mp4,
    probe,
    sniff_refusal,
)


def shared_data() -> Path:
    env = os.environ.get("KB_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


JFK = shared_data() / "jfk.flac"
needs_jfk = pytest.mark.skipif(not JFK.is_file(), reason=f"test data missing: {JFK} (set KB_SHARED_DATA)")


def _make(binary: str, *args: str) -> None:
    """Build test media with plain ffmpeg (lavfi sources: only tests may use them)."""
    subprocess.run([binary, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    b = ffmpeg_binary()
    av, vonly, tone = d / "av.mp4", d / "video_only.mp4", d / "tone.wav"
    _make(
        b,
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100:duration=3",
        "-c:v",
        "mpeg4",
        "-c:a",
        "aac",
        "-shortest",
        str(av),
    )
    _make(b, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2", "-c:v", "mpeg4", str(vonly))
    _make(b, "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=8000:duration=2", str(tone))
    return {"av": av, "video_only": vonly, "tone": tone}


def _one_line(err: MediaError, path: Path) -> str:
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith(path.name + ": "), msg
    return msg


# ---------------------------------------------------------------- binary and settings


def test_default_binary_is_the_one_in_imageio_ffmpeg(monkeypatch):
    import imageio_ffmpeg

    monkeypatch.delenv("KB_FFMPEG", raising=False)
    exe = ffmpeg_binary()
    assert exe == imageio_ffmpeg.get_ffmpeg_exe()
    assert os.access(exe, os.X_OK)


def test_setting_and_environment_choose_the_binary(monkeypatch, tmp_path):
    real = ffmpeg_binary()
    link = tmp_path / "my-ffmpeg"
    link.symlink_to(real)
    assert ffmpeg_binary(str(link)) == str(link)
    monkeypatch.setenv("KB_FFMPEG", str(link))
    assert ffmpeg_binary() == str(link)
    with pytest.raises(MediaError, match="ffmpeg binary not found"):
        ffmpeg_binary(str(tmp_path / "missing"))


def test_h264_encoder_is_available():
    assert ffm.h264_encoder() in ("libx264", "libopenh264")


def test_refused_demuxers_are_not_whitelisted():
    allowed = set(ffm._allowed_demuxers(ffmpeg_binary()).split(","))
    assert {"mov", "mp4", "matroska", "wav", "flac", "mp3"} <= allowed
    assert not allowed & {"concat", "hls", "dash", "sdp", "image2", "lavfi", "avisynth", "imf"}


# ---------------------------------------------------------------- probe


def test_probe_video_with_audio(media):
    info = probe(media["av"])
    assert info.has_video and info.has_audio
    assert info.video_codec == "mpeg4" and info.audio_codec == "aac"
    assert (info.width, info.height) == (320, 240)
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert "mp4" in info.format_name and info.container == info.format_name
    assert info.sample_rate == 44100 and info.fps == pytest.approx(25)


def test_probe_video_only(media):
    info = probe(media["video_only"])
    assert info.has_video and not info.has_audio and info.audio_codec is None


@needs_jfk
def test_probe_audio_only():
    info = probe(JFK)
    assert info.has_audio and not info.has_video
    assert info.audio_codec == "flac" and info.format_name == "flac"
    assert info.duration == pytest.approx(11.0, abs=0.05)


# ---------------------------------------------------------------- audio


@needs_jfk
def test_load_audio_gives_16k_mono_float32():
    audio = load_audio(JFK)
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.flags.writeable
    assert abs(audio.size - 11 * 16000) <= 16
    assert np.abs(audio).max() <= 1.0
    assert float(np.sqrt(np.mean(audio**2))) > 0.01  # real speech, not silence


def test_load_audio_other_rate_and_from_video(media):
    assert abs(load_audio(media["tone"], sample_rate=8000).size - 16000) <= 8
    assert abs(load_audio(media["av"]).size - 3 * 16000) <= 1600


def test_load_audio_without_audio_stream(media):
    with pytest.raises(MediaError) as e:
        load_audio(media["video_only"])
    assert _one_line(e.value, media["video_only"]).endswith("no audio stream")


def test_extract_audio_file(media, tmp_path):
    dest = tmp_path / "out" / "audio.wav"
    assert extract_audio_file(media["av"], dest) == dest
    info = probe(dest)
    assert (info.audio_codec, info.sample_rate, info.channels) == ("pcm_s16le", 16000, "mono")
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert os.listdir(dest.parent) == ["audio.wav"]  # no temporary file left behind


@needs_jfk
def test_awkward_file_names_stay_file_names(tmp_path):
    odd = tmp_path / "-i concat:a|b.flac"
    shutil.copy(JFK, odd)
    assert load_audio(odd).size > 10 * 16000


# ---------------------------------------------------------------- thumbnails and web copies


def test_make_thumbnail(media, tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    dest = make_thumbnail(media["av"], tmp_path / "t.jpg", at_seconds=1.5, width=160)
    assert dest.read_bytes()[:2] == b"\xff\xd8"
    assert PIL.open(dest).size == (160, 120)
    # past the end: falls back to the first frame; never upscales
    late = make_thumbnail(media["video_only"], tmp_path / "late.jpg", at_seconds=99, width=320)
    assert PIL.open(late).size == (160, 120)


def test_thumbnail_of_audio_only(media, tmp_path):
    with pytest.raises(MediaError) as e:
        make_thumbnail(media["tone"], tmp_path / "t.jpg", 0.5)
    assert _one_line(e.value, media["tone"]).endswith("no video stream")
    assert not (tmp_path / "t.jpg").exists() and os.listdir(tmp_path) == []


def test_make_web_mp4(media, tmp_path):
    dest = make_web_mp4(media["av"], tmp_path / "web.mp4", max_side=160)
    info = probe(dest)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (160, 120)
    assert info.duration == pytest.approx(3.0, abs=0.15)
    data = dest.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: playable while downloading


def test_phone_video_rotation_is_applied(media, tmp_path):
    rotated = tmp_path / "portrait.mp4"
    _make(ffmpeg_binary(), "-display_rotation", "90", "-i", str(media["av"]), "-c", "copy", str(rotated))
    info = probe(rotated)
    assert (info.width, info.height, abs(info.rotation)) == (320, 240, 90.0)
    web = probe(make_web_mp4(rotated, tmp_path / "web.mp4", max_side=160))
    assert (web.width, web.height, web.rotation) == (120, 160, None)  # upright pixels for the browser


@needs_jfk
def test_make_web_mp4_audio_only(tmp_path):
    info = probe(make_web_mp4(JFK, tmp_path / "web.mp4"))
    assert info.audio_codec == "aac" and not info.has_video


# ---------------------------------------------------------------- hostile and broken input


def _playlist(tmp_path: Path, name: str) -> Path:
    p = tmp_path / name
    p.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:11\n#EXTINF:11,\n{JFK}\n#EXT-X-ENDLIST\n")
    return p


BAD_INPUTS = {
    "garbage.mp4": ("corrupt or unsupported media",),
    "truncated.mp4": ("corrupt or unsupported media",),
    "empty.mp4": ("empty file (0 bytes)",),
    "notes.mp4": ("corrupt or unsupported media", "text file"),
    "list.m3u8": ("refused: playlist/concat input",),
    "hidden_playlist.mp4": ("refused: playlist/concat input", "M3U"),
    "id3_playlist.mp3": ("refused: playlist/concat input",),
    "join.ffconcat": ("refused: playlist/concat input",),
    "join.mp4": ("refused: playlist/concat input", "ffconcat"),
    "list.txt": ("refused: playlist/concat input", "ffconcat"),
    "stream.sdp.mp4": ("refused: playlist/concat input", "SDP"),
    "radio.mp3": ("refused: playlist/concat input", "PLS"),
    "manifest.mp4": ("refused: playlist/concat input", "XML"),
    "missing.mp4": ("file not found",),
}


def _write_bad(name: str, tmp_path: Path, media: dict[str, Path]) -> Path:
    p = tmp_path / name
    concat = f"ffconcat version 1.0\nfile '{JFK}'\n"
    writers = {
        "garbage.mp4": lambda: p.write_bytes(random.Random(7).randbytes(50_000)),
        "truncated.mp4": lambda: p.write_bytes(media["av"].read_bytes()[: media["av"].stat().st_size * 2 // 3]),
        "empty.mp4": lambda: p.write_bytes(b""),
        "notes.mp4": lambda: p.write_text("旋盤のびびりを抑えるには、まず刃物の突き出しを短くする。\n" * 20),
        "list.m3u8": lambda: _playlist(tmp_path, name),
        "hidden_playlist.mp4": lambda: _playlist(tmp_path, name),
        "id3_playlist.mp3": lambda: p.write_bytes(
            b"ID3\x04\x00\x00\x00\x00\x00\x00" + _playlist(tmp_path, "x.m3u8").read_bytes()
        ),
        "join.ffconcat": lambda: p.write_text(concat),
        "join.mp4": lambda: p.write_text(concat),
        "list.txt": lambda: p.write_text(f"# my clips\nfile '{JFK}'\nfile '{JFK}'\n"),
        "stream.sdp.mp4": lambda: p.write_text(
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\n"
        ),
        "radio.mp3": lambda: p.write_text(f"[playlist]\nFile1={JFK}\nNumberOfEntries=1\n"),
        "manifest.mp4": lambda: p.write_text(
            '<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"></MPD>\n'
        ),
        "missing.mp4": lambda: None,
    }
    writers[name]()
    return p


@needs_jfk
@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gives_clear_media_error(name, tmp_path, media):
    path = _write_bad(name, tmp_path, media)
    for call in (probe, load_audio):
        with pytest.raises(MediaError) as e:
            call(path)
        msg = _one_line(e.value, path)
        for fragment in BAD_INPUTS[name]:
            assert fragment in msg, msg


def test_directory_is_refused(tmp_path):
    with pytest.raises(MediaError, match="not a regular file"):
        check_input(tmp_path)


@needs_jfk
def test_format_whitelist_holds_when_sniffing_is_bypassed(tmp_path):
    """Defence in depth: ffmpeg itself must refuse a playlist that slipped past check_input."""
    playlist = _playlist(tmp_path, "clip.m3u8").absolute()
    b = ffmpeg_binary()
    decode = ["-map", "0:a:0", "-f", "null", "-"]
    unprotected = subprocess.run(
        [b, "-nostdin", "-protocol_whitelist", "file,pipe", "-i", "file:" + str(playlist), *decode],
        capture_output=True,
        timeout=60,
    )
    assert unprotected.returncode == 0  # proves the playlist really would pull in jfk.flac
    protected = subprocess.run([b, "-nostdin", *ffm._input_args(b, playlist), *decode], capture_output=True, timeout=60)
    assert protected.returncode != 0


# ---------------------------------------------------------------- timeouts


@needs_jfk
def test_timeout_kills_ffmpeg_and_says_so():
    with pytest.raises(MediaError) as e:
        load_audio(JFK, timeout=0.001)
    assert "ffmpeg timed out after 0.001 s" in _one_line(e.value, JFK)


def test_timeout_leaves_no_partial_output(media, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_FFMPEG_TIMEOUT", "0.001")  # the setting applies when no timeout is given
    with pytest.raises(MediaError, match="timed out"):
        extract_audio_file(media["av"], tmp_path / "a.wav")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    "head, refused",
    [
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", None),
        (b"fLaC\x00\x00\x00\x22\x10\x00", None),
        (b"#EXTM3U\n#EXTINF:1,\nx.ts\n", "playlist"),
        (b"# ffconcat list\r\nfile 'a.mp4'\r\n", "playlist"),
        ("\ufeff#EXTM3U\n".encode("utf-16"), "playlist"),
        ("作業手順書\n刃物を交換する\n".encode("cp932"), "text file"),
        (b"plain notes about welding\n", "text file"),
    ],
)
def test_sniff_refusal(head, refused):
    reason = sniff_refusal(head)
    assert (reason is None) if refused is None else (refused in reason)
