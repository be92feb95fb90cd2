"""Shared query-parameter helpers."""

from datetime import datetime

from watchkeeper.domain import WatchkeeperError, ensure_utc


class InvalidQueryError(WatchkeeperError):
    """A query parameter is well-formed but not acceptable."""

    code = "invalid_request"


def utc_param(name: str, value: datetime | None) -> datetime | None:
    """Accept only time-zone-aware times (``...Z`` or ``+01:00``) and convert them to UTC."""
    if value is None:
        return None
    try:
        return ensure_utc(value)
    except ValueError as err:
        raise InvalidQueryError(f"{name}: give a time zone, e.g. 2026-11-25T10:00:00Z") from err
