"""Equipment alarms beside camera offline: recording gaps, storage running out, tampered cameras.

Each monitor turns observations into "raise" and "clear" signals; :class:`~watchkeeper.incidents.sources.
AlarmSources` turns those into incidents (correlated per camera or per volume, auto-closed on clear where
the type says so). None of them is thread-safe: callers lock.

- :class:`RecordingGaps`: a camera that streams but from which no segment arrives for ``gap`` raises (live;
  arrival time, not footage time, so a recorder that lags behind under load is not a gap; at least twice
  the last segment's length, so long segments are not gaps either), and a gap
  longer than ``gap`` between two consecutive segments of a camera that was not reported down meanwhile
  raises after the fact (for example the server could not index). The next segment clears a live gap.
- :class:`StorageWatch`: free space of the media volume under a floor, no free inodes left (a volume full
  of small files refuses new segments while bytes are free) or an unreadable volume raises; back above the
  floors clears. Readings come from a :class:`FreeSpaceProbe` (``DiskUsageProbe`` in production).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from watchkeeper.domain import CameraId, CameraState, CameraStatus
from watchkeeper.incidents.auto_close import DOWN_STATES


@dataclass(frozen=True, slots=True)
class GapAlarm:
    """A camera wrote no footage from ``since`` on; ``until`` is set when the gap is over (after the fact)."""

    camera_id: CameraId
    since: datetime
    until: datetime | None = None

    def describe(self) -> str:
        """One line for the incident note."""
        if self.until is None:
            return f"no footage recorded since {self.since.isoformat()} while the camera streams"
        seconds = (self.until - self.since).total_seconds()
        since, until = self.since.isoformat(), self.until.isoformat()
        return f"no footage recorded from {since} to {until} ({seconds:.0f} s)"


@dataclass(frozen=True, slots=True)
class SegmentOutcome:
    """What a closed segment means: a live gap ``cleared``, or an after-the-fact ``gap`` to raise."""

    cleared: bool = False
    gap: GapAlarm | None = None


@dataclass(slots=True)
class _CameraRecording:
    """What is known of one camera's recording (internal, mutable by design)."""

    last_end: datetime | None = None
    last_arrival: datetime | None = None
    last_length: timedelta = timedelta(0)
    streaming_since: datetime | None = None
    last_down: datetime | None = None
    alarmed: bool = False


class RecordingGaps:
    """Finds recording gaps of cameras from their segments and statuses."""

    def __init__(self, gap: timedelta) -> None:
        """Raise for gaps longer than ``gap`` (keep it above the segment length)."""
        self._gap = gap
        self._cameras: dict[CameraId, _CameraRecording] = {}

    def _camera(self, camera_id: CameraId) -> _CameraRecording:
        return self._cameras.setdefault(camera_id, _CameraRecording())

    def status(self, status: CameraStatus) -> None:
        """Note a camera's state: footage is only expected while it streams."""
        camera = self._camera(status.camera_id)
        if status.state is CameraState.STREAMING:
            if camera.streaming_since is None:
                camera.streaming_since = status.since
        elif status.state in DOWN_STATES:
            camera.streaming_since = None
            camera.last_down = status.since

    def segment(
        self, camera_id: CameraId, start: datetime, end: datetime, arrived: datetime
    ) -> SegmentOutcome:
        """Note a closed segment of ``camera_id`` (footage from ``start`` to ``end``) that ``arrived``."""
        camera = self._camera(camera_id)
        camera.last_arrival = arrived
        camera.last_length = end - start
        previous = camera.last_end
        cleared = camera.alarmed
        camera.alarmed = False
        if previous is None or end > previous:
            camera.last_end = end
        if cleared or previous is None or start - previous <= self._gap:
            return SegmentOutcome(cleared=cleared)
        if camera.last_down is not None and camera.last_down >= previous - self._gap:
            return SegmentOutcome()  # the camera was down meanwhile: camera-offline alarms cover that
        return SegmentOutcome(gap=GapAlarm(camera_id, previous, start))

    def due(self, now: datetime) -> list[GapAlarm]:
        """Cameras streaming yet without a new segment for longer than the gap (each raised once)."""
        found: list[GapAlarm] = []
        for camera_id, camera in self._cameras.items():
            arrival, streaming = camera.last_arrival, camera.streaming_since
            if camera.alarmed or streaming is None or arrival is None or camera.last_end is None:
                continue
            limit = max(self._gap, 2 * camera.last_length)  # long segments arrive seldom
            if now - max(arrival, streaming) > limit:
                camera.alarmed = True
                found.append(GapAlarm(camera_id, max(camera.last_end, streaming)))
        return found


class FreeSpaceProbe(Protocol):
    """Reports the free bytes of the media volume."""

    @property
    def where(self) -> str:
        """What is measured (for messages)."""
        ...

    def free_bytes(self) -> int:
        """Free bytes now.

        Raises:
            OSError: When the volume cannot be read.
        """
        ...

    def free_files(self) -> int | None:
        """Free inodes (files that can still be created) now; ``None`` when the file system has no limit.

        Raises:
            OSError: When the volume cannot be read.
        """
        ...


class DiskUsageProbe:
    """The free space of the volume holding ``path`` (``shutil.disk_usage``)."""

    def __init__(self, path: Path) -> None:
        """Measure the volume of ``path``."""
        self._path = path

    @property
    def where(self) -> str:
        """The measured folder."""
        return str(self._path)

    def free_bytes(self) -> int:
        """Free bytes now."""
        return shutil.disk_usage(self._path).free

    def free_files(self) -> int | None:
        """Free inodes for unprivileged writers (``f_favail``); ``None`` where the volume has no inodes."""
        stats = os.statvfs(self._path)
        return stats.f_favail if stats.f_files else None


@dataclass(frozen=True, slots=True)
class StorageReading:
    """One free-space check: ``alarm`` is the reason to raise, ``cleared`` that an alarm cleared."""

    alarm: str | None = None
    cleared: bool = False


MIN_FREE_FILES = 16
"""Fewer free inodes than this on the media volume raise a storage alarm (each segment needs one)."""


class StorageWatch:
    """Raises when the media volume runs out of space or inodes, or cannot be read."""

    def __init__(self, probe: FreeSpaceProbe, floor_bytes: int, floor_files: int = MIN_FREE_FILES) -> None:
        """Check ``probe`` against ``floor_bytes`` free bytes and ``floor_files`` free inodes."""
        self._probe = probe
        self._floor = floor_bytes
        self._floor_files = floor_files
        self.alarmed = False

    @property
    def where(self) -> str:
        """What is measured."""
        return self._probe.where

    def check(self) -> StorageReading:
        """Read the free space once."""
        try:
            free = self._probe.free_bytes()
            files = self._probe.free_files()
        except OSError as err:
            return self._raise(f"cannot read the free space of {self._probe.where}: {err}")
        if free < self._floor:
            return self._raise(
                f"disk full: {free} bytes free on {self._probe.where} (alarm under {self._floor}); "
                "recording fails or evicts continuously"
            )
        if files is not None and files < self._floor_files:
            return self._raise(
                f"no inodes left: {files} files can still be created on {self._probe.where} "
                f"({free} bytes free); new segments cannot be written"
            )
        if self.alarmed:
            self.alarmed = False
            return StorageReading(cleared=True)
        return StorageReading()

    def _raise(self, reason: str) -> StorageReading:
        if self.alarmed:
            return StorageReading()
        self.alarmed = True
        return StorageReading(alarm=reason)
