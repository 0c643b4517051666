"""Domain errors.  The CLI turns each into one clear line and a non-zero exit."""


class KBError(Exception):
    """Base class for errors a user can act on (the message says what and why)."""


class NotFound(KBError):
    pass


class InputError(KBError):
    """A file or value that cannot be taken: the message names it and the reason.

    ``code`` and ``params`` (optional) let the web UI say the same thing in the
    user's language; the message itself is the English one the CLI prints."""

    code: str | None = None
    params: dict = {}

    def __init__(self, message: str = "", *, code: str | None = None, **params):
        super().__init__(message)
        if code is not None:
            self.code, self.params = code, params
