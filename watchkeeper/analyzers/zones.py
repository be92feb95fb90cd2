"""Polygon and line zones over ``Detections``: which objects are inside, which crossed a line and which way.

Zones are drawn in normalized coordinates (0..1 of the frame width and height) and turned into pixels for the
analysis frame size with ``from_normalized``. An object is placed by one anchor point of its box, the bottom
centre by default (where it touches the ground).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from watchkeeper.domain.detections import Detections

BoolArray = NDArray[np.bool_]
PointArray = NDArray[np.float64]


class Anchor(StrEnum):
    """The point of a box that decides where an object is."""

    BOTTOM_CENTER = "bottom_center"
    CENTER = "center"
    TOP_CENTER = "top_center"

    @property
    def fractions(self) -> tuple[float, float]:
        """Horizontal and vertical position within the box (0 = left/top, 1 = right/bottom)."""
        return {"bottom_center": (0.5, 1.0), "center": (0.5, 0.5), "top_center": (0.5, 0.0)}[self.value]


class CrossingDirection(StrEnum):
    """Which crossings of a line count.

    ``in`` is a crossing from the left-hand side to the right-hand side of the line, as seen on screen when
    walking from its first point to its second; ``out`` is the other way.
    """

    IN = "in"
    OUT = "out"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class FrameSize:
    """Size in pixels of the frames detections are measured in."""

    width: int
    height: int

    def __post_init__(self) -> None:
        """Reject empty frames."""
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"frame size must be positive, got {self.width}x{self.height}")

    @property
    def area(self) -> int:
        """Area in square pixels."""
        return self.width * self.height

    def to_pixels(self, points: Sequence[Sequence[float]]) -> PointArray:
        """Scale normalized ``[x, y]`` points (0..1) to ``(K, 2)`` pixel coordinates."""
        array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return array * np.array([self.width, self.height], dtype=np.float64)


def anchor_points(dets: Detections, anchor: Anchor = Anchor.BOTTOM_CENTER) -> PointArray:
    """Return the ``(N, 2)`` anchor point of every detection's box, in pixels."""
    fractions = np.array(anchor.fractions, dtype=np.float64)
    low = dets.xyxy[:, :2].astype(np.float64)
    high = dets.xyxy[:, 2:].astype(np.float64)
    result: PointArray = low + (high - low) * fractions
    return result


def points_in_polygon(points: PointArray, polygon: PointArray) -> BoolArray:
    """Even-odd test of ``(N, 2)`` points against a ``(K, 2)`` polygon (vectorized over points and edges)."""
    px = points[:, 0:1]
    py = points[:, 1:2]
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > py) != (y2 > py)
    dy = np.where(y2 == y1, 1.0, y2 - y1)
    x_cross = x1 + (py - y1) * (x2 - x1) / dy
    hits = straddles & (px < x_cross)
    result: BoolArray = (np.count_nonzero(hits, axis=1) % 2) == 1
    return result


