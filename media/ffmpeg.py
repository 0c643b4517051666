"""ffmpeg, hardened for files uploaded by strangers.

Everything the knowledge base does to audio and video goes through this module:
probing, decoding audio for speech recognition, 16 kHz WAV copies, thumbnails
and browser-playable MP4 copies.  The binary is the one shipped in the
``imageio-ffmpeg`` wheel (so a fresh machine needs no system ffmpeg) unless the
``ffmpeg`` setting / ``KB_FFMPEG`` names another.  That wheel has no ffprobe, so
:func:`probe` reads what ``ffmpeg -i FILE`` prints.

Why so defensive: a media file is a program for ffmpeg's demuxers.  An HLS
playlist or a concat script named ``clip.mp4`` makes ffmpeg open *other* files
(``/etc/passwd``, another user's upload) even with ``-protocol_whitelist
file,pipe`` -- that only limits protocols, not paths.  So on every call:

* the input is checked before ffmpeg sees it: a regular, non-empty file, not a
  playlist/concat/SDP by name or by content, not a text file;
* ffmpeg gets ``-protocol_whitelist file,pipe`` and a ``-format_whitelist`` of
  every demuxer it has *minus* the ones that follow references to other files
  or run code (concat, hls, dash, sdp, imf, image2 globbing, avisynth,
  vapoursynth, devices such as lavfi) -- a second line of defence if sniffing
  is fooled;
* the path is passed absolute with a ``file:`` prefix (a name like
  ``-i`` or ``concat:a|b`` stays a file name), commands are argument lists,
  never shell strings, and ``-nostdin`` keeps ffmpeg off the terminal;
* every call has a timeout (setting ``ffmpeg_timeout``, 1800 s) after which
  the process is killed.

Commands are built by hand rather than through ffmpeg-python: they are short,
and ``subprocess.run`` gives the timeout and the kill that ffmpeg-python's
``run()`` lacks.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.errors import MediaError

__all__ = [
    "MediaError",
    "MediaInfo",
    "ffmpeg_binary",
    "default_timeout",
    "check_input",
    "probe",
    "load_audio",
    "extract_audio_file",
    "make_thumbnail",
    "make_web_mp4",
    "h264_encoder",
    "browser_playable",
]

DEFAULT_TIMEOUT = 1800.0
REFUSED_PLAYLIST = "refused: playlist/concat input"

# Demuxers that open other files or URLs named inside the input, glob file
# names, run scripts, or read devices.  Never allowed, whatever the binary has.
REFUSED_DEMUXERS = frozenset(
    {
        "concat",
        "hls",
        "applehttp",
        "dash",
        "sdp",
        "rtsp",
        "rtp",
        "sap",
        "imf",
        "image2",
        "avisynth",
        "vapoursynth",
        "dvdvideo",
        "bluray",
        "lavfi",
        "webm_dash_manifest",
        "ffmetadata",
    }
)
# File names that announce a playlist, concat list, stream description or script.
PLAYLIST_SUFFIXES = frozenset(
    {
        ".m3u8",
        ".m3u",
        ".pls",
        ".sdp",
        ".ffconcat",
        ".concat",
        ".xspf",
        ".asx",
        ".wpl",
        ".mpd",
        ".smil",
        ".ism",
        ".ismc",
        ".f4m",
        ".cue",
        ".avs",
        ".vpy",
    }
)
_SNIFF_BYTES = 4096


# ---------------------------------------------------------------- settings


def ffmpeg_binary(setting: str = "") -> str:
    """The ffmpeg to run: ``setting`` or ``KB_FFMPEG`` if given, else the one in imageio-ffmpeg."""
    chosen = setting or os.environ.get("KB_FFMPEG", "")
    if chosen:
        found = shutil.which(chosen)
        if not found:
            raise MediaError(f"ffmpeg binary not found or not executable: {chosen}", code="ffmpeg_missing")
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def default_timeout() -> float:
    """Seconds before an ffmpeg call is killed: ``KB_FFMPEG_TIMEOUT``, else 1800."""
    raw = os.environ.get("KB_FFMPEG_TIMEOUT", "")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


# ---------------------------------------------------------------- input checks


def check_input(path: str | os.PathLike) -> Path:
    """Refuse what ffmpeg must never open; return the absolute path of an acceptable file."""
    p = Path(path).absolute()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise MediaError("file not found", p) from None
    except OSError as e:
        raise MediaError(f"cannot read file: {e.strerror}", p) from None
    if not stat.S_ISREG(st.st_mode):
        raise MediaError("not a regular file", p)
    if st.st_size == 0:
        raise MediaError("empty file (0 bytes)", p, code="empty_file")
    if p.suffix.lower() in PLAYLIST_SUFFIXES:
        raise MediaError(f"{REFUSED_PLAYLIST} ({p.suffix.lower()} file)", p, code="playlist")
    try:
        head = _read_head(p)
    except OSError as e:
        raise MediaError(f"cannot read file: {e.strerror}", p) from None
    reason = sniff_refusal(head)
    if reason:
        raise MediaError(reason, p, code="playlist" if reason.startswith(REFUSED_PLAYLIST) else "text_not_media")
    return p


def _read_head(p: Path) -> bytes:
    """The first bytes ffmpeg's format probing would look at (past any ID3v2 tag)."""
    with open(p, "rb") as f:
        head = f.read(_SNIFF_BYTES)
        if head[:3] == b"ID3" and len(head) >= 10:
            size = 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F))
            if head[5] & 0x10:  # footer present
                size += 10
            f.seek(size)
            head = f.read(_SNIFF_BYTES) or head
    return head


