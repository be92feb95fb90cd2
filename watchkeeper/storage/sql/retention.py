"""Evidence locks and the retention/recovery queries over the recording index, in SQL.

Eviction and new evidence locks serialise: on SQLite through the single writer (``BEGIN IMMEDIATE``), on
PostgreSQL through a transaction-level advisory lock both take. So a lock committed before an eviction
transaction starts is always seen by it, and footage under a lock is never deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, text
from sqlalchemy.orm import Session

from watchkeeper.domain import CameraId, ConflictError, NotFoundError, Segment, StorageTier, ensure_utc
from watchkeeper.domain.evidence import EvidenceLock
from watchkeeper.storage.sql.engine import Database
from watchkeeper.storage.sql.models import EventRow, EvidenceLockRow, SegmentRow
from watchkeeper.storage.sql.repositories import _segment as segment_from_row

_PG_RETENTION_LOCK = 0x57_4B_52_54  # "WKRT": evictions and new evidence locks wait for each other
_DELETE_CHUNK = 500


def _serialise_with_locks(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_RETENTION_LOCK})


def _lock(row: EvidenceLockRow) -> EvidenceLock:
    return EvidenceLock(
        id=row.id,
        camera_id=CameraId(row.camera_id),
        start=row.start,
        end=row.end,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        released_at=row.released_at,
    )


def _locked() -> ColumnElement[bool]:
    """True for a segment row overlapping an active evidence lock of its camera."""
    return exists().where(
        EvidenceLockRow.camera_id == SegmentRow.camera_id,
        EvidenceLockRow.released_at.is_(None),
        EvidenceLockRow.start < SegmentRow.end,
        EvidenceLockRow.end > SegmentRow.start,
    )


def _has_event() -> ColumnElement[bool]:
    """True for a segment row overlapping an event of its camera (an open event extends forever)."""
    return exists().where(
        EventRow.camera_id == SegmentRow.camera_id,
        EventRow.start < SegmentRow.end,
        or_(EventRow.end.is_(None), EventRow.end > SegmentRow.start),
    )


def _check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")


class SqlEvidenceLockRepository:
    """Evidence locks in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, lock: EvidenceLock) -> EvidenceLock:
        """Store a new lock; returns it with its ``id`` set.

        Raises:
            ValueError: If a time is naive.
        """
        row = EvidenceLockRow(
            camera_id=lock.camera_id,
            start=ensure_utc(lock.start),
            end=ensure_utc(lock.end),
            reason=lock.reason,
            created_by=lock.created_by,
            created_at=ensure_utc(lock.created_at),
            released_at=None if lock.released_at is None else ensure_utc(lock.released_at),
        )

        def write(session: Session) -> EvidenceLock:
            _serialise_with_locks(session)
            session.add(row)
            session.flush()
            return _lock(row)

        return self._db.write(write)

    def get(self, lock_id: int) -> EvidenceLock | None:
        """One lock, or ``None``."""

        def read(session: Session) -> EvidenceLock | None:
            row = session.get(EvidenceLockRow, lock_id)
            return None if row is None else _lock(row)

        return self._db.read(read)

    def release(self, lock_id: int, released_at: datetime) -> EvidenceLock:
        """Release a lock; returns the released lock.

        Raises:
            NotFoundError: If there is no such lock.
            ConflictError: If the lock was already released.
            ValueError: If ``released_at`` is naive.
        """
        when = ensure_utc(released_at)

        def write(session: Session) -> EvidenceLock:
            row = session.get(EvidenceLockRow, lock_id)
            if row is None:
                raise NotFoundError(f"evidence lock {lock_id} does not exist")
            if row.released_at is not None:
                raise ConflictError(
                    f"evidence lock {lock_id} was already released at {row.released_at.isoformat()}"
                )
            row.released_at = when
            session.flush()
            return _lock(row)

        return self._db.write(write)

    def list(self, camera_id: CameraId | None = None, *, active_only: bool = True) -> Sequence[EvidenceLock]:
        """Locks ordered by start, optionally of one camera, by default only those not released."""
        query = select(EvidenceLockRow)
        if camera_id is not None:
            query = query.where(EvidenceLockRow.camera_id == camera_id)
        if active_only:
            query = query.where(EvidenceLockRow.released_at.is_(None))
        query = query.order_by(EvidenceLockRow.start, EvidenceLockRow.id)
        return self._db.read(lambda session: [_lock(row) for row in session.scalars(query)])


