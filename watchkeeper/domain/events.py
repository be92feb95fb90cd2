"""Events: something happened on a camera at a time."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from watchkeeper.domain.ids import CameraId


class EventKind(StrEnum):
    """What kind of analysis raised the event."""

    MOTION = "motion"
    OBJECT = "object"
    ZONE = "zone"


@dataclass(frozen=True, slots=True)
class Event:
    """An analysis event. ``end`` is ``None`` while the event is still ongoing."""

    id: str
    camera_id: CameraId
    kind: EventKind
    start: datetime
    end: datetime | None
    score: float
    label: str = ""

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"event end {self.end.isoformat()} is before its start {self.start.isoformat()}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must be within [0, 1], got {self.score}")
