"""Errors raised by the media package.

One exception type for everything that can go wrong with a user's file (ffmpeg,
subtitles, speech recognition), so that the worker, the CLI and the web app can
catch one class and show its message as is: a single human-readable line that
names the file and the reason, e.g. ``clip.mp4: no audio stream``.

``code`` (optional) names the problem for the web pages, which say it in the
reader's language in plain words (web.problems) and fold this English reason
away as the technical detail.
"""

from __future__ import annotations

import os


class MediaError(Exception):
    """A media file (or model) could not be used; ``str(err)`` is one line for a human."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None, *, code: str | None = None):
        self.reason = " ".join(str(reason).split())  # always one line
        self.code = code
        self.params: dict = {}
        self.path = None if path is None else os.fspath(path)
        name = os.path.basename(self.path) if self.path else ""
        super().__init__(f"{name}: {self.reason}" if name else self.reason)


class RecognizerError(MediaError):
    """A speech recognition model could not be loaded or run (the administrator's problem, not the file's)."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None, *, code: str | None = "speech_model"):
        super().__init__(reason, path, code=code)
