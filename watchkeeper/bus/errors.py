"""Errors raised by the message bus; every backend translates its library's errors into these."""

from watchkeeper.domain import WatchkeeperError


class BusError(WatchkeeperError):
    """A bus operation failed (bad subject, not started, publish not acknowledged...)."""

    code = "bus_error"


class BusUnavailableError(BusError):
    """The bus server cannot be reached (or stopped answering)."""

    code = "bus_unavailable"


class MessageFormatError(BusError):
    """Bytes on the bus are not a message this version of Watchkeeper can read."""

    code = "message_format"
