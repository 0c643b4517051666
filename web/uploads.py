"""Uploaded files: streamed to disk under KB_HOME/uploads, never held in memory, never stored under the name given.

Why a request class of our own: Werkzeug's default keeps small uploads in memory
and spools big ones to anonymous files in the system temp folder, with no limit
per file.  A meister's video can be several gigabytes, so every file part of a
multipart body is written straight to ``KB_HOME/uploads/incoming/<random>.<ext>``
(a folder no route serves), and writing stops with a clear 413 as soon as a file
passes ``max_upload_bytes`` (the setting), not after the whole body has arrived.
The stream is installed for the whole app (the CSRF check may parse the form
before the view runs), and whatever a request leaves there is removed when the
request ends: the ingest queue takes its own copy under KB_HOME/originals.

Why the given file name is only metadata: it comes from the client and may be
``../../etc/旋盤の段取り.mp4``.  It is kept, NFC-normalised and reduced to its
last component, as the recording's ``source_name``; the only part that reaches a
path is a plain ASCII extension, which the type detector uses to tell apart
flavours of text (the type itself is decided from the bytes).

(``kb serve`` runs under waitress, which buffers a request body before the app
sees it; its ``max_request_body_size`` must be at least ``max_upload_bytes``.)
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import Flask, current_app, has_app_context, has_request_context
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

INCOMING = Path("uploads") / "incoming"
STALE_SECONDS = 24 * 3600  # a file left by a server that was stopped mid-upload
MAX_NAME_CHARS = 200
_EXTENSION = re.compile(r"[a-z0-9]{1,10}")


class UploadTooLarge(RequestEntityTooLarge):
    """A file part passed the limit while it was being received (HTTP 413, with the limit in words)."""


class StorageFull(HTTPException):
    """Not enough free space on the knowledge base's disk to take the upload (HTTP 507).

    Checked before a file part is written (against the request's size) and while it is written, so the
    disk keeps the ``disk_reserve_bytes`` setting free for the database and the index (issue 16, defect 5)."""

    code = 507


CHECK_SPACE_EVERY = 8 << 20  # bytes written between two free-space checks


def storage_full_message() -> str:
    from flask_babel import gettext as _

    return _(
        "Not enough storage space on the server. Ask the administrator to free some space "
        "(the setting disk_reserve_bytes keeps %(reserve)s free).",
        reserve=human_size(_reserve()),
    )


def _reserve() -> int:
    try:
        return max(0, current_app.config["KB_CONFIG"].get("disk_reserve_bytes"))
    except (KeyError, ValueError):
        return 0


def free_bytes(home: Path) -> int:
    """Free space on the disk of ``home`` (its nearest existing folder)."""
    path = Path(home)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def check_space(home: Path, incoming: int = 0) -> None:
    """StorageFull when taking ``incoming`` more bytes would leave less than the reserve free."""
    if free_bytes(home) - max(0, incoming) < _reserve():
        raise StorageFull(description=storage_full_message())


def size_units() -> tuple[str, str, str, str]:
    """The words of human_size's units in the interface language (bytes: 「バイト」 in Japanese)."""
    word = "bytes"
    if has_request_context():
        from flask_babel import gettext as _

        word = _("bytes")
    return (word, "KB", "MB", "GB")


def human_size(n: int) -> str:
    """4294967296 -> '4 GB' (powers of 1024, as file managers on the shop PCs show them); small sizes in
    the interface language ('12 bytes', 「12 バイト」)."""
    units = size_units()
    size = float(n)
    for i, unit in enumerate(units):
        if size < 1024 or i == len(units) - 1:
            text = f"{size:.1f}".rstrip("0").rstrip(".") if i else str(int(size))
            return f"{text} {unit}"
        size /= 1024
    return f"{n} {units[0]}"  # pragma: no cover - unreachable


def source_name(raw: str | None) -> str:
    """The client's file name as metadata: NFC, last path component, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".").strip()
    if not name:
        return "upload"
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        keep = ("." + ext) if dot and len(ext) <= 10 else ""
        name = name[: MAX_NAME_CHARS - len(keep)] + keep
    return name


def safe_extension(name: str | None) -> str:
    """'.mp4' for 'clip.MP4'; '' when the name has no plain ASCII extension (then no suffix at all)."""
    ext = Path(source_name(name)).suffix.lower().lstrip(".")
    return "." + ext if _EXTENSION.fullmatch(ext) else ""


def incoming_dir(home: Path) -> Path:
    path = Path(home) / INCOMING
    path.mkdir(parents=True, exist_ok=True)
    return path


def sweep(home: Path, older_than: float = STALE_SECONDS) -> int:
    """Remove uploads left behind by a server stopped mid-request; returns how many went."""
    folder = Path(home) / INCOMING
    if not folder.is_dir():
        return 0
    cutoff, removed = time.time() - older_than, 0
    for entry in folder.iterdir():
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
        except OSError:
            pass
    return removed


class LimitedFile:
    """A file on disk that refuses to grow past ``limit`` bytes (the form parser writes each part into one)."""

    def __init__(self, path: Path, limit: int, shown_name: str, home: Path | None = None):
        self.path = path
        self.limit = limit
        self.shown_name = shown_name
        self.size = 0
        self.home = home  # when given: the disk's free space is checked as the file grows
        self._checked_at = 0
        self._file: IO[bytes] = open(path, "w+b")

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            self._drop()
            raise UploadTooLarge(description=too_large_message(self.shown_name, self.limit))
        if self.home is not None and self.size - self._checked_at >= CHECK_SPACE_EVERY:
            self._checked_at = self.size
            try:
                check_space(self.home)
            except StorageFull:
                self._drop()
                raise
        try:
            return self._file.write(data)
        except OSError as e:
            from kb.errors import is_disk_full

            self._drop()
            if is_disk_full(e):
                raise StorageFull(description=storage_full_message()) from None
            raise

    def _drop(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass
        self.path.unlink(missing_ok=True)

    def __getattr__(self, name):  # read, seek, tell, flush, close, ... go to the real file
        return getattr(self._file, name)

    def __iter__(self):
        return iter(self._file)


def too_large_message(name: str, limit: int) -> str:
    from flask_babel import gettext as _

    return _("%(name)s is larger than the upload limit of %(limit)s.", name=name, limit=human_size(limit))


def _limit() -> int:
    return current_app.config["KB_CONFIG"].get("max_upload_bytes")


class UploadStreamMixin:
    """Request mix-in: file parts go to KB_HOME/uploads/incoming through :class:`LimitedFile`."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        if not has_app_context():  # pragma: no cover - requests outside the app keep Werkzeug's default
            return super()._get_file_stream(total_content_length, content_type, filename, content_length)
        home = current_app.config["KB_CONFIG"].home
        check_space(home, total_content_length or 0)  # before a byte of it is written
        path = incoming_dir(home) / (secrets.token_hex(16) + safe_extension(filename))
        stream = LimitedFile(path, _limit(), source_name(filename), home)
        self.__dict__.setdefault("_kb_upload_files", []).append(stream)
        return stream

    def close(self) -> None:
        try:
            super().close()
        finally:
            for stream in self.__dict__.pop("_kb_upload_files", []):
                try:
                    stream._file.close()
                except OSError:
                    pass
                stream.path.unlink(missing_ok=True)


def install(app: Flask) -> None:
    """Make the app's request class stream uploads to disk (keeps any request class already set)."""
    if not issubclass(app.request_class, UploadStreamMixin):
        app.request_class = type("UploadRequest", (UploadStreamMixin, app.request_class), {})
    sweep(app.config["KB_CONFIG"].home)


@dataclass
class Received:
    """One uploaded file, on disk under KB_HOME/uploads/incoming, with the name the client gave."""

    path: Path
    source_name: str
    size: int


def received(storage: FileStorage, home: Path) -> Received | None:
    """The uploaded part as a file on disk; None for the empty part a form sends when no file was chosen."""
    name = source_name(storage.filename)
    stream = storage.stream
    if isinstance(stream, LimitedFile):
        stream.flush()
        if not storage.filename and stream.size == 0:
            return None
        return Received(stream.path, name, stream.size)
    # Not parsed by our request class (an app built without install()): copy it under the limit ourselves.
    path = incoming_dir(home) / (secrets.token_hex(16) + safe_extension(storage.filename))
    limit = _limit()
    copy = LimitedFile(path, limit, name)
    try:
        shutil.copyfileobj(storage.stream, copy)
        copy.flush()
    finally:
        copy._file.close()
    if not storage.filename and copy.size == 0:
        path.unlink(missing_ok=True)
        return None
    return Received(path, name, copy.size)


def discard(item: Received) -> None:
    try:
        os.unlink(item.path)
    except FileNotFoundError:
        pass
