"""Equipment alarms that clear themselves: a camera down past a grace period, and back when it streams."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from watchkeeper.domain import CameraId, CameraState, CameraStatus

DOWN_STATES = frozenset({CameraState.OFFLINE, CameraState.STALLED})
"""States that count as a camera being down."""


@dataclass(frozen=True, slots=True)
class CameraDown:
    """A camera down for longer than the grace period."""

    camera_id: CameraId
    since: datetime
    reason: str


class CameraHealthMonitor:
    """Turns camera statuses into "down too long" and "back up" signals (not thread-safe: callers lock)."""

    def __init__(self, grace: timedelta) -> None:
        """Raise an alarm for a camera down (offline or stalled) for ``grace``."""
        self._grace = grace
        self._down: dict[CameraId, CameraStatus] = {}
        self._alarmed: set[CameraId] = set()

    def observe(self, status: CameraStatus) -> bool:
        """Record a status; returns true when the camera streams again after an alarm (time to auto-close)."""
        camera = status.camera_id
        if status.state in DOWN_STATES:
            if camera not in self._down:
                self._down[camera] = status
            return False
        if status.state is CameraState.STREAMING:
            self._down.pop(camera, None)
            if camera in self._alarmed:
                self._alarmed.discard(camera)
                return True
        return False

    def due(self, now: datetime) -> list[CameraDown]:
        """Cameras down for at least the grace period that have not raised an alarm yet."""
        found: list[CameraDown] = []
        for camera, status in self._down.items():
            if camera not in self._alarmed and now - status.since >= self._grace:
                self._alarmed.add(camera)
                found.append(CameraDown(camera, status.since, status.reason))
        return found
