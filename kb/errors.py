"""Domain errors.  The CLI turns each into one clear line and a non-zero exit."""


class KBError(Exception):
    """Base class for errors a user can act on (the message says what and why)."""


class NotFound(KBError):
    pass


class InputError(KBError):
    """A file or value that cannot be taken: the message names it and the reason."""
