"""Repositories: the ``Store`` protocol's methods as SQL, converting rows to domain dataclasses."""

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper.domain import (
    Camera,
    CameraId,
    ConflictError,
    DuplicateError,
    Event,
    EventKind,
    EventQuery,
    MapPosition,
    Rendition,
    Segment,
    Site,
    SiteId,
    StorageTier,
    ensure_utc,
)
from watchkeeper.storage.sql.engine import Database
from watchkeeper.storage.sql.models import Base, CameraRow, EventRow, SegmentRow, SiteRow


def upsert_row(session: Session, model: type[Base], values: dict[str, Any]) -> None:
    """Insert ``values`` or update the row with the same primary key, atomically on both backends."""
    dialect = session.get_bind().dialect.name
    key = [column.name for column in inspect(model).primary_key]
    stmt: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model).values(values)
    updates = {name: stmt.excluded[name] for name in values if name not in key}
    upsert: Insert = stmt.on_conflict_do_update(index_elements=key, set_=updates)
    session.execute(upsert)


def segment_row(segment: Segment) -> SegmentRow:
    """A new row for ``segment`` (its ``id`` is assigned on flush)."""
    return SegmentRow(
        camera_id=segment.camera_id,
        start=ensure_utc(segment.start),
        end=ensure_utc(segment.end),
        path=segment.path,
        size_bytes=segment.size_bytes,
        video_codec=segment.video_codec,
        width=segment.width,
        height=segment.height,
        keyframes=segment.keyframes,
        audio_codec=segment.audio_codec,
        rendition=segment.rendition.value,
        tier=segment.tier.value,
        object_key=segment.object_key,
        sha256=segment.sha256,
    )


def event_values(event: Event) -> dict[str, Any]:
    """Column values of ``event`` for an upsert into ``events``."""
    return {
        "id": event.id,
        "camera_id": event.camera_id,
        "kind": event.kind.value,
        "start": ensure_utc(event.start),
        "end": None if event.end is None else ensure_utc(event.end),
        "score": event.score,
        "label": event.label,
        "rule": event.rule,
        "zone": event.zone,
        "object_class": event.object_class,
        "track_id": event.track_id,
        "best_at": None if event.best_at is None else ensure_utc(event.best_at),
        "direction": event.direction,
        "object_count": event.object_count,
    }


def _site(row: SiteRow) -> Site:
    return Site(id=SiteId(row.id), name=row.name)


def _camera(row: CameraRow) -> Camera:
    position = None
    if row.lat is not None and row.lon is not None:
        position = MapPosition(
            lat=row.lat, lon=row.lon, heading_deg=row.heading_deg, fov_deg=row.fov_deg, floor=row.floor
        )
    return Camera(
        id=CameraId(row.id),
        name=row.name,
        site_id=SiteId(row.site_id),
        position=position,
        enabled=row.enabled,
    )


def _segment(row: SegmentRow) -> Segment:
    return Segment(
        id=row.id,
        camera_id=CameraId(row.camera_id),
        start=row.start,
        end=row.end,
        path=row.path,
        size_bytes=row.size_bytes,
        video_codec=row.video_codec,
        width=row.width,
        height=row.height,
        keyframes=row.keyframes,
        audio_codec=row.audio_codec,
        rendition=Rendition(row.rendition),
        tier=StorageTier(row.tier),
        object_key=row.object_key,
        sha256=row.sha256,
    )


def _event(row: EventRow) -> Event:
    return Event(
        id=row.id,
        camera_id=CameraId(row.camera_id),
        kind=EventKind(row.kind),
        start=row.start,
        end=row.end,
        score=row.score,
        label=row.label,
        rule=row.rule,
        zone=row.zone,
        object_class=row.object_class,
        track_id=row.track_id,
        best_at=row.best_at,
        direction=row.direction,
        object_count=row.object_count,
    )


def _narrow(statement: Select[EventRow], query: EventQuery) -> Select[EventRow]:
    """Apply the optional ``EventQuery`` filters."""
    if query.until is not None:
        statement = statement.where(EventRow.start < ensure_utc(query.until))
    if query.kinds:
        statement = statement.where(EventRow.kind.in_([kind.value for kind in query.kinds]))
    if query.object_class is not None:
        statement = statement.where(EventRow.object_class == query.object_class)
    if query.zone is not None:
        statement = statement.where(EventRow.zone == query.zone)
    if query.rule is not None:
        statement = statement.where(EventRow.rule == query.rule)
    if query.min_score is not None:
        statement = statement.where(EventRow.score >= query.min_score)
    return statement


