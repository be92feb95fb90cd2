"""Equipment alarms that clear themselves: a camera down past a grace period, and back when it streams."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from watchkeeper.domain import CameraId, CameraState, CameraStatus

DOWN_STATES = frozenset({CameraState.OFFLINE, CameraState.STALLED})
"""States that count as a camera being down."""

LatestStatus = Callable[[CameraId], CameraStatus | None]
"""The newest status of a camera that this node knows from every status on the bus (its status board)."""


class Recovery(StrEnum):
    """What a status says about a camera-offline incident."""

    NONE = "none"
    """Nothing to close."""
    ALARMED_HERE = "alarmed_here"
    """This node raised the alarm and saw the camera stream again since: close its incident."""
    NEW_PERIOD = "new_period"
    """A streaming period this node had not seen: close an open incident raised after it began elsewhere."""


@dataclass(frozen=True, slots=True)
class CameraDown:
    """A camera down for longer than the grace period."""

    camera_id: CameraId
    since: datetime
    reason: str


class CameraHealthMonitor:
    """Turns camera statuses into "down too long" and "back up" signals (not thread-safe: callers lock).

    With several API nodes the shared durable status consumer gives each status to one node: the node that
    saw a camera go down may never see it stream again, and the node that sees it stream may never have
    seen it go down. So "back up" is signalled for every new streaming period this node sees (not only
    after an alarm of its own): the caller closes the open camera-offline incident from the store, whoever
    raised it. And before a pending alarm is raised, ``latest`` (the node's status board, which every
    status reaches) is asked whether the camera streams again since it went down.
    """

    def __init__(self, grace: timedelta, latest: LatestStatus | None = None) -> None:
        """Raise an alarm for a camera down (offline or stalled) for ``grace``; check ``latest`` first."""
        self._grace = grace
        self._latest = latest
        self._down: dict[CameraId, CameraStatus] = {}
        self._alarmed: set[CameraId] = set()
        self._streaming_since: dict[CameraId, datetime] = {}

    def observe(self, status: CameraStatus) -> Recovery:
        """Record a status; whether the camera streams again after an alarm (of this or another node).

        A streaming status whose ``since`` this node has not seen yet starts a new streaming period (a
        repeat of a steady camera's status keeps its ``since`` and signals nothing).
        """
        camera = status.camera_id
        if status.state in DOWN_STATES:
            if camera not in self._down:
                self._down[camera] = status
            return Recovery.NONE
        if status.state is not CameraState.STREAMING:
            return Recovery.NONE
        self._down.pop(camera, None)
        new_period = self._streaming_since.get(camera) != status.since
        self._streaming_since[camera] = status.since
        if camera in self._alarmed:
            self._alarmed.discard(camera)
            return Recovery.ALARMED_HERE
        return Recovery.NEW_PERIOD if new_period else Recovery.NONE

    def due(self, now: datetime) -> list[CameraDown]:
        """Cameras down for at least the grace period that have not raised an alarm yet."""
        found: list[CameraDown] = []
        for camera, status in list(self._down.items()):
            if camera in self._alarmed or now - status.since < self._grace:
                continue
            if self._up_again(status):
                del self._down[camera]  # another node saw it stream again: nothing to raise
                continue
            self._alarmed.add(camera)
            found.append(CameraDown(camera, status.since, status.reason))
        return found

    def _up_again(self, down: CameraStatus) -> bool:
        latest = self._latest(down.camera_id) if self._latest is not None else None
        return latest is not None and latest.state is CameraState.STREAMING and latest.since > down.since
