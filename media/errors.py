"""Errors raised by the media package.

One exception type for everything that can go wrong with a user's file (ffmpeg,
subtitles, speech recognition), so that the worker, the CLI and the web app can
catch one class and show its message as is: a single human-readable line that
names the file and the reason, e.g. ``clip.mp4: no audio stream``.
"""
from __future__ import annotations

import os


class MediaError(Exception):
    """A media file (or model) could not be used; ``str(err)`` is one line for a human."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None):
        self.reason = " ".join(str(reason).split())  # always one line
        self.path = None if path is None else os.fspath(path)
        name = os.path.basename(self.path) if self.path else ""
        super().__init__(f"{name}: {self.reason}" if name else self.reason)


class RecognizerError(MediaError):
    """A speech recognition model could not be loaded or run."""
