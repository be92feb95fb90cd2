"""Keep recording when the disk fills: evict the oldest footage and carry on with the next keyframe."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from watchkeeper.domain import WatchkeeperError
from watchkeeper.recorder.retention import RetentionReport
from watchkeeper.recorder.segmenter import DiskFullError, Segmenter
from watchkeeper.sources import OpenedStream, ReceivedPacket

log = logging.getLogger(__name__)

FreeSpace = Callable[[], RetentionReport]
"""Evicts the oldest unlocked footage (``RetentionManager.free_space``)."""

RETRY_INTERVAL_S = 1.0
"""After an eviction that freed nothing, how long disk-full errors are only counted, not acted on."""


class DiskFullGuard:
    """Wraps a ``Segmenter``: a ``DiskFullError`` triggers an eviction instead of ending the connection.

    The segmenter has already dropped the in-flight segment; the next keyframe starts a new one. The
    outcome is logged and reported as the camera's status reason; the worker never sees the error.
    """

    def __init__(self, segmenter: Segmenter, free_space: FreeSpace, report: Callable[[str], None]) -> None:
        """Guard ``segmenter``; ``report`` receives a one-line status reason after each eviction."""
        self._segmenter = segmenter
        self._free_space = free_space
        self._report = report
        self._quiet_until = 0.0
        self.disk_full_count = 0

    def begin(self, stream: OpenedStream) -> None:
        """A new connection opened."""
        self._guarded(lambda: self._segmenter.begin(stream))

    def write(self, item: ReceivedPacket) -> None:
        """One packet."""
        self._guarded(lambda: self._segmenter.write(item))

    def finish(self) -> None:
        """The connection ended."""
        self._guarded(self._segmenter.finish)

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except DiskFullError as err:
            self._handle(err)

    def _handle(self, err: DiskFullError) -> None:
        self.disk_full_count += 1
        now = time.monotonic()
        if now < self._quiet_until:
            return
        log.error("%s", err)
        try:
            report = self._free_space()
        except WatchkeeperError as failure:
            log.error("disk full and eviction failed: %s", failure)  # noqa: TRY400 - retried later
            self._quiet_until = now + RETRY_INTERVAL_S
            self._report(f"disk full and eviction failed: {failure}")
            return
        if report.total_segments:
            reason = (
                f"disk full: evicted {report.total_segments} oldest segment(s) "
                f"({report.total_bytes} bytes); recording continues"
            )
        else:
            reason = "disk full and no unlocked footage left to evict; recording resumes when space frees"
            self._quiet_until = now + RETRY_INTERVAL_S
        self._report(reason)