def sniff_refusal(head: bytes) -> str | None:
    """Why these first bytes must not reach ffmpeg (playlist, concat script, text), or None."""
    text = _as_text(head)
    if text is None:
        return None
    low = text.lstrip("\ufeff \t\r\n").lower()
    if low.startswith(("#extm3u", "#extinf", "#ext-x-")):
        return f"{REFUSED_PLAYLIST} (M3U/HLS playlist)"
    first = next((ln.strip() for ln in low.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if low.startswith("ffconcat") or re.match(r"file\s+\S", first):
        return f"{REFUSED_PLAYLIST} (ffconcat list)"
    if low.startswith("[playlist]"):
        return f"{REFUSED_PLAYLIST} (PLS playlist)"
    if re.match(r"v=0\s*$", low.split("\n", 1)[0]):
        return f"{REFUSED_PLAYLIST} (SDP stream description)"
    if low.startswith("<") and re.search(r"<(mpd|smil|asx|playlist|compositionplaylist|assetmap)\b", low):
        return f"{REFUSED_PLAYLIST} (XML playlist/manifest)"
    return "corrupt or unsupported media: this is a text file, not audio or video"


def _as_text(head: bytes) -> str | None:
    """Decode ``head`` if it looks like text (UTF-8/16 or Shift-JIS); None for binary data."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    else:
        if b"\x00" in head:
            return None
        text = None
        for enc in ("utf-8", "cp932"):
            try:
                text = head.decode(enc)
                break
            except UnicodeDecodeError as e:
                if e.start >= len(head) - 3 and e.reason.startswith("unexpected end"):
                    text = head[: e.start].decode(enc, errors="replace")
                    break
        if text is None:
            return None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return text if controls <= len(text) // 100 else None


# ---------------------------------------------------------------- running ffmpeg


@functools.lru_cache(maxsize=8)
def _allowed_demuxers(binary: str) -> str:
    """Comma list for ``-format_whitelist``: every demuxer of this binary except refused ones and devices."""
    listing = _list(binary, "-demuxers")
    devices = {n for n, _ in _parse_format_list(_list(binary, "-devices"))}
    names = []
    for name, is_device in _parse_format_list(listing):
        parts = set(name.split(","))
        if is_device or parts & REFUSED_DEMUXERS or parts & devices:
            continue
        names.append(name)
    if not names:
        raise MediaError(f"cannot list the demuxers of {binary}")
    return ",".join(names)


@functools.lru_cache(maxsize=8)
def _encoders(binary: str) -> frozenset[str]:
    return frozenset(m.group(1) for m in re.finditer(r"(?m)^ [VASFXBD.]{6} (\S+)", _list(binary, "-encoders")))


def _list(binary: str, what: str) -> str:
    try:
        out = subprocess.run(
            [binary, "-hide_banner", "-nostdin", what],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise MediaError(f"cannot run ffmpeg ({binary}): {e}") from None
    return out.stdout.decode("utf-8", errors="replace")


def _parse_format_list(listing: str) -> Iterator[tuple[str, bool]]:
    """(name, is_device) from ``ffmpeg -demuxers`` / ``-devices`` output (old and new layouts)."""
    body = re.split(r"(?m)^\s*-{2,}\s*$", listing, maxsplit=1)
    for line in (body[1] if len(body) > 1 else "").splitlines():
        tokens = line.split()
        flags = []
        while tokens and set(tokens[0]) <= set("DEd."):
            flags.append(tokens.pop(0))
        if tokens and flags:
            yield tokens[0], any("d" in f for f in flags)


def h264_encoder(binary: str | None = None) -> str | None:
    """The H.264 encoder this ffmpeg has for web copies: 'libx264', 'libopenh264' or None."""
    encoders = _encoders(binary or ffmpeg_binary())
    return next((e for e in ("libx264", "libopenh264") if e in encoders), None)


def _input_args(binary: str, path: Path) -> list[str]:
    return [
        "-protocol_whitelist",
        "file,pipe",
        "-format_whitelist",
        _allowed_demuxers(binary),
        "-i",
        "file:" + str(path),
    ]


def _run(args: list[str], path: Path, timeout: float | None, *, stdout: bool = False) -> subprocess.CompletedProcess:
    """Run ffmpeg; kill it after ``timeout`` seconds.  Returns the finished process (any exit code)."""
    limit = default_timeout() if timeout is None else float(timeout)
    try:
        return subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=max(limit, 1e-6),
            check=False,
        )
    except subprocess.TimeoutExpired:  # subprocess.run has already killed and reaped it
        raise MediaError(f"ffmpeg timed out after {limit:g} s", path, code="media_timeout") from None
    except OSError as e:
        raise MediaError(f"cannot run ffmpeg ({args[0]}): {e.strerror}", path, code="ffmpeg_missing") from None


_LOG_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")
_GENERIC = (
    "Error opening input file",
    "Error opening output file",
    "Error opening input files",
    "Error opening output files",
    "Conversion failed",
    "To ignore this",
    "Failed to set value",
    "Error parsing options",
    "At least one output file",
)


def _failure(proc: subprocess.CompletedProcess, path: Path, map_spec: str = "") -> MediaError:
    """Turn ffmpeg's stderr into one line a person can act on."""
    err = proc.stderr.decode("utf-8", errors="replace").replace("file:" + str(path), path.name)
    if "matches no streams" in err and map_spec:
        kind = "audio" if ":a" in map_spec else "video"
        return MediaError(f"no {kind} stream", path, code=f"no_{kind}")
    if "not on whitelist" in err or "not on the whitelist" in err:
        return MediaError(
            "refused: format not allowed (playlist, concat list, image sequence or device)", path, code="playlist"
        )
    details = []
    for line in err.splitlines():
        line = _LOG_PREFIX.sub("", line.strip()).strip()
        if not line or line.startswith(_GENERIC) or "misdetection possible" in line:
            continue
        line = line.removeprefix("Error opening input: ").removeprefix(path.name + ": ")
        if line not in details:
            details.append(line)
    detail = "; ".join(details[:3])[:300] or f"ffmpeg exited with status {proc.returncode}"
    return MediaError(f"corrupt or unsupported media: {detail}", path, code="damaged_media")


@contextlib.contextmanager
def _atomic_output(dest: str | os.PathLike) -> Iterator[Path]:
    """A temporary file beside ``dest`` that replaces it only if the block succeeds."""
    dest = Path(dest).absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + dest.stem[:40] + ".", suffix=".part" + dest.suffix, dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; derived media is served by the web app
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _base(binary: str) -> list[str]:
    return [binary, "-hide_banner", "-nostdin", "-loglevel", "error"]


# ---------------------------------------------------------------- probe


@dataclass
class MediaInfo:
    """What :func:`probe` learns about a file.  Attached cover art does not count as video."""

    path: str
    format_name: str | None
    duration: float | None
    has_audio: bool
    has_video: bool
    audio_codec: str | None = None
    video_codec: str | None = None
    sample_rate: int | None = None
    channels: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    rotation: float | None = None
    pixel_format: str | None = None

    @property
    def container(self) -> str | None:
        return self.format_name


_STREAM = re.compile(
    r"^\s+Stream #0:\d+(?:\[\w+\])?(?:\([^)]*\))?: (Video|Audio|Subtitle|Data|Attachment): (\S+?),?(\s.*)?$"
)


_PIXEL_FORMAT = re.compile(
    r"(?<![\w/])((?:yuvj?|yuva|nv|p0|gbrp?|gray|rgb|bgr|argb|rgba|bgra|abgr|pal|xyz|ya)"
    r"[0-9a-z_]*)(?=[(,\s]|$)"
)


def probe(path: str | os.PathLike, timeout: float | None = None, *, binary: str | None = None) -> MediaInfo:
    """Container, duration and first audio/video streams of ``path`` (raises MediaError if unreadable)."""
    p = check_input(path)
    binary = binary or ffmpeg_binary()
    proc = _run([binary, "-hide_banner", "-nostdin", *_input_args(binary, p)], p, timeout)
    err = proc.stderr.decode("utf-8", errors="replace")
    head = re.search(r"(?m)^Input #0, (.+?), from '", err)
    if not head:
        raise _failure(proc, p)
    info = MediaInfo(path=str(p), format_name=head.group(1), duration=None, has_audio=False, has_video=False)
    dur = re.search(r"(?m)^\s+Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", err)
    if dur:
        info.duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3))
    lines = err.splitlines()
    for i, line in enumerate(lines):
        m = _STREAM.match(line)
        if not m:
            continue
        kind, codec, rest = m.group(1), m.group(2), m.group(3) or ""
        if kind == "Audio" and not info.has_audio:
            info.has_audio, info.audio_codec = True, codec
            sr = re.search(r"(\d+) Hz", rest)
            info.sample_rate = int(sr.group(1)) if sr else None
            ch = re.search(r"\d+ Hz, ([^,]+)", rest)
            info.channels = ch.group(1).strip() if ch else None
        elif kind == "Video" and not info.has_video and "(attached pic)" not in rest:
            info.has_video, info.video_codec = True, codec
            wh = re.search(r"(?<![\w/])([1-9]\d{0,4})x([1-9]\d{0,4})\b", rest)
            if wh:
                info.width, info.height = int(wh.group(1)), int(wh.group(2))
            fps = re.search(r"([\d.]+) fps", rest)
            info.fps = float(fps.group(1)) if fps else None
            pix = _PIXEL_FORMAT.search(rest)
            info.pixel_format = pix.group(1) if pix else None
            info.rotation = _rotation(lines[i + 1 :])
    return info


