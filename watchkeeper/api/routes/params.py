"""Shared query-parameter helpers."""

from datetime import datetime
from typing import Annotated

from fastapi import Path as PathParam

from watchkeeper.domain import WatchkeeperError, ensure_utc

MAX_ROW_ID = 2**63 - 1
"""Largest id a database row can have (SQLite and PostgreSQL ``BIGINT``); bigger ones are 422, not 500."""

SegmentIdPath = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID, description="Id of the recorded segment.")]
"""The ``{segment_id}`` path parameter of the recording endpoints."""


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
