"""ByteTrack-style multi-object tracker over ``Detections`` for one camera.

Association uses box overlap (IoU) against Kalman-predicted boxes only, in two stages: high-score detections
first, then low-score detections for tracks that were seen on the previous update (ByteTrack's idea: a
partly hidden object still scores low but should keep its track). There are deliberately **no appearance
features**: no embeddings, no re-identification. Track ids are unique within one tracker (one camera, one
run); they restart at 1 with every new tracker and are never persisted or linked to anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from watchkeeper.analyzers.track.kalman import (
    BoxKalman,
    KalmanSettings,
    state_to_xyxy,
    xyxy_to_measurement,
)
from watchkeeper.analyzers.track.matching import box_iou, greedy_match
from watchkeeper.domain.detections import Detections

IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """Thresholds of the tracker.

    Attributes:
        high_score: Detections scoring at least this are matched first and may start tracks.
        low_score: Detections scoring below this are ignored; between ``low_score`` and ``high_score`` they
            only keep existing tracks alive (second stage).
        new_track_score: Minimum score for an unmatched detection to start a new (tentative) track.
        match_iou: Minimum IoU to match a confirmed track with a high-score detection.
        low_match_iou: Minimum IoU to match a track with a low-score detection.
        tentative_match_iou: Minimum IoU to match a tentative (unconfirmed) track.
        min_hits: Consecutive matched updates before a track is confirmed and gets an id.
        max_missed: Updates without a match after which a confirmed track is dropped.
        max_gap_s: Seconds without a match after which a track is dropped, whatever the update count
            (a time gap in the stream ends every track: no linking across gaps).
        class_aware: Only match detections of the track's class.
        kalman: Motion model noise.
    """

    high_score: float = 0.5
    low_score: float = 0.1
    new_track_score: float = 0.6
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    tentative_match_iou: float = 0.3
    min_hits: int = 3
    max_missed: int = 15
    max_gap_s: float = 3.0
    class_aware: bool = True
    kalman: KalmanSettings = field(default_factory=KalmanSettings)

    def __post_init__(self) -> None:
        """Check the thresholds are consistent."""
        if not 0.0 <= self.low_score <= self.high_score <= 1.0:
            raise ValueError(
                f"need 0 <= low_score <= high_score <= 1, got {self.low_score} and {self.high_score}"
            )
        if self.min_hits < 1 or self.max_missed < 0:
            raise ValueError(
                f"need min_hits >= 1 and max_missed >= 0, got {self.min_hits}, {self.max_missed}"
            )
        if self.max_gap_s <= 0:
            raise ValueError(f"max_gap_s must be > 0, got {self.max_gap_s}")


def to_seconds(at: datetime | float) -> float:
    """Return ``at`` as seconds: an aware datetime's POSIX time, or the number itself."""
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError(f"expected an aware datetime, got naive {at.isoformat()}")
        return at.timestamp()
    return float(at)


@dataclass(slots=True)
class _Tracks:
    """Parallel arrays, one row per live track (tentative ones have id 0)."""

    mean: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 8)))
    cov: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 8, 8)))
    ids: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    hits: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    missed: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    last_seen: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    class_id: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    score: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Drop every row where ``mask`` is false."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name)[mask])

    def append(self, other: _Tracks) -> None:
        """Add the rows of ``other``."""
        for name in self.__slots__:
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))