def _rotation(following: list[str]) -> float | None:
    """The display-matrix rotation printed under a video stream line, if any."""
    for line in following:
        if _STREAM.match(line) or not line.startswith("    "):
            return None
        m = re.search(r"rotation of (-?[\d.]+) degrees", line)
        if m:
            return float(m.group(1))
    return None


# ---------------------------------------------------------------- audio


def load_audio(
    path: str | os.PathLike, sample_rate: int = 16000, timeout: float | None = None, *, binary: str | None = None
) -> np.ndarray:
    """Decode the first audio stream to a mono float32 waveform in [-1, 1] at ``sample_rate``."""
    p = check_input(path)
    binary = binary or ffmpeg_binary()
    args = [
        *_base(binary),
        *_input_args(binary, p),
        "-map",
        "0:a:0",
        "-ac",
        "1",
        "-ar",
        str(int(sample_rate)),
        "-c:a",
        "pcm_f32le",
        "-f",
        "f32le",
        "pipe:1",
    ]
    proc = _run(args, p, timeout, stdout=True)
    if proc.returncode != 0:
        raise _failure(proc, p, "0:a:0")
    audio = np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)  # copy: writable, native order
    if audio.size == 0:
        raise MediaError("no audio could be decoded", p, code="damaged_media")
    return np.clip(audio, -1.0, 1.0, out=audio)  # downmixing/resampling can overshoot slightly


