"""Two motion-region crops side by side in one detector input: one detector run instead of two.

The detector stretches whatever it gets to its fixed input (416x416 for NanoDet), so a small crop is
upscaled and most of that compute adds nothing. Two crops placed next to each other (or one above the
other, whichever is closer to square), with a neutral grey gap between them, are looked at in one run. A
pair is packed only when the packed canvas is no longer than the frame on either side, so the detector sees
the objects at least at the scale a whole-frame run would (usually larger). Each detection is given back to
the crop that holds its centre, clipped to that crop and shifted to frame pixels; one centred in the gap
belongs to neither and is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from watchkeeper.domain.detections import Detections

GAP = 16
"""Pixels of grey between the two crops, so an object cannot seem to continue from one into the other."""
FILL = 114
"""Grey level of the gap and the unused corner (the usual letterbox grey)."""


@dataclass(frozen=True, slots=True)
class Crop:
    """A crop of the frame, in frame pixels (``x2``/``y2`` exclusive)."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.y2 - self.y1


@dataclass(frozen=True, slots=True)
class _Placed:
    crop: Crop
    left: int
    top: int


@dataclass(frozen=True, slots=True, eq=False)
class PackedPair:
    """Two crops of one frame on one canvas, and where each went."""

    canvas: NDArray[np.uint8]
    placed: tuple[_Placed, _Placed]

    def unpack(self, found: Detections) -> Detections:
        """Canvas detections -> frame pixels; each box goes to the crop holding its centre, clipped to it."""
        if not len(found):
            return found
        centres_x = (found.xyxy[:, 0] + found.xyxy[:, 2]) / 2
        centres_y = (found.xyxy[:, 1] + found.xyxy[:, 3]) / 2
        parts: list[Detections] = []
        for item in self.placed:
            crop = item.crop
            inside = (
                (centres_x >= item.left)
                & (centres_x < item.left + crop.width)
                & (centres_y >= item.top)
                & (centres_y < item.top + crop.height)
            )
            if not inside.any():
                continue
            mine = found[inside]
            boxes = mine.xyxy.copy()
            np.clip(boxes[:, 0::2], item.left, item.left + crop.width, out=boxes[:, 0::2])
            np.clip(boxes[:, 1::2], item.top, item.top + crop.height, out=boxes[:, 1::2])
            shift = np.array(
                [crop.x1 - item.left, crop.y1 - item.top, crop.x1 - item.left, crop.y1 - item.top], np.float32
            )
            parts.append(Detections(boxes + shift, mine.confidence, mine.class_id))
        return Detections.merge(parts)


def pack_pair(frame: NDArray[np.uint8], first: Crop, second: Crop) -> PackedPair | None:
    """Put two crops of ``frame`` (``(H, W, 3)`` uint8) on one canvas; ``None`` when they do not fit.

    They fit when the side-by-side or stacked canvas, whichever is closer to square, is no wider and no
    higher than the frame.
    """
    height, width = frame.shape[:2]
    side = (first.width + GAP + second.width, max(first.height, second.height))
    stacked = (max(first.width, second.width), first.height + GAP + second.height)
    options = [size for size in (side, stacked) if size[0] <= width and size[1] <= height]
    if not options:
        return None
    canvas_w, canvas_h = min(options, key=lambda size: abs(np.log(size[0] / size[1])))
    canvas = np.full((canvas_h, canvas_w, 3), FILL, dtype=np.uint8)
    if (canvas_w, canvas_h) == side:
        placed = (_Placed(first, 0, 0), _Placed(second, first.width + GAP, 0))
    else:
        placed = (_Placed(first, 0, 0), _Placed(second, 0, first.height + GAP))
    for item in placed:
        crop = item.crop
        canvas[item.top : item.top + crop.height, item.left : item.left + crop.width] = frame[
            crop.y1 : crop.y2, crop.x1 : crop.x2
        ]
    return PackedPair(canvas, placed)
