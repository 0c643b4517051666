"""Which file the browser plays for a recording, and thumbnails at a moment.

Files are always found from the recording's row (``stored_path``, relative to
KB_HOME) or from KB_HOME/media/<id>/, never from a path in the request, and
the resolved path must stay inside KB_HOME.  A browser-playable copy made at
ingest (KB_HOME/media/<id>/web.mp4, H.264/AAC) is preferred; otherwise the
original is played when browsers can play its format as it is.

Thumbnails are cut lazily by ffmpeg the first time a moment is shown and kept
as KB_HOME/media/<id>/thumb_<seconds>.jpg, so a results page costs one ffmpeg
call per new moment and nothing afterwards.  The second is bounded by the
recording's duration (kb.urls.thumbnail_second, which the thumbnail's address is
built with), so requests cannot fill the disk with thumbnails.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from kb.settings import Config

# Containers/codecs that Chromium, Firefox and Safari play without conversion (mostly).
PLAYABLE = {
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mov": "video/mp4",
    "webm": "video/webm",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
}
WEB_COPY = "web.mp4"
THUMB_WIDTH = 320

_thumb_locks: dict[tuple[int, int], threading.Lock] = {}
_thumb_locks_guard = threading.Lock()


@dataclass
class Playable:
    path: Path
    mimetype: str


def _inside_home(config: Config, relative: str | Path) -> Path | None:
    home = config.home
    path = (home / relative).resolve()
    if not path.is_relative_to(home) or not path.is_file():
        return None
    return path


def playable(config: Config, rec: dict) -> Playable | None:
    """The file to stream for a video/audio recording, or None when there is none the browser can play."""
    if rec.get("kind") not in ("video", "audio"):
        return None
    copy = _inside_home(config, Path("media") / str(int(rec["id"])) / WEB_COPY)
    if copy is not None:
        return Playable(copy, "video/mp4" if rec["kind"] == "video" else "audio/mp4")
    # recordings.playback, decided from the codecs while processing: 'copy'/'none' = browsers cannot play
    # the original (e.g. HEVC .mov); NULL = not decided yet / an older recording: go by the format.
    if rec.get("playback") in ("copy", "none"):
        return None
    fmt = (rec.get("format") or "").lower()
    if rec.get("stored_path") and fmt in PLAYABLE:
        original = _inside_home(config, rec["stored_path"])
        if original is not None:
            mimetype = PLAYABLE[fmt]
            if rec["kind"] == "audio" and mimetype.startswith("video/"):
                mimetype = "audio/mp4"
            return Playable(original, mimetype)
    return None


def thumbnail(config: Config, rec: dict, second: int) -> Path | None:
    """Path of the JPEG at ``second`` (cut now when missing); None when it cannot be made."""
    source = playable(config, rec)
    if source is None and rec.get("stored_path"):
        original = _inside_home(config, rec["stored_path"])
        source = Playable(original, "") if original else None
    if source is None:
        return None
    dest = config.media_dir / str(int(rec["id"])) / f"thumb_{int(second)}.jpg"
    if dest.is_file():
        return dest
    key = (int(rec["id"]), int(second))
    with _thumb_locks_guard:
        lock = _thumb_locks.setdefault(key, threading.Lock())
    with lock:  # two requests for the same new thumbnail run ffmpeg once
        if dest.is_file():
            return dest
        from media.errors import MediaError
        from media.ffmpeg import ffmpeg_binary, make_thumbnail

        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            make_thumbnail(
                source.path,
                dest,
                at_seconds=second,
                width=THUMB_WIDTH,
                timeout=min(60.0, config.get("ffmpeg_timeout")),
                binary=ffmpeg_binary(config.get("ffmpeg")),
            )
        except MediaError:
            return None
        finally:
            with _thumb_locks_guard:
                _thumb_locks.pop(key, None)
    return dest if dest.is_file() else None