def extract_audio_file(
    path: str | os.PathLike,
    dest_wav: str | os.PathLike,
    timeout: float | None = None,
    *,
    sample_rate: int = 16000,
    binary: str | None = None,
) -> Path:
    """Write the first audio stream as 16-bit mono WAV at ``sample_rate`` (atomically) and return its path."""
    p = check_input(path)
    binary = binary or ffmpeg_binary()
    with _atomic_output(dest_wav) as tmp:
        args = [
            *_base(binary),
            *_input_args(binary, p),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-ar",
            str(int(sample_rate)),
            "-c:a",
            "pcm_s16le",
            "-map_metadata",
            "-1",
            "-f",
            "wav",
            "-y",
            "file:" + str(tmp),
        ]
        proc = _run(args, p, timeout)
        if proc.returncode != 0:
            raise _failure(proc, p, "0:a:0")
    return Path(dest_wav).absolute()


# ---------------------------------------------------------------- pictures and web copies

# Containers (as ingest.detect names them) and codecs that Chromium, Firefox and Safari all play.
_WEB_VIDEO = {"mp4": {"h264"}, "m4v": {"h264"}, "mov": {"h264"}, "webm": {"vp8", "vp9", "av1"}}
_WEB_VIDEO_AUDIO = {"mp4": {"aac", "mp3"}, "m4v": {"aac", "mp3"}, "mov": {"aac", "mp3"}, "webm": {"opus", "vorbis"}}
_WEB_AUDIO = {
    "mp3": {"mp3", "mp3float"},
    "m4a": {"aac"},
    "mp4": {"aac", "mp3"},
    "aac": {"aac"},
    "wav": {"pcm_s16le", "pcm_s24le", "pcm_u8", "pcm_f32le"},
    "flac": {"flac"},
    "ogg": {"vorbis", "opus"},
    "opus": {"opus"},
    "webm": {"opus", "vorbis"},
}
_WEB_PIXEL_FORMATS = frozenset({"yuv420p", "yuvj420p"})