class PolygonZone:
    """A polygon in pixels; ``trigger`` says which detections have their anchor inside."""

    def __init__(self, polygon: PointArray, anchor: Anchor = Anchor.BOTTOM_CENTER) -> None:
        """Create the zone from ``(K, 2)`` pixel points, ``K >= 3``."""
        points = np.asarray(polygon, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 3:
            raise ValueError(f"a polygon needs shape (K, 2) with K >= 3, got {points.shape}")
        self._polygon = points
        self._anchor = anchor

    @classmethod
    def from_normalized(
        cls, points: Sequence[Sequence[float]], frame: FrameSize, anchor: Anchor = Anchor.BOTTOM_CENTER
    ) -> PolygonZone:
        """Create the zone from normalized ``[x, y]`` points for frames of size ``frame``."""
        return cls(frame.to_pixels(points), anchor)

    @property
    def polygon(self) -> PointArray:
        """The ``(K, 2)`` pixel polygon (a copy)."""
        return self._polygon.copy()

    def trigger(self, dets: Detections) -> BoolArray:
        """Return ``(N,)`` booleans: true where the detection's anchor lies inside the polygon."""
        if len(dets) == 0:
            return np.zeros(0, dtype=np.bool_)
        return points_in_polygon(anchor_points(dets, self._anchor), self._polygon)


def _side(start: PointArray, end: PointArray, points: PointArray) -> NDArray[np.float64]:
    """Signed cross product: > 0 on the right-hand side of start->end as seen on screen (y down)."""
    direction = end - start
    offset = points - start
    result: NDArray[np.float64] = direction[0] * offset[:, 1] - direction[1] * offset[:, 0]
    return result


@dataclass(frozen=True, slots=True)
class LineCrossings:
    """Which detections of one update crossed the line, per direction (``(N,)`` booleans each)."""

    crossed_in: BoolArray
    crossed_out: BoolArray


class LineZone:
    """A line segment; counts tracked objects whose anchor crosses it, per direction.

    Needs tracked detections (``tracker_id`` set): a crossing is a track's anchor moving from one side of the
    line to the other through the segment. Points within ``margin`` pixels of the line keep the previous side,
    so an object standing on the line does not count again and again. Track positions are forgotten after
    ``max_age`` updates without the track.
    """

    def __init__(
        self,
        start: Sequence[float],
        end: Sequence[float],
        anchor: Anchor = Anchor.BOTTOM_CENTER,
        margin: float = 2.0,
        max_age: int = 100,
    ) -> None:
        """Create a line from ``start`` to ``end`` in pixels."""
        self._start = np.asarray(start, dtype=np.float64)
        self._end = np.asarray(end, dtype=np.float64)
        length = float(np.linalg.norm(self._end - self._start))
        if self._start.shape != (2,) or self._end.shape != (2,) or length == 0.0:
            raise ValueError("a line needs two distinct [x, y] points")
        self._anchor = anchor
        self._margin = margin * length
        self._max_age = max_age
        self._last: dict[int, PointArray] = {}
        self._age: dict[int, int] = {}
        self.in_count = 0
        self.out_count = 0

    @classmethod
    def from_normalized(
        cls, points: Sequence[Sequence[float]], frame: FrameSize, anchor: Anchor = Anchor.BOTTOM_CENTER
    ) -> LineZone:
        """Create the line from two normalized ``[x, y]`` points for frames of size ``frame``."""
        pixels = frame.to_pixels(points)
        if pixels.shape[0] != 2:
            raise ValueError(f"a line needs exactly 2 points, got {pixels.shape[0]}")
        return cls(pixels[0].tolist(), pixels[1].tolist(), anchor)

    def crossings(self, dets: Detections) -> LineCrossings:
        """Update the line with one frame of tracked detections and report who crossed, which way.

        Raises:
            ValueError: ``dets`` carry no ``tracker_id``.
        """
        if dets.tracker_id is None:
            raise ValueError("line crossing needs tracked detections (tracker_id is None)")
        count = len(dets)
        crossed_in = np.zeros(count, dtype=np.bool_)
        crossed_out = np.zeros(count, dtype=np.bool_)
        points = anchor_points(dets, self._anchor)
        sides = _side(self._start, self._end, points)
        for index, track in enumerate(dets.tracker_id.tolist()):
            self._age[track] = 0
            if abs(sides[index]) <= self._margin:
                continue
            previous = self._last.get(track)
            self._last[track] = points[index]
            if previous is None or not self._through_segment(previous, points[index]):
                continue
            if sides[index] > 0:
                crossed_in[index] = True
                self.in_count += 1
            else:
                crossed_out[index] = True
                self.out_count += 1
        self._forget_stale(set(dets.tracker_id.tolist()))
        return LineCrossings(crossed_in, crossed_out)

    def trigger(self, dets: Detections, direction: CrossingDirection = CrossingDirection.BOTH) -> BoolArray:
        """Update the line and return ``(N,)`` booleans: true where a track crossed in ``direction``."""
        result = self.crossings(dets)
        if direction is CrossingDirection.IN:
            return result.crossed_in
        if direction is CrossingDirection.OUT:
            return result.crossed_out
        return result.crossed_in | result.crossed_out

    def _through_segment(self, before: PointArray, after: PointArray) -> bool:
        moves = np.stack([before, after])
        line_sides = _side(self._start, self._end, moves)
        if line_sides[0] * line_sides[1] >= 0:
            return False
        ends = _side(before, after, np.stack([self._start, self._end]))
        return bool(ends[0] * ends[1] <= 0)

    def _forget_stale(self, seen: set[int]) -> None:
        for track in list(self._age):
            if track not in seen:
                self._age[track] += 1
                if self._age[track] > self._max_age:
                    del self._age[track]
                    self._last.pop(track, None)