class SqlSiteRepository:
    """Sites in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def upsert(self, site: Site) -> None:
        """Insert or update a site by id."""
        values = {"id": site.id, "name": site.name}
        self._db.write(lambda session: upsert_row(session, SiteRow, values))

    def list(self) -> Sequence[Site]:
        """All sites ordered by id."""
        return self._db.read(
            lambda session: [_site(row) for row in session.scalars(select(SiteRow).order_by(SiteRow.id))]
        )


class SqlCameraRepository:
    """Cameras in SQL (positions flattened into nullable columns)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def upsert(self, camera: Camera) -> None:
        """Insert or update a camera by id.

        Raises:
            ConflictError: If the camera's site does not exist.
        """
        pos = camera.position
        values = {
            "id": camera.id,
            "name": camera.name,
            "site_id": camera.site_id,
            "lat": pos.lat if pos else None,
            "lon": pos.lon if pos else None,
            "heading_deg": pos.heading_deg if pos else None,
            "fov_deg": pos.fov_deg if pos else None,
            "floor": pos.floor if pos else None,
            "enabled": camera.enabled,
        }

        def write(session: Session) -> None:
            if session.get(SiteRow, camera.site_id) is None:
                raise ConflictError(f"camera {camera.id!r} refers to unknown site {camera.site_id!r}")
            upsert_row(session, CameraRow, values)

        try:
            self._db.write(write)
        except IntegrityError as err:  # the site was deleted concurrently
            raise ConflictError(f"camera {camera.id!r} refers to unknown site {camera.site_id!r}") from err

    def get(self, camera_id: CameraId) -> Camera | None:
        """One camera, or ``None``."""

        def read(session: Session) -> Camera | None:
            row = session.get(CameraRow, camera_id)
            return None if row is None else _camera(row)

        return self._db.read(read)

    def list(self, site_id: SiteId | None = None) -> Sequence[Camera]:
        """Cameras ordered by id, optionally of one site."""
        query = select(CameraRow).order_by(CameraRow.id)
        if site_id is not None:
            query = query.where(CameraRow.site_id == site_id)
        return self._db.read(lambda session: [_camera(row) for row in session.scalars(query)])


class SqlSegmentRepository:
    """The recording index in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, segment: Segment) -> Segment:
        """Index a complete segment; returns it with its ``id`` set.

        Raises:
            DuplicateError: If a segment with the same ``path`` is already indexed.
            ValueError: If ``start`` or ``end`` is naive.
        """
        row = segment_row(segment)

        def write(session: Session) -> int:
            session.add(row)
            session.flush()
            return row.id

        try:
            new_id = self._db.write(write)
        except IntegrityError as err:
            raise DuplicateError(f"a segment with path {segment.path!r} is already indexed") from err
        return replace(segment, id=new_id)

    def get(self, segment_id: int) -> Segment | None:
        """One segment, or ``None``."""

        def read(session: Session) -> Segment | None:
            row = session.get(SegmentRow, segment_id)
            return None if row is None else _segment(row)

        return self._db.read(read)

    def list(
        self,
        camera_id: CameraId,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
        *,
        rendition: Rendition | None = Rendition.ORIGINAL,
    ) -> Sequence[Segment]:
        """Segments of a camera overlapping ``[start, end)``, oldest first.

        Only segments of ``rendition`` (the originals unless told otherwise; ``None`` for both).

        Raises:
            ValueError: If ``start``/``end`` are naive or ``limit`` is negative.
        """
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        query = select(SegmentRow).where(SegmentRow.camera_id == camera_id)
        if rendition is not None:
            query = query.where(SegmentRow.rendition == rendition.value)
        if start is not None:
            query = query.where(SegmentRow.end > ensure_utc(start))
        if end is not None:
            query = query.where(SegmentRow.start < ensure_utc(end))
        query = query.order_by(SegmentRow.start, SegmentRow.id).limit(limit)
        return self._db.read(lambda session: [_segment(row) for row in session.scalars(query)])


class SqlEventRepository:
    """Analysis events in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def upsert(self, event: Event) -> None:
        """Insert an event or update it (for example when it ends)."""
        values = event_values(event)
        self._db.write(lambda session: upsert_row(session, EventRow, values))

    def get(self, event_id: str) -> Event | None:
        """One event, or ``None``."""

        def read(session: Session) -> Event | None:
            row = session.get(EventRow, event_id)
            return None if row is None else _event(row)

        return self._db.read(read)

    def list(
        self,
        camera_id: CameraId | None = None,
        since: datetime | None = None,
        limit: int = 100,
        *,
        camera_ids: Collection[CameraId] | None = None,
        query: EventQuery | None = None,
    ) -> Sequence[Event]:
        """Events newest first, of ``camera_id`` (or of ``camera_ids``) if given, starting at/after ``since``.

        ``query`` narrows further (see ``EventQuery``).

        Raises:
            ValueError: If ``since`` is naive or ``limit`` is negative.
        """
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        statement = select(EventRow)
        if camera_id is not None:
            statement = statement.where(EventRow.camera_id == camera_id)
        if camera_ids is not None:
            statement = statement.where(EventRow.camera_id.in_(sorted(camera_ids)))
        if since is not None:
            statement = statement.where(EventRow.start >= ensure_utc(since))
        if query is not None:
            statement = _narrow(statement, query)
        statement = statement.order_by(EventRow.start.desc(), EventRow.id.desc()).limit(limit)
        return self._db.read(lambda session: [_event(row) for row in session.scalars(statement)])
