"""Live counters of the camera workers and the snapshot the metrics exporter renders.

Counters are written by exactly one thread each (an input's counters by that input's thread, a camera's
segment counters by its record thread), so an increment is a plain integer add with no lock; a scrape
reads them from another thread, which at worst sees a value one packet old.
"""

from __future__ import annotations

import bisect
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from watchkeeper.domain import CameraState
from watchkeeper.domain.outbox import OutboxSnapshot
from watchkeeper.integrations.prometheus import (
    CameraSample,
    EvictionSample,
    InputSample,
    LagSample,
    MetricsSnapshot,
    RetentionSample,
    StorageSample,
    TieringSample,
)
from watchkeeper.recorder.retention import RetentionSnapshot
from watchkeeper.recorder.tiering import TieringSnapshot

LAG_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
"""Upper bounds of the recorder-lag histogram buckets (seconds)."""


@dataclass(slots=True)
class InputCounters:
    """Counters of one camera input, written only by its worker thread."""

    role: str
    received_bytes: int = 0
    frames: int = 0
    reconnects: int = 0
    stalls: int = 0

    def sample(self) -> InputSample:
        """A frozen copy for the exporter."""
        return InputSample(self.role, self.received_bytes, self.frames, self.reconnects, self.stalls)


@dataclass(slots=True)
class CameraCounters:
    """A camera's recording counters and state, written by its record thread (state: under its lock)."""

    camera_id: str
    inputs: list[InputCounters] = field(default_factory=list)
    segments: int = 0
    state: CameraState = CameraState.CONNECTING
    reason: str = ""
    lag_counts: list[int] = field(default_factory=lambda: [0] * (len(LAG_BUCKETS_S) + 1))
    lag_sum_s: float = 0.0
    last_lag_s: float = 0.0

    def segment_written(self, lag_s: float) -> None:
        """Count a segment whose index row was written ``lag_s`` seconds after the segment ended."""
        lag_s = max(0.0, lag_s)
        self.segments += 1
        self.lag_counts[bisect.bisect_left(LAG_BUCKETS_S, lag_s)] += 1
        self.lag_sum_s += lag_s
        self.last_lag_s = lag_s

    def sample(self) -> CameraSample:
        """A frozen copy for the exporter."""
        lag = LagSample(LAG_BUCKETS_S, tuple(self.lag_counts), self.lag_sum_s, self.last_lag_s)
        inputs = tuple(item.sample() for item in self.inputs)
        return CameraSample(self.camera_id, self.state.value, self.reason, inputs, self.segments, lag)


RetentionCounters = Callable[[], RetentionSnapshot | None]
"""Where retention's cumulative counters come from (``RetentionManager.stats.snapshot``)."""


def no_retention() -> RetentionSnapshot | None:
    """For a runtime without retention."""
    return None


def retention_sample(snapshot: RetentionSnapshot | None) -> RetentionSample | None:
    """Retention's counters as the exporter takes them."""
    if snapshot is None:
        return None
    evictions = tuple(EvictionSample(e.reason.value, e.segments, e.bytes) for e in snapshot.evictions)
    return RetentionSample(
        snapshot.runs, snapshot.disk_full_events, snapshot.failed_files, evictions, snapshot.absent_kept
    )


def storage_sample(media_root: Path) -> StorageSample | None:
    """Size, used and free bytes of the volume holding ``media_root`` (None when it cannot be read)."""
    try:
        usage = shutil.disk_usage(media_root)
    except OSError:
        return None
    return StorageSample(total_bytes=usage.total, used_bytes=usage.used, free_bytes=usage.free)


class RuntimeMetrics:
    """Builds metrics snapshots from the running camera workers, the media volume and retention."""

    def __init__(
        self,
        media_root: Path,
        cameras: Callable[[], Sequence[CameraCounters]],
        retention: RetentionCounters = no_retention,
        tiering: Callable[[], TieringSnapshot | None] = lambda: None,
        outbox: Callable[[], OutboxSnapshot | None] = lambda: None,
    ) -> None:
        """Read camera counters from ``cameras()``, retention's, tiering's and the outbox's at each scrape."""
        self._media_root = media_root
        self._cameras = cameras
        self._retention = retention
        self._tiering = tiering
        self._outbox = outbox

    def snapshot(self) -> MetricsSnapshot:
        """The current values."""
        return MetricsSnapshot(
            cameras=tuple(counters.sample() for counters in self._cameras()),
            storage=storage_sample(self._media_root),
            retention=retention_sample(self._retention()),
            tiering=tiering_sample(self._tiering()),
            outbox=self._outbox(),
        )


def tiering_sample(snapshot: TieringSnapshot | None) -> TieringSample | None:
    """The tiering loop's counters as the exporter takes them."""
    if snapshot is None:
        return None
    return TieringSample(
        passes=snapshot.passes,
        moved_segments=snapshot.moved,
        moved_bytes=snapshot.moved_bytes,
        failed=snapshot.failed,
        retries=snapshot.retries,
        checksum_mismatches=snapshot.checksum_mismatches,
        leftovers_removed=snapshot.leftovers_removed,
    )
