"""Response and request models of the HTTP API (the OpenAPI schema and the TS client come from these)."""

from watchkeeper.api.schemas.models import (
    CameraOut,
    CameraStatusOut,
    ErrorBody,
    ErrorOut,
    EventOut,
    HealthOut,
    PositionOut,
    SegmentOut,
    WsCameraStatus,
    WsEvent,
)

__all__ = [
    "CameraOut",
    "CameraStatusOut",
    "ErrorBody",
    "ErrorOut",
    "EventOut",
    "HealthOut",
    "PositionOut",
    "SegmentOut",
    "WsCameraStatus",
    "WsEvent",
]