def browser_playable(info: MediaInfo, container: str | None) -> bool:
    """Whether every common browser plays this file as it is (else a :func:`make_web_mp4` copy is needed).

    ``container`` is the format :mod:`ingest.detect` read from the content (mp4, mov, mkv, avi ...): ffmpeg's
    own name cannot tell MKV from WebM.  Video: H.264 in 8-bit 4:2:0 with AAC/MP3 (or no sound) in
    MP4/MOV, or VP8/VP9/AV1 in WebM.  An iPhone's HEVC .mov, AVI, MKV, MPEG-2, WMV and 10-bit or 4:2:2
    H.264 are not: Chrome and Firefox refuse some, Safari others."""
    container = (container or "").lower()
    audio = (info.audio_codec or "").lower()
    if info.has_video:
        video = (info.video_codec or "").lower()
        if video not in _WEB_VIDEO.get(container, ()):
            return False
        if video == "h264" and (info.pixel_format or "") not in _WEB_PIXEL_FORMATS:
            return False
        return not info.has_audio or audio in _WEB_VIDEO_AUDIO.get(container, ())
    if info.has_audio:
        return audio in _WEB_AUDIO.get(container, ())
    return False


def make_thumbnail(
    path: str | os.PathLike,
    dest_jpg: str | os.PathLike,
    at_seconds: float = 0.0,
    width: int = 320,
    timeout: float | None = None,
    *,
    binary: str | None = None,
) -> Path:
    """Save the frame at ``at_seconds`` (the first frame if that is past the end) as a JPEG ``width`` px wide
    at most (never upscaled)."""
    p = check_input(path)
    binary = binary or ffmpeg_binary()
    starts = [max(0.0, float(at_seconds))]
    if starts[0] > 0:
        starts.append(0.0)
    with _atomic_output(dest_jpg) as tmp:
        for start in starts:
            args = [
                *_base(binary),
                "-ss",
                f"{start:.3f}",
                *_input_args(binary, p),
                "-map",
                "0:v:0",
                "-frames:v",
                "1",
                "-vf",
                f"scale=w='min({int(width)},iw)':h=-2",
                "-c:v",
                "mjpeg",
                "-q:v",
                "3",
                "-map_metadata",
                "-1",
                "-f",
                "image2",
                "-update",
                "1",
                "-y",
                "file:" + str(tmp),
            ]
            proc = _run(args, p, timeout)
            if proc.returncode == 0 and tmp.stat().st_size > 0:
                break
            failure = _failure(proc, p, "0:v:0")
            if failure.reason == "no video stream":
                raise failure
        else:
            raise failure
    return Path(dest_jpg).absolute()


