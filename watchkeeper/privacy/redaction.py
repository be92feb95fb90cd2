"""Redaction of the protected rendition: people, faces, uncertain moving regions and static privacy masks.

What is hidden in a frame (``PrivacyScene`` says what is known about it):

* every person box, grown by a safety ``margin`` and, between detector runs, by ``grow_per_s`` of its size
  for every second since it was last confirmed by a detection (the tracker's predicted box drifts; the
  mask grows with the uncertainty);
* every face box the face detector found (outside person boxes), with the same margin;
* when no detector result is fresh enough (older than ``fresh_s``, or none at all), every moving region:
  when in doubt, blur more;
* the static privacy masks from the camera's config (normalized polygons): their pixels are destroyed
  (a flat fill), not blurred.

People, faces and moving regions are blurred or pixelated, as configured. The blur is computed once per
frame over the area all regions span (downscaled, three box passes, scaled back up: ``scaled_blur``) with
the radius of the largest region (a fraction of its shorter side), and each region is copied from it, so
every region is blurred at least as strongly as on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from watchkeeper.domain.detections import Detections
from watchkeeper.privacy.blur import scaled_blur

MASK_FILL = 128
"""Grey level written over static privacy masks (the pixels are replaced, nothing of them is kept)."""

MOTION_CELL = 8
"""Side, in motion-mask pixels, of the cells moving regions are blurred in."""

_EMPTY_BOXES = np.zeros((0, 4), dtype=np.float32)


def _boxes() -> NDArray[np.float32]:
    return _EMPTY_BOXES.copy()


def _ages() -> NDArray[np.float32]:
    return np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class RedactionSettings:
    """How much and how to hide (see the module docstring)."""

    style: Literal["blur", "pixelate"] = "blur"
    margin: float = 0.2
    grow_per_s: float = 0.5
    fresh_s: float = 1.0
    strength: float = 0.2
    blur_motion: Literal["stale", "always"] = "stale"

    def __post_init__(self) -> None:
        if self.margin < 0 or self.grow_per_s < 0 or self.fresh_s <= 0 or not 0 < self.strength <= 1:
            raise ValueError(
                "need margin >= 0, grow_per_s >= 0, fresh_s > 0 and 0 < strength <= 1, got "
                f"{self.margin}, {self.grow_per_s}, {self.fresh_s}, {self.strength}"
            )


@dataclass(frozen=True, slots=True, eq=False)
class PrivacyScene:
    """What is known about one frame, in its pixels.

    Attributes:
        people: ``(N, 4)`` xyxy person boxes (detected or predicted).
        ages_s: ``(N,)`` seconds since each box was last confirmed by a detection (0: detected in this frame).
        faces: ``(M, 4)`` xyxy face boxes.
        motion: Moving pixels (any size; scaled to the frame), or ``None`` when unknown.
        detection_age_s: Seconds since the newest detector result, ``None`` when there never was one.
        blind: Nothing can vouch for the frame (a detector is expected but has not answered yet): the whole
            frame is hidden.
    """

    people: NDArray[np.float32] = field(default_factory=_boxes)
    ages_s: NDArray[np.float32] = field(default_factory=_ages)
    faces: NDArray[np.float32] = field(default_factory=_boxes)
    motion: NDArray[np.bool_] | None = None
    detection_age_s: float | None = None
    blind: bool = False

    def __post_init__(self) -> None:
        if self.people.shape[0] != self.ages_s.shape[0]:
            raise ValueError(f"{self.people.shape[0]} person boxes but {self.ages_s.shape[0]} ages")


def polygon_mask(polygon: Sequence[Sequence[float]], height: int, width: int) -> NDArray[np.bool_]:
    """Pixels (centres) inside a normalized polygon, even-odd rule."""
    ys, xs = np.mgrid[0:height, 0:width]
    px = (xs + 0.5) / width
    py = (ys + 0.5) / height
    inside = np.zeros((height, width), dtype=np.bool_)
    count = len(polygon)
    for index in range(count):
        x1, y1 = polygon[index]
        x2, y2 = polygon[(index - 1) % count]
        if y1 == y2:
            continue
        crosses = (y1 > py) != (y2 > py)
        at_x = (x2 - x1) * (py - y1) / (y2 - y1) + x1
        inside ^= crosses & (px < at_x)
    return inside


def motion_cells(motion: NDArray[np.bool_], cell: int = 8) -> NDArray[np.bool_]:
    """The coarse grid of a motion mask: a cell is moving when any of its ``cell`` x ``cell`` pixels is."""
    mask_h, mask_w = motion.shape
    rows = -(-mask_h // cell)
    cols = -(-mask_w // cell)
    padded = np.zeros((rows * cell, cols * cell), dtype=np.bool_)
    padded[:mask_h, :mask_w] = motion
    cells: NDArray[np.bool_] = np.asarray(padded.reshape(rows, cell, cols, cell).any(axis=(1, 3)))
    return cells


def cell_rectangles(cells: NDArray[np.bool_]) -> NDArray[np.int32]:
    """Rectangles ``(col0, row0, col1, row1)`` (exclusive ends) covering exactly the true cells.

    Runs of true cells along each row; a run repeated unchanged on the following rows extends one
    rectangle downwards. A blob of moving cells becomes a few rectangles instead of one box per cell.
    """
    edges = np.diff(np.pad(cells.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rects: list[tuple[int, int, int, int]] = []
    active: dict[tuple[int, int], int] = {}
    """Runs of the previous row, each with the row its rectangle started on."""
    for row in range(cells.shape[0]):
        starts = np.flatnonzero(edges[row] == 1).tolist()
        ends = np.flatnonzero(edges[row] == -1).tolist()
        following = {
            (start, end): active.pop((start, end), row) for start, end in zip(starts, ends, strict=True)
        }
        rects += [(start, top, end, row) for (start, end), top in active.items()]
        active = following
    rects += [(start, top, end, cells.shape[0]) for (start, end), top in active.items()]
    return np.array(rects, dtype=np.int32).reshape(-1, 4)


def motion_boxes(motion: NDArray[np.bool_], height: int, width: int, cell: int = 8) -> NDArray[np.float32]:
    """Boxes (frame pixels) covering the moving cells of a motion mask of any size (merged rectangles)."""
    mask_h, mask_w = motion.shape
    rects = cell_rectangles(motion_cells(motion, cell)).astype(np.float32) * np.float32(cell)
    scale = np.array([width / mask_w, height / mask_h, width / mask_w, height / mask_h], dtype=np.float32)
    boxes: NDArray[np.float32] = rects * scale
    return boxes


class PrivacyRedactor:
    """Hides people, faces, uncertain motion and static masks; also a ``Redactor`` (``apply``)."""

    def __init__(
        self,
        settings: RedactionSettings | None = None,
        masks: Sequence[Sequence[Sequence[float]]] = (),
        person_classes: Sequence[int] = (0,),
    ) -> None:
        """Redact with ``settings``; ``masks`` are normalized polygons destroyed in every frame."""
        self._settings = settings or RedactionSettings()
        self._masks = [list(map(list, polygon)) for polygon in masks]
        self._person_classes = np.array(sorted(set(person_classes)), dtype=np.int32)
        self._mask_cache: dict[tuple[int, int], NDArray[np.bool_]] = {}
        self._pixel_cache: dict[tuple[int, int], NDArray[np.bool_]] = {}

    @property
    def settings(self) -> RedactionSettings:
        """The settings."""
        return self._settings

    def static_mask(self, height: int, width: int) -> NDArray[np.bool_] | None:
        """The union of the static masks at this frame size (cached), or ``None`` without masks."""
        if not self._masks:
            return None
        key = (height, width)
        cached = self._mask_cache.get(key)
        if cached is None:
            cached = np.zeros((height, width), dtype=np.bool_)
            for polygon in self._masks:
                cached |= polygon_mask(polygon, height, width)
            self._mask_cache = {key: cached}
        return cached

    def masks_only(self, frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """``frame`` with only the static masks destroyed (a copy when there are masks)."""
        if not self._masks:
            return frame
        out = frame.copy()
        self.destroy_masked(out)
        return out

    def destroy_masked(self, frame: NDArray[np.uint8]) -> None:
        """Overwrite the static masks' pixels of the ``(H, W, 3)`` ``frame`` in place (one pass)."""
        destroyed = self.static_mask(frame.shape[0], frame.shape[1])
        if destroyed is None:
            return
        key = (frame.shape[0], frame.shape[1])
        channels = self._pixel_cache.get(key)
        if channels is None:
            channels = np.repeat(destroyed[:, :, None], frame.shape[2], axis=2)
            self._pixel_cache = {key: channels}
        np.copyto(frame, np.uint8(MASK_FILL), where=channels)

    def apply(self, frame: NDArray[np.uint8], dets: Detections) -> NDArray[np.uint8]:
        """``Redactor``: hide the person boxes of ``dets`` (fresh) and the static masks.

        Raises:
            ValueError: ``frame`` is not ``(H, W, 3)`` uint8.
        """
        people = dets.xyxy[np.isin(dets.class_id, self._person_classes)]
        scene = PrivacyScene(
            people=people, ages_s=np.zeros(len(people), dtype=np.float32), detection_age_s=0.0
        )
        return self.redact(frame, scene)

    def regions(self, scene: PrivacyScene, height: int, width: int) -> NDArray[np.int32]:
        """Integer xyxy rectangles (clipped to the frame) that ``redact`` blurs or pixelates."""
        if scene.blind:
            return np.array([[0, 0, width, height]], dtype=np.int32)
        settings = self._settings
        grow = settings.margin + settings.grow_per_s * np.clip(scene.ages_s, 0, None)
        boxes = [_grown(scene.people, grow), _grown(scene.faces, np.full(len(scene.faces), settings.margin))]
        stale = (
            settings.blur_motion == "always"
            or scene.detection_age_s is None
            or scene.detection_age_s > settings.fresh_s
        )
        if stale and scene.motion is not None and scene.motion.any():
            moving = motion_boxes(scene.motion, height, width, MOTION_CELL)
            cell_w = MOTION_CELL * width / scene.motion.shape[1]
            cell_h = MOTION_CELL * height / scene.motion.shape[0]
            # grown by the margin of one cell, as each cell on its own would be
            pad = np.array([-cell_w, -cell_h, cell_w, cell_h], dtype=np.float32) * np.float32(settings.margin)
            boxes.append(moving + pad)
        merged = np.concatenate(boxes, axis=0)
        rects = np.empty((len(merged), 4), dtype=np.int32)
        rects[:, 0] = np.clip(np.floor(merged[:, 0]), 0, width)
        rects[:, 1] = np.clip(np.floor(merged[:, 1]), 0, height)
        rects[:, 2] = np.clip(np.ceil(merged[:, 2]), 0, width)
        rects[:, 3] = np.clip(np.ceil(merged[:, 3]), 0, height)
        keep = (rects[:, 2] - rects[:, 0] >= 1) & (rects[:, 3] - rects[:, 1] >= 1)
        return rects[keep]

    def redact(self, frame: NDArray[np.uint8], scene: PrivacyScene) -> NDArray[np.uint8]:
        """A copy of ``frame`` with everything ``scene`` asks for (and the static masks) hidden.

        Raises:
            ValueError: ``frame`` is not ``(H, W, 3)`` uint8.
        """
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
        height, width = frame.shape[:2]
        out = frame.copy()
        rects = self.regions(scene, height, width)
        if self._settings.style == "pixelate":
            for x1, y1, x2, y2 in rects.tolist():
                out[y1:y2, x1:x2] = self._pixelate(out[y1:y2, x1:x2])
        elif len(rects):
            self._blur(frame, out, rects)
        self.destroy_masked(out)
        return out

    def _pixelate(self, crop: NDArray[np.uint8]) -> NDArray[np.uint8]:
        side = min(crop.shape[0], crop.shape[1])
        return _pixelate(crop, max(4, int(side * self._settings.strength)))

    def _blur(self, frame: NDArray[np.uint8], out: NDArray[np.uint8], rects: NDArray[np.int32]) -> None:
        """Blur every rectangle of ``out`` from one blurred copy of the area they span.

        The radius is that of the largest rectangle (``strength`` x its shorter side), so each rectangle is
        blurred at least as much as on its own; one blur per frame instead of one per rectangle.
        """
        sides = np.minimum(rects[:, 2] - rects[:, 0], rects[:, 3] - rects[:, 1])
        radius = max(2, int(int(sides.max()) * self._settings.strength))
        x0, y0 = int(rects[:, 0].min()), int(rects[:, 1].min())
        x1, y1 = int(rects[:, 2].max()), int(rects[:, 3].max())
        if min(x1 - x0, y1 - y0) < 2:
            out[y0:y1, x0:x1] = frame[y0:y1, x0:x1].mean(axis=(0, 1)).astype(np.uint8)
            return
        blurred = scaled_blur(frame[y0:y1, x0:x1], radius)
        for left, top, right, bottom in (rects - np.array([x0, y0, x0, y0], dtype=np.int32)).tolist():
            out[top + y0 : bottom + y0, left + x0 : right + x0] = blurred[top:bottom, left:right]


def _grown(boxes: NDArray[np.float32], grow: NDArray[np.floating]) -> NDArray[np.float32]:
    if not len(boxes):
        return _boxes()
    size_w = (boxes[:, 2] - boxes[:, 0]) * grow
    size_h = (boxes[:, 3] - boxes[:, 1]) * grow
    grown = np.stack(
        [boxes[:, 0] - size_w, boxes[:, 1] - size_h, boxes[:, 2] + size_w, boxes[:, 3] + size_h], axis=1
    )
    return grown.astype(np.float32)


def _pixelate(crop: NDArray[np.uint8], block: int) -> NDArray[np.uint8]:
    height, width = crop.shape[:2]
    out = crop.copy()
    for y in range(0, height, block):
        for x in range(0, width, block):
            cell = crop[y : y + block, x : x + block]
            out[y : y + block, x : x + block] = cell.reshape(-1, crop.shape[2]).mean(axis=0).astype(np.uint8)
    return out
