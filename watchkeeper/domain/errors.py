"""Domain errors with stable codes; the API maps them to typed 4xx responses."""


class WatchkeeperError(Exception):
    """Base class of every error Watchkeeper raises on purpose."""

    code = "watchkeeper_error"


class NotFoundError(WatchkeeperError):
    """A requested object does not exist (or the caller may not know it exists)."""

    code = "not_found"


class ConflictError(WatchkeeperError):
    """A write conflicts with what is stored (for example it refers to something that does not exist)."""

    code = "conflict"


class DuplicateError(ConflictError):
    """A write would store a second object where only one may exist (a unique key is taken)."""

    code = "duplicate"


class StorageUnavailableError(WatchkeeperError):
    """The database cannot be reached, opened or written (server down, folder not writable, store closed)."""

    code = "storage_unavailable"
