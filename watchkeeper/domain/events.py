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
    TAMPER = "tamper"
    """Camera health: covered, too dark, out of focus or moved (the condition is in ``rule``)."""


@dataclass(frozen=True, slots=True)
class Event:
    """An analysis event. ``end`` is ``None`` while the event is still ongoing.

    The optional fields describe events raised by zone and line rules; motion events leave them ``None``.

    Attributes:
        rule: Name of the rule that raised the event.
        zone: Name of the zone (polygon or line) the rule watches.
        object_class: Class name of the object (``car``, ``person``...) or, for count rules, the counted
            classes joined with ``,``.
        track_id: Tracker id of the object, unique within one camera and one run only; ``None`` for count
            rules. Never linked to an identity.
        best_at: Time of the frame with the peak score (the snapshot frame), within ``[start, end]``.
        direction: ``in`` or ``out`` for line crossings.
        object_count: Peak number of objects in the zone, for count rules.
    """

    id: str
    camera_id: CameraId
    kind: EventKind
    start: datetime
    end: datetime | None
    score: float
    label: str = ""
    rule: str | None = None
    zone: str | None = None
    object_class: str | None = None
    track_id: int | None = None
    best_at: datetime | None = None
    direction: str | None = None
    object_count: int | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"event end {self.end.isoformat()} is before its start {self.start.isoformat()}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must be within [0, 1], got {self.score}")
        if self.best_at is not None and (
            self.best_at < self.start or (self.end is not None and self.best_at > self.end)
        ):
            raise ValueError(f"best frame time {self.best_at.isoformat()} is outside the event's time range")


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Search filters for events beyond camera and start time (every field optional; all must match).

    Attributes:
        until: Only events starting before this time.
        kinds: Only events of these kinds (empty: every kind).
        object_class: Only events of this object class (exact class name).
        zone: Only events of this zone.
        rule: Only events raised by this rule (for tamper events: the condition).
        min_score: Only events whose (peak) score is at least this.
    """

    until: datetime | None = None
    kinds: tuple[EventKind, ...] = ()
    object_class: str | None = None
    zone: str | None = None
    rule: str | None = None
    min_score: float | None = None

    def __post_init__(self) -> None:
        if self.min_score is not None and not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be within [0, 1], got {self.min_score}")