class ByteTracker:
    """Tracks objects of one camera across updates; see the module docstring for what it never does."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        """Create an empty tracker; ids start at 1."""
        self._settings = settings or TrackerSettings()
        self._kalman = BoxKalman(self._settings.kalman)
        self._tracks = _Tracks()
        self._last_at: float | None = None
        self._next_id = 1

    @property
    def settings(self) -> TrackerSettings:
        """The tracker's thresholds."""
        return self._settings

    @property
    def confirmed_count(self) -> int:
        """Number of live confirmed tracks (including ones missed on recent updates)."""
        return int(np.count_nonzero(self._tracks.ids))

    def reset(self) -> None:
        """Forget every track (for example after the stream reconnects); ids keep counting up."""
        self._tracks = _Tracks()
        self._last_at = None

    def update(self, dets: Detections, at: datetime | float) -> Detections:
        """Feed the detections of one analysed frame taken at ``at``.

        Args:
            dets: Detections of the frame (any ``tracker_id`` they carry is ignored).
            at: Frame time: an aware datetime or seconds on any monotonic clock; must not go backwards.

        Returns:
            The detections that belong to confirmed tracks, with ``tracker_id`` set, in input order.

        Raises:
            ValueError: ``at`` is earlier than the previous update.
        """
        now = to_seconds(at)
        if self._last_at is not None and now < self._last_at:
            raise ValueError(f"tracker time went backwards: {now} after {self._last_at}")
        self._advance(now)
        assigned = np.zeros(len(dets), dtype=np.int64) - 1
        matched = self._associate(dets, assigned)
        self._apply_matches(dets, assigned, now)
        self._age_unmatched(matched, assigned)
        self._confirm()
        self._spawn(dets, assigned, now)
        out = assigned >= 0
        out[out] = self._tracks.ids[assigned[out]] > 0
        return dets[out].with_tracker_id(self._tracks.ids[assigned[out]])

    def predict(self, at: datetime | float) -> Detections:
        """Predicted boxes of confirmed tracks at ``at`` without changing any state.

        Used between analysed frames (for example to keep blurring a person the detector did not run on).
        Tracks whose last match is more than ``max_gap_s`` before ``at`` are left out.
        """
        now = to_seconds(at)
        tracks = self._tracks
        alive = (tracks.ids > 0) & (now - tracks.last_seen <= self._settings.max_gap_s)
        if self._last_at is None or not bool(alive.any()):
            return Detections.empty().with_tracker_id(np.zeros(0, dtype=np.int64))
        mean, _ = self._kalman.predict(tracks.mean[alive], tracks.cov[alive], now - self._last_at)
        return Detections(
            xyxy=state_to_xyxy(mean),
            confidence=tracks.score[alive],
            class_id=tracks.class_id[alive],
            tracker_id=tracks.ids[alive],
        )

    def _advance(self, now: float) -> None:
        tracks = self._tracks
        if self._last_at is not None and len(tracks.ids):
            tracks.mean, tracks.cov = self._kalman.predict(tracks.mean, tracks.cov, now - self._last_at)
        self._last_at = now
        tracks.keep(now - tracks.last_seen <= self._settings.max_gap_s)

    def _associate(self, dets: Detections, assigned: IntArray) -> NDArray[np.bool_]:
        """Run the three matching stages; fill ``assigned`` (detection -> track row), return matched rows."""
        settings = self._settings
        tracks = self._tracks
        confirmed = tracks.ids > 0
        high = dets.confidence >= settings.high_score
        low = (dets.confidence >= settings.low_score) & ~high
        matched = np.zeros(len(tracks.ids), dtype=np.bool_)
        self._stage(
            np.flatnonzero(confirmed), np.flatnonzero(high), settings.match_iou, dets, assigned, matched
        )
        recent = confirmed & (tracks.missed == 0) & ~matched
        self._stage(
            np.flatnonzero(recent), np.flatnonzero(low), settings.low_match_iou, dets, assigned, matched
        )
        free_high = np.flatnonzero(high & (assigned < 0))
        tentative = np.flatnonzero(~confirmed)
        self._stage(tentative, free_high, settings.tentative_match_iou, dets, assigned, matched)
        return matched

    def _stage(
        self,
        rows: IntArray,
        cols: IntArray,
        threshold: float,
        dets: Detections,
        assigned: IntArray,
        matched: NDArray[np.bool_],
    ) -> None:
        if rows.size == 0 or cols.size == 0:
            return
        iou = box_iou(state_to_xyxy(self._tracks.mean[rows]), dets.xyxy[cols])
        if self._settings.class_aware:
            iou[self._tracks.class_id[rows][:, None] != dets.class_id[cols][None, :]] = 0.0
        pairs = greedy_match(iou, threshold)
        assigned[cols[pairs[:, 1]]] = rows[pairs[:, 0]]
        matched[rows[pairs[:, 0]]] = True

    def _apply_matches(self, dets: Detections, assigned: IntArray, now: float) -> None:
        det_idx = np.flatnonzero(assigned >= 0)
        if det_idx.size == 0:
            return
        rows = assigned[det_idx]
        tracks = self._tracks
        measurement = xyxy_to_measurement(dets.xyxy[det_idx])
        tracks.mean[rows], tracks.cov[rows] = self._kalman.update(
            tracks.mean[rows], tracks.cov[rows], measurement
        )
        tracks.hits[rows] += 1
        tracks.missed[rows] = 0
        tracks.last_seen[rows] = now
        tracks.score[rows] = dets.confidence[det_idx]

    def _age_unmatched(self, matched: NDArray[np.bool_], assigned: IntArray) -> None:
        """Count a miss for unmatched tracks, drop dead ones and renumber the rows in ``assigned``."""
        tracks = self._tracks
        tracks.missed[~matched] += 1
        tentative_lost = (tracks.ids == 0) & ~matched
        too_old = tracks.missed > self._settings.max_missed
        keep = ~(tentative_lost | too_old)
        new_row = np.cumsum(keep) - 1
        linked = assigned >= 0
        assigned[linked] = new_row[assigned[linked]]
        tracks.keep(keep)

    def _confirm(self) -> None:
        tracks = self._tracks
        ready = np.flatnonzero((tracks.ids == 0) & (tracks.hits >= self._settings.min_hits))
        tracks.ids[ready] = np.arange(self._next_id, self._next_id + ready.size, dtype=np.int64)
        self._next_id += int(ready.size)

    def _spawn(self, dets: Detections, assigned: IntArray, now: float) -> None:
        fresh = np.flatnonzero((assigned < 0) & (dets.confidence >= self._settings.new_track_score))
        if fresh.size == 0:
            return
        mean, cov = self._kalman.initiate(xyxy_to_measurement(dets.xyxy[fresh]))
        count = fresh.size
        born = _Tracks(
            mean=mean,
            cov=cov,
            ids=np.zeros(count, dtype=np.int64),
            hits=np.ones(count, dtype=np.int64),
            missed=np.zeros(count, dtype=np.int64),
            last_seen=np.full(count, now),
            class_id=dets.class_id[fresh],
            score=dets.confidence[fresh],
        )
        start = len(self._tracks.ids)
        self._tracks.append(born)
        assigned[fresh] = np.arange(start, start + count)
        self._confirm()
