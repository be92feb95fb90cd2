"""Turn per-frame motion results into motion events with a start and an end."""

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from watchkeeper.analyzers.motion import MotionResult
from watchkeeper.domain import CameraId, Event, EventKind


class EventChangeKind(StrEnum):
    """What happened to an event."""

    STARTED = "started"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class EventChange:
    """An event that just started or ended."""

    change: EventChangeKind
    event: Event


@dataclass(frozen=True, slots=True)
class MotionRuleSettings:
    """Debounce settings: ``min_frames`` moving frames start an event, ``cooldown_s`` still seconds end it."""

    min_frames: int = 2
    cooldown_s: float = 5.0
    score_scale: float = 10.0


class MotionEventRule:
    """A small state machine per camera: idle -> (min_frames moving) -> active -> (cooldown) -> idle."""

    def __init__(self, camera_id: CameraId, settings: MotionRuleSettings) -> None:
        """Create the rule for one camera."""
        if settings.min_frames < 1:
            raise ValueError(f"min_frames must be >= 1, got {settings.min_frames}")
        self._camera_id = camera_id
        self._settings = settings
        self._streak = 0
        self._active: Event | None = None
        self._last_motion: datetime | None = None

    @property
    def active(self) -> Event | None:
        """The ongoing event, if any."""
        return self._active

    def update(self, result: MotionResult, at: datetime) -> EventChange | None:
        """Feed one frame's motion result observed at ``at``; return a change when an event starts/ends."""
        score = min(1.0, result.fraction * self._settings.score_scale)
        if result.moving:
            self._streak += 1
            self._last_motion = at
            if self._active is not None:
                if score > self._active.score:
                    self._active = replace(self._active, score=score)
                return None
            if self._streak >= self._settings.min_frames:
                self._active = Event(
                    id=uuid.uuid4().hex,
                    camera_id=self._camera_id,
                    kind=EventKind.MOTION,
                    start=at,
                    end=None,
                    score=score,
                    label="motion",
                )
                return EventChange(EventChangeKind.STARTED, self._active)
            return None
        self._streak = 0
        if self._active is not None and self._last_motion is not None:
            if (at - self._last_motion).total_seconds() >= self._settings.cooldown_s:
                return self.close(self._last_motion)
        return None

    def close(self, at: datetime) -> EventChange | None:
        """End the ongoing event at ``at`` (also used when the camera disconnects)."""
        if self._active is None:
            return None
        ended = replace(self._active, end=max(at, self._active.start))
        self._active = None
        self._streak = 0
        return EventChange(EventChangeKind.ENDED, ended)
