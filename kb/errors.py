"""Domain errors.  The CLI turns each into one clear line and a non-zero exit."""


class KBError(Exception):
    """Base class for errors a user can act on (the message says what and why).

    ``code``: a stable word for programs and translated messages (``too_many``, ``changed``), or None."""

    code: str | None = None


class NotFound(KBError):
    pass


class InputError(KBError):
    """A file or value that cannot be taken: the message names it and the reason.

    ``code`` and ``params`` (optional) let the web UI say the same thing in the
    user's language; the message itself is the English one the CLI prints."""

    params: dict = {}

    def __init__(self, message: str = "", *, code: str | None = None, **params):
        super().__init__(message)
        if code is not None:
            self.code, self.params = code, params


DISK_FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded")


def is_disk_full(e: BaseException | None) -> bool:
    """True when ``e`` (or what caused it) says the disk is full: errno 28 / 122, SQLite's "database or
    disk is full", or a tool's message saying so (ffmpeg prints "No space left on device").

    Why it matters: a full disk is a passing condition of the machine, not a broken file.  The job is
    tried again later, and the person gets "not enough storage space", not "bad file" (issue 16, defect 5)."""
    import errno

    seen = 0
    while e is not None and seen < 5:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(t in str(e).lower() for t in DISK_FULL_TEXTS):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


class DiskFull(KBError):
    """Not enough free space to take or keep something (the reserve of the ``disk_reserve_bytes`` setting)."""
