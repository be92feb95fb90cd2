"""Domain errors with stable codes; the API maps them to typed 4xx responses."""


class WatchkeeperError(Exception):
    """Base class of every error Watchkeeper raises on purpose."""

    code = "watchkeeper_error"


class NotFoundError(WatchkeeperError):
    """A requested object does not exist (or the caller may not know it exists)."""

    code = "not_found"
