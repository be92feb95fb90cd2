"""Pure domain types: no I/O and no imports from the rest of Watchkeeper."""

from watchkeeper.domain.camera import Camera, CameraState, CameraStatus, MapPosition, Site
from watchkeeper.domain.detections import Detections
from watchkeeper.domain.errors import (
    ConflictError,
    DuplicateError,
    NotFoundError,
    StorageUnavailableError,
    WatchkeeperError,
)
from watchkeeper.domain.events import Event, EventKind, EventQuery
from watchkeeper.domain.ids import CameraId, SiteId
from watchkeeper.domain.segment import Rendition, Segment, StorageTier
from watchkeeper.domain.time import ensure_utc, utcnow

__all__ = [
    "Camera",
    "CameraId",
    "CameraState",
    "CameraStatus",
    "ConflictError",
    "Detections",
    "DuplicateError",
    "Event",
    "EventKind",
    "EventQuery",
    "MapPosition",
    "NotFoundError",
    "Rendition",
    "Segment",
    "Site",
    "SiteId",
    "StorageTier",
    "StorageUnavailableError",
    "WatchkeeperError",
    "ensure_utc",
    "utcnow",
]
