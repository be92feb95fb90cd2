"""Region selection: which parts of a frame the detector looks at.

The motion mask (changed pixels of the small grey analysis frame) is pooled into a coarse grid of cells; cells
with enough changed pixels are grown by one cell, grouped into 8-connected blobs, and each blob's bounding box
becomes a region. Regions are padded (an object is usually bigger than its moving part), widened to a sane
aspect ratio (the detector stretches its input to a square), merged while they overlap or while there are more
than ``max_regions`` (the pair whose union adds the least area first), and replaced by the whole frame when
they cover most of it anyway. Every ``full_frame_interval_s`` the whole frame is checked regardless of motion,
so a slow or stopped object the motion mask misses is still found.

Regions are in normalized coordinates (0..1 of the frame) so the same plan applies to the small grey motion
frame and the larger colour detection frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle in normalized frame coordinates, ``0 <= x1 < x2 <= 1`` and ``0 <= y1 < y2 <= 1``."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        """Reject empty or out-of-frame rectangles."""
        if not (0.0 <= self.x1 < self.x2 <= 1.0 and 0.0 <= self.y1 < self.y2 <= 1.0):
            raise ValueError(
                f"region must satisfy 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1, got "
                f"({self.x1}, {self.y1}, {self.x2}, {self.y2})"
            )

    @classmethod
    def full(cls) -> Region:
        """The whole frame."""
        return cls(0.0, 0.0, 1.0, 1.0)

    @classmethod
    def clipped(cls, x1: float, y1: float, x2: float, y2: float) -> Region:
        """A region from possibly out-of-frame values, clipped to the frame (at least a sliver wide)."""
        cx1, cy1 = min(max(x1, 0.0), 0.999), min(max(y1, 0.0), 0.999)
        return cls(cx1, cy1, max(min(x2, 1.0), cx1 + 0.001), max(min(y2, 1.0), cy1 + 0.001))

    @property
    def width(self) -> float:
        """Width as a fraction of the frame width."""
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        """Height as a fraction of the frame height."""
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        """Area as a fraction of the frame."""
        return self.width * self.height

    @property
    def is_full(self) -> bool:
        """True for the whole frame."""
        return self.area >= 0.999

    def union(self, other: Region) -> Region:
        """The smallest region holding both."""
        return Region(
            min(self.x1, other.x1), min(self.y1, other.y1), max(self.x2, other.x2), max(self.y2, other.y2)
        )

    def overlaps(self, other: Region) -> bool:
        """True when the two rectangles share some area."""
        return self.x1 < other.x2 and other.x1 < self.x2 and self.y1 < other.y2 and other.y1 < self.y2

    def padded(self, fraction: float, min_side: float) -> Region:
        """Grow by ``fraction`` of its size on every side and to at least ``min_side`` wide and high."""
        pad_x = max(self.width * fraction, (min_side - self.width) / 2, 0.0)
        pad_y = max(self.height * fraction, (min_side - self.height) / 2, 0.0)
        return Region.clipped(self.x1 - pad_x, self.y1 - pad_y, self.x2 + pad_x, self.y2 + pad_y)

    def with_aspect(self, frame_aspect: float, max_aspect: float) -> Region:
        """Widen the shorter side so the pixel aspect ratio is within ``[1/max_aspect, max_aspect]``.

        Args:
            frame_aspect: Frame width / height (the region's pixel aspect is ``width/height * frame_aspect``).
            max_aspect: Largest allowed ratio of the long side to the short side (>= 1).
        """
        aspect = self.width * frame_aspect / self.height
        if aspect > max_aspect:
            grow = (self.width * frame_aspect / max_aspect - self.height) / 2
            return Region.clipped(self.x1, self.y1 - grow, self.x2, self.y2 + grow)
        if aspect < 1 / max_aspect:
            grow = (self.height / frame_aspect / max_aspect - self.width) / 2
            return Region.clipped(self.x1 - grow, self.y1, self.x2 + grow, self.y2)
        return self

    def contains_point(self, x: float, y: float) -> bool:
        """True when the normalized point is inside."""
        return self.x1 <= x <= self.x2 and self.y1 <= y <= self.y2

    def to_pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Integer pixel bounds ``(x1, y1, x2, y2)`` in a ``width`` x ``height`` frame (never empty)."""
        x1, y1 = int(self.x1 * width), int(self.y1 * height)
        x2 = max(x1 + 1, min(width, int(np.ceil(self.x2 * width))))
        y2 = max(y1 + 1, min(height, int(np.ceil(self.y2 * height))))
        return x1, y1, x2, y2


@dataclass(frozen=True, slots=True)
class RegionSettings:
    """How motion becomes regions.

    Attributes:
        cell: Grid cell size in pixels of the motion frame.
        cell_fraction: Share of a cell's pixels that must change for the cell to count.
        min_cells: Blobs smaller than this many cells (before growing) are noise and ignored.
        padding: Each region grows by this fraction of its size on every side.
        min_side: Regions are at least this fraction of the frame wide and high.
        max_aspect: Largest long/short side ratio in pixels (the detector squashes its input to a square).
        max_regions: At most this many regions per frame (each costs one detector run).
        full_frame_area: When the regions cover at least this share of the frame, detect on the whole frame.
        full_frame_interval_s: Whole-frame check at least this often, motion or not (0 disables it).
        idle_full_frame_interval_s: While nothing moves, each whole-frame check that saw no motion since
            the one before doubles the interval, up to this (at most ``full_frame_interval_s`` disables it);
            any motion brings it back to ``full_frame_interval_s``.
    """

    cell: int = 8
    cell_fraction: float = 0.05
    min_cells: int = 1
    padding: float = 0.3
    min_side: float = 0.25
    max_aspect: float = 2.0
    max_regions: int = 2
    full_frame_area: float = 0.6
    full_frame_interval_s: float = 10.0
    idle_full_frame_interval_s: float = 40.0

    def __post_init__(self) -> None:
        """Check the values."""
        if self.cell < 1 or self.min_cells < 1 or self.max_regions < 1:
            raise ValueError("cell, min_cells and max_regions must be >= 1")
        if not 0.0 < self.cell_fraction <= 1.0 or not 0.0 < self.full_frame_area <= 1.0:
            raise ValueError("cell_fraction and full_frame_area must be within (0, 1]")
        if self.padding < 0 or not 0.0 < self.min_side <= 1.0 or self.max_aspect < 1:
            raise ValueError("need padding >= 0, 0 < min_side <= 1 and max_aspect >= 1")
        if self.full_frame_interval_s < 0 or self.idle_full_frame_interval_s < 0:
            raise ValueError("full_frame_interval_s and idle_full_frame_interval_s must be >= 0")


def _active_cells(mask: BoolArray, settings: RegionSettings) -> BoolArray:
    height, width = mask.shape
    cell = settings.cell
    rows, cols = -(-height // cell), -(-width // cell)
    padded = np.zeros((rows * cell, cols * cell), dtype=np.float32)
    padded[:height, :width] = mask
    share = padded.reshape(rows, cell, cols, cell).mean(axis=(1, 3))
    result: BoolArray = share >= settings.cell_fraction
    return result


def _grow(cells: BoolArray) -> BoolArray:
    grown = cells.copy()
    grown[1:, :] |= cells[:-1, :]
    grown[:-1, :] |= cells[1:, :]
    grown[:, 1:] |= cells[:, :-1]
    grown[:, :-1] |= cells[:, 1:]
    return grown


def _blobs(cells: BoolArray) -> list[tuple[int, int, int, int, int]]:
    """8-connected blobs of ``cells`` as ``(row0, col0, row1, col1, size)`` (inclusive bounds)."""
    seen = np.zeros_like(cells)
    rows, cols = cells.shape
    found: list[tuple[int, int, int, int, int]] = []
    for start in zip(*np.nonzero(cells), strict=True):
        if seen[start]:
            continue
        seen[start] = True
        stack = [(int(start[0]), int(start[1]))]
        r0, c0, r1, c1, size = stack[0][0], stack[0][1], stack[0][0], stack[0][1], 0
        while stack:
            row, col = stack.pop()
            size += 1
            r0, c0, r1, c1 = min(r0, row), min(c0, col), max(r1, row), max(c1, col)
            for nr in range(max(row - 1, 0), min(row + 2, rows)):
                for nc in range(max(col - 1, 0), min(col + 2, cols)):
                    if cells[nr, nc] and not seen[nr, nc]:
                        seen[nr, nc] = True
                        stack.append((nr, nc))
        found.append((r0, c0, r1, c1, size))
    return found


def merge_regions(regions: Sequence[Region], max_regions: int) -> list[Region]:
    """Merge overlapping regions, then the cheapest pairs until at most ``max_regions`` remain.

    Args:
        regions: Candidate regions.
        max_regions: Upper bound on the result's length (>= 1).

    Returns:
        Non-overlapping regions, largest first.
    """
    merged = list(regions)
    while len(merged) > 1:
        best: tuple[float, int, int] | None = None
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                union = merged[i].union(merged[j])
                cost = -1.0 if merged[i].overlaps(merged[j]) else union.area - merged[i].area - merged[j].area
                if best is None or cost < best[0]:
                    best = (cost, i, j)
        if best is None or (best[0] >= 0 and len(merged) <= max_regions):
            break
        _, i, j = best
        union = merged[i].union(merged[j])
        merged = [region for index, region in enumerate(merged) if index not in (i, j)] + [union]
    return sorted(merged, key=lambda region: region.area, reverse=True)


def motion_regions(mask: BoolArray, settings: RegionSettings) -> list[Region]:
    """Turn a motion mask into at most ``settings.max_regions`` padded detection regions.

    Args:
        mask: ``(H, W)`` booleans, true where a pixel changed.
        settings: Grid, padding and merging settings.

    Returns:
        The regions (possibly ``[Region.full()]``), or ``[]`` when nothing moved.

    Raises:
        ValueError: ``mask`` is not 2-D.
    """
    return finish_regions(motion_boxes(mask, settings), mask.shape[1] / mask.shape[0], settings)


def motion_boxes(mask: BoolArray, settings: RegionSettings) -> list[Region]:
    """The bounding boxes of the moving blobs of ``mask`` (no padding, no merging).

    Raises:
        ValueError: ``mask`` is not 2-D.
    """
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"expected a non-empty 2-D motion mask, got shape {mask.shape}")
    cells = _active_cells(mask, settings)
    rows, cols = cells.shape
    boxes: list[Region] = []
    for r0, c0, r1, c1, _ in _blobs(_grow(cells)):
        core = cells[r0 : r1 + 1, c0 : c1 + 1]
        if int(core.sum()) < settings.min_cells:
            continue
        rr, cc = np.nonzero(core)
        boxes.append(
            Region.clipped(
                (c0 + int(cc.min())) / cols,
                (r0 + int(rr.min())) / rows,
                (c0 + int(cc.max()) + 1) / cols,
                (r0 + int(rr.max()) + 1) / rows,
            )
        )
    return boxes


def finish_regions(boxes: Sequence[Region], frame_aspect: float, settings: RegionSettings) -> list[Region]:
    """Pad, reshape and merge raw boxes; the whole frame when they cover most of it.

    Args:
        boxes: Raw regions (moving blobs, tracks to re-verify).
        frame_aspect: Frame width / height.
        settings: Padding and merging settings.

    Returns:
        The regions to detect on.
    """
    shaped = [
        box.padded(settings.padding, settings.min_side).with_aspect(frame_aspect, settings.max_aspect)
        for box in boxes
    ]
    merged = merge_regions(shaped, settings.max_regions)
    if merged and sum(region.area for region in merged) >= settings.full_frame_area:
        return [Region.full()]
    return merged


@dataclass(frozen=True, slots=True)
class RegionPlan:
    """What to detect on for one frame: ``regions`` empty means skip the detector."""

    regions: tuple[Region, ...]
    full_frame_check: bool = False

    @property
    def detect(self) -> bool:
        """True when the detector should run."""
        return bool(self.regions)


class RegionSelector:
    """Per camera: motion mask (+ regions to re-verify) -> ``RegionPlan``, with periodic full-frame checks."""

    def __init__(self, settings: RegionSettings) -> None:
        """Create a selector; the first frame always gets a full-frame check."""
        self._settings = settings
        self._last_full: datetime | None = None
        self._interval = settings.full_frame_interval_s
        self._quiet = False

    @property
    def full_frame_interval_s(self) -> float:
        """The current interval between whole-frame checks (longer while the scene is still)."""
        return self._interval

    @property
    def settings(self) -> RegionSettings:
        """The region settings."""
        return self._settings

    def plan(self, mask: BoolArray, at: datetime, extra: Sequence[Region] = ()) -> RegionPlan:
        """Choose the regions for the frame taken at ``at``.

        Args:
            mask: The motion mask of the frame.
            at: Frame time.
            extra: Further raw regions to include (for example stationary tracks due for re-verification).

        Returns:
            The plan; a full-frame check when one is due.
        """
        settings = self._settings
        boxes = motion_boxes(mask, settings)
        if boxes or extra:
            self._quiet = False
            self._interval = settings.full_frame_interval_s
        if self._interval > 0 and (
            self._last_full is None
            or (at - self._last_full).total_seconds() >= self._interval
            or at < self._last_full
        ):
            self._check_done(at)
            return RegionPlan((Region.full(),), full_frame_check=True)
        aspect = mask.shape[1] / mask.shape[0]
        regions = finish_regions([*boxes, *extra], aspect, settings)
        if any(region.is_full for region in regions):
            self._last_full = at
            return RegionPlan((Region.full(),))
        return RegionPlan(tuple(regions))

    def _check_done(self, at: datetime) -> None:
        """A whole-frame check runs at ``at``: back off when nothing moved since the previous one."""
        settings = self._settings
        if self._quiet and self._last_full is not None:
            longest = max(settings.full_frame_interval_s, settings.idle_full_frame_interval_s)
            self._interval = min(self._interval * 2, longest)
        self._last_full = at
        self._quiet = True