class SqlRetentionRepository:
    """Retention and start-up recovery queries over the recording index in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def expired(
        self, camera_id: CameraId, before: datetime, *, with_events: bool, limit: int = 500, offset: int = 0
    ) -> Sequence[Segment]:
        """Unlocked segments of a camera ending at or before ``before``, oldest first (skipping ``offset``).

        Raises:
            ValueError: If ``before`` is naive or ``limit`` or ``offset`` is negative.
        """
        _check_limit(limit)
        _check_limit(offset)
        query = (
            select(SegmentRow)
            .where(
                SegmentRow.camera_id == camera_id,
                SegmentRow.end <= ensure_utc(before),
                ~_locked(),
                _has_event() if with_events else ~_has_event(),
            )
            .order_by(SegmentRow.start, SegmentRow.id)
            .offset(offset)
            .limit(limit)
        )
        return self._db.read(lambda session: [segment_from_row(row) for row in session.scalars(query)])

    def oldest_unlocked(
        self,
        limit: int = 500,
        *,
        tier: StorageTier | None = None,
        cameras: Collection[CameraId] | None = None,
        offset: int = 0,
    ) -> Sequence[Segment]:
        """The oldest unlocked segments by start (only of ``tier`` and of ``cameras`` when given).

        The first ``offset`` of them are skipped.

        Raises:
            ValueError: If ``limit`` or ``offset`` is negative.
        """
        _check_limit(limit)
        _check_limit(offset)
        query = select(SegmentRow).where(~_locked())
        if tier is not None:
            query = query.where(SegmentRow.tier == tier.value)
        if cameras is not None:
            query = query.where(SegmentRow.camera_id.in_(sorted(cameras)))
        query = query.order_by(SegmentRow.start, SegmentRow.id).offset(offset).limit(limit)
        return self._db.read(lambda session: [segment_from_row(row) for row in session.scalars(query)])

    def delete_unlocked(
        self, segment_ids: Sequence[int], remove_file: Callable[[Segment], bool]
    ) -> Sequence[Segment]:
        """Evict the given segments that still exist and are not locked: file first, then the row."""
        ids = list(dict.fromkeys(segment_ids))

        def write(session: Session) -> list[Segment]:
            _serialise_with_locks(session)
            evicted: list[Segment] = []
            for start in range(0, len(ids), _DELETE_CHUNK):
                chunk = ids[start : start + _DELETE_CHUNK]
                query = select(SegmentRow).where(SegmentRow.id.in_(chunk), ~_locked()).order_by(SegmentRow.id)
                removed = [seg for seg in map(segment_from_row, session.scalars(query)) if remove_file(seg)]
                if removed:
                    session.execute(delete(SegmentRow).where(SegmentRow.id.in_([s.id for s in removed])))
                evicted.extend(removed)
            return evicted

        return self._db.write(write)

    def delete(self, segment_ids: Sequence[int]) -> int:
        """Remove index rows; returns how many existed."""
        ids = list(dict.fromkeys(segment_ids))

        def write(session: Session) -> int:
            count = 0
            for start in range(0, len(ids), _DELETE_CHUNK):
                chunk = ids[start : start + _DELETE_CHUNK]
                found = session.scalars(select(SegmentRow.id).where(SegmentRow.id.in_(chunk))).all()
                session.execute(delete(SegmentRow).where(SegmentRow.id.in_(found)))
                count += len(found)
            return count

        return self._db.write(write)

    def total_bytes(
        self, camera_id: CameraId | None = None, *, cameras: Collection[CameraId] | None = None
    ) -> int:
        """Sum of the indexed segment sizes, of one camera, of ``cameras``, or of all."""
        query = select(func.coalesce(func.sum(SegmentRow.size_bytes), 0))
        if camera_id is not None:
            query = query.where(SegmentRow.camera_id == camera_id)
        if cameras is not None:
            query = query.where(SegmentRow.camera_id.in_(sorted(cameras)))
        return self._db.read(lambda session: int(session.scalar(query) or 0))

    def page(self, after_id: int, limit: int = 1000) -> Sequence[Segment]:
        """Segments with ``id > after_id`` in id order.

        Raises:
            ValueError: If ``limit`` is negative.
        """
        _check_limit(limit)
        query = select(SegmentRow).where(SegmentRow.id > after_id).order_by(SegmentRow.id).limit(limit)
        return self._db.read(lambda session: [segment_from_row(row) for row in session.scalars(query)])

    def camera_page(self, camera_id: CameraId, after: Segment | None, limit: int = 1000) -> Sequence[Segment]:
        """One camera's segments after ``after`` in (start, id) order.

        Raises:
            ValueError: If ``limit`` is negative, or ``after`` has no id.
        """
        _check_limit(limit)
        query = select(SegmentRow).where(SegmentRow.camera_id == camera_id)
        if after is not None:
            if after.id is None:
                raise ValueError("camera_page: `after` must be an indexed segment (it has no id)")
            start = ensure_utc(after.start)
            query = query.where(
                or_(SegmentRow.start > start, and_(SegmentRow.start == start, SegmentRow.id > after.id))
            )
        query = query.order_by(SegmentRow.start, SegmentRow.id).limit(limit)
        return self._db.read(lambda session: [segment_from_row(row) for row in session.scalars(query)])

    def indexed_paths(self, camera_id: CameraId, start: datetime, end: datetime) -> frozenset[str]:
        """Paths of a camera's segments starting in ``[start, end)``.

        Raises:
            ValueError: If a time is naive.
        """
        query = select(SegmentRow.path).where(
            and_(
                SegmentRow.camera_id == camera_id,
                SegmentRow.start >= ensure_utc(start),
                SegmentRow.start < ensure_utc(end),
            )
        )
        return self._db.read(lambda session: frozenset(session.scalars(query)))

    def camera_ids(self) -> Sequence[CameraId]:
        """Every camera that has indexed segments, ordered by id."""
        query = select(SegmentRow.camera_id).distinct().order_by(SegmentRow.camera_id)
        return self._db.read(lambda session: [CameraId(value) for value in session.scalars(query)])
