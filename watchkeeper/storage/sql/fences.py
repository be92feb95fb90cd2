"""Fencing tokens: index writes of a camera carry its lease token; a write with an older token is refused.

The check and the write share one transaction. The check is a single ``INSERT ... ON CONFLICT DO UPDATE
... WHERE fences.token <= excluded.token RETURNING token`` statement: PostgreSQL locks the camera's row
for the rest of the transaction (a concurrent writer waits, then sees the newer token), and SQLite runs
every write on its one writer thread. Token 0 (``UNFENCED``, single-box leases) is admitted without being
recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper.domain import CameraId, DuplicateError, Event, Segment, utcnow
from watchkeeper.storage.fenced import FencedOutcome, FencedResult, FencedWrite
from watchkeeper.storage.sql.engine import Database
from watchkeeper.storage.sql.models import EventRow, FenceRow, SegmentRow
from watchkeeper.storage.sql.repositories import event_values, segment_row, upsert_row

log = logging.getLogger(__name__)

UNFENCED_TOKEN = 0
"""Admitted always and never recorded: the token of single-box leases."""


def _check_token(token: int) -> None:
    if token < 0:
        raise ValueError(f"a fencing token is a non-negative integer, got {token}")


def admit_in(session: Session, camera_id: CameraId, token: int) -> bool:
    """In the caller's transaction: record ``token`` unless a newer one was seen; True when admitted."""
    if token == UNFENCED_TOKEN:
        return True
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(FenceRow).values(camera_id=camera_id, token=token, updated_at=utcnow())
    stmt = stmt.on_conflict_do_update(
        index_elements=[FenceRow.camera_id],
        set_={"token": stmt.excluded.token, "updated_at": stmt.excluded.updated_at},
        where=FenceRow.token <= stmt.excluded.token,
    ).returning(FenceRow.token)
    admitted = session.execute(stmt).first() is not None
    if not admitted:
        log.warning("refused a stale index write for camera %s (token %s)", camera_id, token)
    return admitted


class SqlFenceRepository:
    """Fencing tokens of camera index writes, and the fenced writes themselves."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def admit(self, camera_id: CameraId, token: int) -> bool:
        """Record ``token`` as the newest for ``camera_id`` unless a newer one was seen.

        Returns:
            True when ``token`` is at least the newest seen (the caller may write), False when stale.

        Raises:
            ValueError: If ``token`` is negative.
        """
        _check_token(token)
        return self._db.write(lambda session: admit_in(session, camera_id, token))

    def newest(self, camera_id: CameraId) -> int | None:
        """The newest token seen for ``camera_id``, or None when no fenced write happened yet."""
        return self._db.read(
            lambda session: session.scalar(select(FenceRow.token).where(FenceRow.camera_id == camera_id))
        )

    def add_segment(self, segment: Segment, token: int) -> Segment | None:
        """Index ``segment`` if ``token`` is admitted for its camera (same transaction).

        Returns:
            The segment with its ``id`` set, or None when the token is stale (nothing written).

        Raises:
            DuplicateError: If a segment with the same ``path`` is already indexed.
            ValueError: If ``token`` is negative or a time is naive.
        """
        _check_token(token)
        row = segment_row(segment)

        def write(session: Session) -> int | None:
            if not admit_in(session, segment.camera_id, token):
                return None
            session.add(row)
            session.flush()
            return row.id

        try:
            new_id = self._db.write(write)
        except IntegrityError as err:
            raise DuplicateError(f"a segment with path {segment.path!r} is already indexed") from err
        return None if new_id is None else replace(segment, id=new_id)

    def upsert_event(self, event: Event, token: int) -> bool:
        """Insert or update ``event`` if ``token`` is admitted for its camera (same transaction).

        Returns:
            True when written, False when the token is stale (nothing written).

        Raises:
            ValueError: If ``token`` is negative.
        """
        _check_token(token)
        values = event_values(event)

        def write(session: Session) -> bool:
            if not admit_in(session, event.camera_id, token):
                return False
            upsert_row(session, EventRow, values)
            return True

        return self._db.write(write)

    def write_batch(self, writes: Sequence[FencedWrite]) -> list[FencedResult]:
        """Run ``writes`` in order in one transaction, each admitted (or refused as stale) by its own token.

        A segment whose ``path`` is indexed already is a ``DUPLICATE`` (``INSERT ... ON CONFLICT DO
        NOTHING``: nothing written, the transaction goes on); an event is upserted by its id.

        Raises:
            StorageUnavailableError: The store cannot be reached (nothing of the batch is written).
            ValueError: A time is naive.
        """

        def write(session: Session) -> list[FencedResult]:
            if session.get_bind().dialect.name == "postgresql":
                # The server ends a batch that waits too long (a lock) or whose client went silent
                # mid-transaction (a hanging link), so it holds no locks and rows for long.
                session.execute(text(f"SET LOCAL statement_timeout = {BATCH_TIMEOUT_MS}"))
                session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {BATCH_TIMEOUT_MS}"))
            checked: dict[str, _Check] = {}  # the last fence check per camera in this batch
            return [_write_one(session, item, checked) for item in writes]

        return self._db.write(write)


BATCH_TIMEOUT_MS = 5000
"""PostgreSQL's limit on one statement of a batch, and on the batch's transaction idling (a silent client)."""


@dataclass(slots=True)
class _Check:
    """A fence check within a batch: the same token of the same camera again needs no second check."""

    token: int
    admitted: bool


def _write_one(session: Session, item: FencedWrite, checked: dict[str, _Check]) -> FencedResult:
    last = checked.get(item.camera_id)
    if last is None or last.token != item.token:
        last = _Check(item.token, admit_in(session, item.camera_id, item.token))
        checked[item.camera_id] = last
    if not last.admitted:
        return FencedResult(FencedOutcome.STALE)
    if item.event is not None:
        upsert_row(session, EventRow, event_values(item.event))
        return FencedResult(FencedOutcome.WRITTEN)
    segment = item.segment
    assert segment is not None  # noqa: S101 - a FencedWrite carries one of the two
    row = segment_row(segment)
    values = {
        attr.key: getattr(row, attr.key) for attr in inspect(SegmentRow).column_attrs if attr.key != "id"
    }
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(SegmentRow).values(values).on_conflict_do_nothing(index_elements=[SegmentRow.path])
    new_id = session.execute(stmt.returning(SegmentRow.id)).scalar()
    if new_id is None:
        return FencedResult(FencedOutcome.DUPLICATE)
    return FencedResult(FencedOutcome.WRITTEN, replace(segment, id=int(new_id)))
