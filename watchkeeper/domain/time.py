"""Time helpers: every time in Watchkeeper is an aware UTC ``datetime``."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` converted to UTC.

    Args:
        value: An aware datetime. Naive datetimes are rejected because their zone is unknown.

    Raises:
        ValueError: If ``value`` is naive.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"expected an aware datetime with a time zone, got naive {value.isoformat()}")
    return value.astimezone(UTC)
