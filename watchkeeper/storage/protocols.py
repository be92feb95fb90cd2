"""Repository protocols. Stages and the API depend on these, never on a concrete backend."""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from watchkeeper.domain import Camera, CameraId, Event, Segment, Site, SiteId


class SiteRepository(Protocol):
    """Sites."""

    def upsert(self, site: Site) -> None:
        """Insert or update a site by id."""
        ...

    def list(self) -> Sequence[Site]:
        """All sites ordered by id."""
        ...


class CameraRepository(Protocol):
    """Cameras (without credentials: those stay in the config file)."""

    def upsert(self, camera: Camera) -> None:
        """Insert or update a camera by id."""
        ...

    def get(self, camera_id: CameraId) -> Camera | None:
        """One camera, or ``None``."""
        ...

    def list(self, site_id: SiteId | None = None) -> Sequence[Camera]:
        """Cameras ordered by id, optionally of one site."""
        ...


class SegmentRepository(Protocol):
    """The recording index."""

    def add(self, segment: Segment) -> Segment:
        """Index a complete segment; returns it with its ``id`` set."""
        ...

    def get(self, segment_id: int) -> Segment | None:
        """One segment, or ``None``."""
        ...

    def list(
        self,
        camera_id: CameraId,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
    ) -> Sequence[Segment]:
        """Segments of a camera overlapping ``[start, end)``, oldest first."""
        ...


class EventRepository(Protocol):
    """Analysis events."""

    def upsert(self, event: Event) -> None:
        """Insert an event or update it (for example when it ends)."""
        ...

    def get(self, event_id: str) -> Event | None:
        """One event, or ``None``."""
        ...

    def list(
        self,
        camera_id: CameraId | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[Event]:
        """Events newest first, optionally of one camera and starting at or after ``since``."""
        ...


class Store(Protocol):
    """All repositories of one database."""

    @property
    def sites(self) -> SiteRepository:
        """Site repository."""
        ...

    @property
    def cameras(self) -> CameraRepository:
        """Camera repository."""
        ...

    @property
    def segments(self) -> SegmentRepository:
        """Segment repository."""
        ...

    @property
    def events(self) -> EventRepository:
        """Event repository."""
        ...

    def close(self) -> None:
        """Release connections and stop the writer."""
        ...
