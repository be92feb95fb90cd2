"""Sites, cameras and camera health."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from watchkeeper.domain.ids import CameraId, SiteId


class CameraState(StrEnum):
    """Connection state of a camera input, as reported by its worker."""

    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALLED = "stalled"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Site:
    """A physical site (campus, building, depot) that groups cameras."""

    id: SiteId
    name: str


@dataclass(frozen=True, slots=True)
class MapPosition:
    """Where a camera hangs and where it looks."""

    lat: float
    lon: float
    heading_deg: float | None = None
    fov_deg: float | None = None
    floor: str | None = None

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"lat must be within [-90, 90], got {self.lat}")
        if not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"lon must be within [-180, 180], got {self.lon}")


@dataclass(frozen=True, slots=True)
class Camera:
    """A camera as the rest of the system sees it (never carries credentials)."""

    id: CameraId
    name: str
    site_id: SiteId
    position: MapPosition | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """The latest known state of a camera and why it is in that state."""

    camera_id: CameraId
    state: CameraState
    since: datetime
    reason: str = ""
