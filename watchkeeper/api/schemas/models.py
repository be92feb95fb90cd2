"""Pydantic models for API responses, built from domain objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.domain import (
    Camera,
    CameraState,
    CameraStatus,
    Event,
    EventKind,
    MapPosition,
    Segment,
    StorageTier,
)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HealthOut(_Out):
    """Liveness answer."""

    status: Literal["ok"] = "ok"
    version: str


class ErrorBody(_Out):
    """A typed error: a stable machine code and a human message."""

    code: str = Field(description="Stable error code, e.g. `not_found`, `invalid_request`.")
    message: str = Field(description="What went wrong, in one line.")


class ErrorOut(_Out):
    """Error envelope returned with every 4xx/5xx response."""

    error: ErrorBody


class PositionOut(_Out):
    """Map position of a camera."""

    lat: float
    lon: float
    heading_deg: float | None
    fov_deg: float | None
    floor: str | None

    @classmethod
    def of(cls, position: MapPosition) -> PositionOut:
        """Build from the domain type."""
        return cls(
            lat=position.lat,
            lon=position.lon,
            heading_deg=position.heading_deg,
            fov_deg=position.fov_deg,
            floor=position.floor,
        )


class CameraStatusOut(_Out):
    """Connection state of a camera."""

    state: CameraState
    since: datetime
    reason: str

    @classmethod
    def of(cls, status: CameraStatus) -> CameraStatusOut:
        """Build from the domain type."""
        return cls(state=status.state, since=status.since, reason=status.reason)


class CameraOut(_Out):
    """A camera as the console shows it (never with stream URLs or credentials)."""

    id: str
    name: str
    site_id: str
    position: PositionOut | None
    status: CameraStatusOut

    @classmethod
    def of(cls, camera: Camera, status: CameraStatus) -> CameraOut:
        """Build from the domain types."""
        return cls(
            id=camera.id,
            name=camera.name,
            site_id=camera.site_id,
            position=PositionOut.of(camera.position) if camera.position else None,
            status=CameraStatusOut.of(status),
        )


CLIP_MARGIN = timedelta(seconds=2)
"""Footage kept either side of an event in its clip link."""


def _clip_url(event: Event) -> str | None:
    """The playback clip endpoint's URL for the event's range, padded by ``CLIP_MARGIN``."""
    if event.end is None:
        return None
    start = (event.start - CLIP_MARGIN).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    end = (event.end + CLIP_MARGIN).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"/api/cameras/{event.camera_id}/clip.mp4?start={start}&end={end}"


class EventOut(_Out):
    """An analysis event."""

    id: str
    camera_id: str
    kind: EventKind
    start: datetime
    end: datetime | None
    score: float
    label: str
    rule: str | None = Field(default=None, description="Rule that raised it (tamper events: the condition).")
    zone: str | None = Field(default=None, description="Zone or line the rule watches.")
    object_class: str | None = Field(
        default=None, description="Object class (count rules: classes joined by ,)."
    )
    track_id: int | None = Field(
        default=None, description="Track id within this camera and run only; never linked to an identity."
    )
    best_at: datetime | None = Field(default=None, description="Time of the best (snapshot) frame.")
    direction: str | None = Field(default=None, description="`in` or `out` for line crossings.")
    object_count: int | None = Field(default=None, description="Peak count of objects, for count rules.")
    snapshot_url: str | None = Field(
        default=None, description="The event's redacted best frame (JPEG), for object and zone events."
    )
    clip_url: str | None = Field(
        default=None,
        description="MP4 clip of the event's time range (2 s either side), once the event has ended.",
    )

    @classmethod
    def of(cls, event: Event) -> EventOut:
        """Build from the domain type."""
        has_snapshot = event.kind in (EventKind.OBJECT, EventKind.ZONE)
        return cls(
            id=event.id,
            camera_id=event.camera_id,
            kind=event.kind,
            start=event.start,
            end=event.end,
            score=event.score,
            label=event.label,
            rule=event.rule,
            zone=event.zone,
            object_class=event.object_class,
            track_id=event.track_id,
            best_at=event.best_at,
            direction=event.direction,
            object_count=event.object_count,
            snapshot_url=f"/api/events/{event.id}/snapshot.jpg" if has_snapshot else None,
            clip_url=_clip_url(event),
        )


class SegmentOut(_Out):
    """A recorded segment and where to fetch it."""

    id: int
    camera_id: str
    start: datetime
    end: datetime
    duration_s: float
    size_bytes: int
    video_codec: str
    width: int
    height: int
    media_url: str
    tier: StorageTier = Field(
        description="Where the bytes are: `hot` (a node's disk) or `warm` (the S3-compatible bucket)."
    )

    @classmethod
    def of(cls, segment: Segment) -> SegmentOut:
        """Build from the domain type (the segment must be indexed, i.e. have an id)."""
        if segment.id is None:
            raise ValueError("segment has no id; only indexed segments can be served")
        return cls(
            id=segment.id,
            camera_id=segment.camera_id,
            start=segment.start,
            end=segment.end,
            duration_s=round(segment.duration_s, 3),
            size_bytes=segment.size_bytes,
            video_codec=segment.video_codec,
            width=segment.width,
            height=segment.height,
            media_url=f"/api/recordings/{segment.id}/media",
            tier=segment.tier,
        )


class WsEvent(_Out):
    """WebSocket message: an event started or ended."""

    type: Literal["event"] = "event"
    state: Literal["started", "updated", "ended"]
    event: EventOut


class WsCameraStatus(_Out):
    """WebSocket message: a camera changed state."""

    type: Literal["camera_status"] = "camera_status"
    camera_id: str
    status: CameraStatusOut