def make_web_mp4(
    path: str | os.PathLike,
    dest_mp4: str | os.PathLike,
    timeout: float | None = None,
    *,
    max_side: int = 1280,
    crf: int = 23,
    preset: str = "veryfast",
    binary: str | None = None,
) -> Path:
    """Write a browser-playable copy: H.264 (yuv420p, longest side <= ``max_side``) + AAC in MP4 with
    ``+faststart``, metadata (GPS, device names) stripped.  Audio-only inputs give an audio-only MP4."""
    binary = binary or ffmpeg_binary()
    info = probe(path, timeout, binary=binary)
    p = Path(info.path)
    if not (info.has_audio or info.has_video):
        raise MediaError("no audio or video stream", p, code="no_streams")
    args = [*_base(binary), *_input_args(binary, p)]
    if info.has_video:
        encoder = h264_encoder(binary)
        if encoder is None:
            raise MediaError(f"this ffmpeg ({binary}) has no H.264 encoder (libx264 or libopenh264)", p)
        side = int(max_side)
        args += [
            "-map",
            "0:V:0",
            "-c:v",
            encoder,
            "-pix_fmt",
            "yuv420p",
            "-vf",
            f"scale=w='min({side},iw)':h='min({side},ih)':force_original_aspect_ratio=decrease:force_divisible_by=2",
        ]
        if encoder == "libx264":
            args += ["-preset", preset, "-crf", str(int(crf))]
        else:
            args += ["-b:v", "2M"]
    if info.has_audio:
        args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k"]
    with _atomic_output(dest_mp4) as tmp:
        args += [
            "-sn",
            "-dn",
            "-map_metadata",
            "-1",
            "-map_chapters",
            "-1",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            "-y",
            "file:" + str(tmp),
        ]
        proc = _run(args, p, timeout)
        if proc.returncode != 0:
            raise _failure(proc, p)
    return Path(dest_mp4).absolute()


def decode_errors(
    path: str | os.PathLike, timeout: float | None = None, *, binary: str | None = None, limit: int = 3
) -> list[str]:
    """The first errors ffmpeg reports while decoding the whole file (empty: it decodes cleanly).

    Why: a file cut short (the first 20 KB of a video) is accepted by the probe and gives no sound;
    without this the person is told "nothing was said" instead of "the file is damaged" (issue 16,
    defect 16).  Only called when a file gave no text, so the full decode costs nothing otherwise."""
    p = Path(path)
    binary = binary or ffmpeg_binary()
    proc = _run([*_base(binary), *_input_args(binary, p), "-f", "null", "-"], p, timeout)
    lines = []
    for line in proc.stderr.decode("utf-8", errors="replace").splitlines():
        line = _LOG_PREFIX.sub("", line.replace("file:" + str(p), p.name)).strip()
        if line and line not in lines:
            lines.append(line)
        if len(lines) >= limit:
            break
    if proc.returncode != 0 and not lines:
        lines.append(f"ffmpeg exited with status {proc.returncode}")
    return lines
