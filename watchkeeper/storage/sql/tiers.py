"""Storage tier queries over the recording index, in SQL (the tiering loop's side of ``segments``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from watchkeeper.domain import CameraId, Segment, StorageTier, ensure_utc
from watchkeeper.domain.segment import TierCounts
from watchkeeper.storage.sql.engine import Database
from watchkeeper.storage.sql.models import SegmentRow
from watchkeeper.storage.sql.repositories import _segment as segment_from_row


def _check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit and offset must be >= 0, got {limit}")


def _of(cameras: Collection[CameraId] | None) -> list[ColumnElement[bool]]:
    """The filter to segments of ``cameras`` (none: every camera)."""
    return [] if cameras is None else [SegmentRow.camera_id.in_(sorted(cameras))]


class SqlTierRepository:
    """Hot segments to move and the atomic switch of a segment to the warm tier."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def hot_ending_before(
        self,
        before: datetime,
        limit: int = 100,
        offset: int = 0,
        *,
        cameras: Collection[CameraId] | None = None,
    ) -> Sequence[Segment]:
        """Hot segments that ended at or before ``before``, oldest first (skipping the first ``offset``).

        Only segments of ``cameras`` when given (a site worker's own cameras).

        Raises:
            ValueError: If ``limit`` or ``offset`` is negative or ``before`` is naive.
        """
        _check_limit(limit)
        _check_limit(offset)
        query = (
            select(SegmentRow)
            .where(SegmentRow.tier == StorageTier.HOT.value, SegmentRow.end <= ensure_utc(before))
            .where(*_of(cameras))
            .order_by(SegmentRow.end, SegmentRow.id)
            .offset(offset)
            .limit(limit)
        )
        return self._db.read(lambda session: [segment_from_row(row) for row in session.scalars(query)])

    def oldest_hot(
        self, limit: int = 100, offset: int = 0, *, cameras: Collection[CameraId] | None = None
    ) -> Sequence[Segment]:
        """The oldest hot segments of every camera, or of ``cameras`` (by start; skipping ``offset``).

        Raises:
            ValueError: If ``limit`` or ``offset`` is negative.
        """
        _check_limit(limit)
        _check_limit(offset)
        query = (
            select(SegmentRow)
            .where(SegmentRow.tier == StorageTier.HOT.value, *_of(cameras))
            .order_by(SegmentRow.start, SegmentRow.id)
            .offset(offset)
            .limit(limit)
        )
        return self._db.read(lambda session: [segment_from_row(row) for row in session.scalars(query)])

    def warm_after(
        self, after_id: int, limit: int = 500, *, cameras: Collection[CameraId] | None = None
    ) -> Sequence[Segment]:
        """Warm segments with an id above ``after_id``, by id (a page of a walk over the warm tier).

        Only those of ``cameras`` when given (a site worker's own cameras).

        Raises:
            ValueError: If ``limit`` is negative.
        """
        _check_limit(limit)
        query = (
            select(SegmentRow)
            .where(SegmentRow.tier == StorageTier.WARM.value, SegmentRow.id > after_id, *_of(cameras))
            .order_by(SegmentRow.id)
            .limit(limit)
        )
        return self._db.read(lambda session: [segment_from_row(row) for row in session.scalars(query)])

    def mark_warm(self, segment_id: int, object_key: str, sha256: str) -> Segment | None:
        """Switch a hot segment to the warm tier in one conditional UPDATE (``None``: gone or not hot)."""

        def write(session: Session) -> Segment | None:
            done = session.execute(
                update(SegmentRow)
                .where(SegmentRow.id == segment_id, SegmentRow.tier == StorageTier.HOT.value)
                .values(tier=StorageTier.WARM.value, object_key=object_key, sha256=sha256)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = session.get(SegmentRow, segment_id, populate_existing=True)
            return None if row is None else segment_from_row(row)

        return self._db.write(write)

    def counts(self) -> TierCounts:
        """How many segments and bytes each tier holds."""
        query = select(
            SegmentRow.tier, func.count(SegmentRow.id), func.coalesce(func.sum(SegmentRow.size_bytes), 0)
        ).group_by(SegmentRow.tier)

        def read(session: Session) -> TierCounts:
            found = {str(tier): (int(count), int(size)) for tier, count, size in session.execute(query)}
            hot = found.get(StorageTier.HOT.value, (0, 0))
            warm = found.get(StorageTier.WARM.value, (0, 0))
            return TierCounts(hot[0], hot[1], warm[0], warm[1])

        return self._db.read(read)
