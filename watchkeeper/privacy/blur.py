"""Default redaction: a strong blur over every person box, with a margin.

Blur, not a black box: the scene stays readable (someone was there, where they went) while faces and
clothing detail are gone. The blur is three passes of a box filter (close to a Gaussian) whose radius grows
with the box, so a large close-up person is blurred as much as a small distant one relative to their size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from av.video.frame import VideoFrame
from numpy.typing import NDArray

from watchkeeper.domain.detections import Detections


def _blur_axis(image: NDArray[np.float32], radius: int, axis: int) -> NDArray[np.float32]:
    size = image.shape[axis]
    pad = [(0, 0)] * image.ndim
    pad[axis] = (radius + 1, radius)
    padded = np.pad(image, pad, mode="edge")
    summed = np.cumsum(padded, axis=axis, dtype=np.float32)
    upper = np.take(summed, np.arange(2 * radius + 1, 2 * radius + 1 + size), axis=axis)
    lower = np.take(summed, np.arange(0, size), axis=axis)
    result: NDArray[np.float32] = (upper - lower) / float(2 * radius + 1)
    return result


def box_blur(image: NDArray[np.uint8], radius: int, passes: int = 3) -> NDArray[np.uint8]:
    """Blur ``image`` (``(H, W)`` or ``(H, W, C)`` uint8) with ``passes`` box filters of ``radius``.

    Raises:
        ValueError: ``radius`` or ``passes`` is below 1.
    """
    if radius < 1 or passes < 1:
        raise ValueError(f"radius and passes must be >= 1, got {radius} and {passes}")
    work = image.astype(np.float32)
    for _ in range(passes):
        work = _blur_axis(_blur_axis(work, radius, 0), radius, 1)
    blurred: NDArray[np.uint8] = np.clip(np.rint(work), 0, 255).astype(np.uint8)
    return blurred


SMALL_RADIUS = 1
"""Radius of the box passes :func:`scaled_blur` runs on its downscaled copy."""


def scaled_blur(image: NDArray[np.uint8], radius: int) -> NDArray[np.uint8]:
    """A blur at least as strong as :func:`box_blur` with ``radius``, computed on a downscaled copy.

    ``image`` (``(H, W, 3)`` RGB uint8) is averaged down (FFmpeg's area scaler, every pixel counts) by a
    factor ``f = 2 * radius / 3``, blurred there with three box passes of ``SMALL_RADIUS``, and scaled back
    up bilinearly. The spread adds up to about that of :func:`box_blur` (standard deviation ~ ``radius``:
    ``2 f^2`` from the passes, ``f^2 / 12`` from the averaging, ``f^2 / 6`` from the interpolation), so no
    detail finer than the radius survives, at a small fraction of the cost. Small radii (or images too
    small to shrink) take :func:`box_blur` itself.

    Raises:
        ValueError: ``radius`` is below 1 or ``image`` is not ``(H, W, 3)`` uint8.
    """
    if radius < 1:
        raise ValueError(f"radius must be >= 1, got {radius}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    factor = 2 * radius // 3
    height, width = image.shape[:2]
    if factor < 2 or height < 2 * factor or width < 2 * factor:
        return box_blur(image, radius)
    frame = VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    small = frame.reformat(width=width // factor, height=height // factor, interpolation="AREA")
    soft = box_blur(np.asarray(small.to_ndarray(), dtype=np.uint8), SMALL_RADIUS)
    large = VideoFrame.from_ndarray(soft, format="rgb24").reformat(
        width=width, height=height, interpolation="BILINEAR"
    )
    blurred: NDArray[np.uint8] = np.asarray(large.to_ndarray(), dtype=np.uint8)
    return blurred


class PersonBlur:
    """A ``Redactor`` that blurs the boxes of the given classes (default: class 0, ``person`` in COCO)."""

    def __init__(self, class_ids: Sequence[int] = (0,), margin: float = 0.15, strength: float = 0.2) -> None:
        """Blur boxes of ``class_ids``, grown by ``margin`` of their size; radius ``strength`` x box side.

        Raises:
            ValueError: ``margin`` is negative or ``strength`` not within (0, 1].
        """
        if margin < 0 or not 0 < strength <= 1:
            raise ValueError(f"need margin >= 0 and 0 < strength <= 1, got {margin} and {strength}")
        self._class_ids = np.array(sorted(set(class_ids)), dtype=np.int32)
        self._margin = margin
        self._strength = strength

    def apply(self, frame: NDArray[np.uint8], dets: Detections) -> NDArray[np.uint8]:
        """Return a copy of ``frame`` with every matching box blurred.

        Raises:
            ValueError: ``frame`` is not ``(H, W, C)`` uint8.
        """
        if frame.ndim != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, C) uint8 frame, got {frame.shape} {frame.dtype}")
        out = frame.copy()
        height, width = frame.shape[:2]
        for box in dets.xyxy[np.isin(dets.class_id, self._class_ids)]:
            bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
            x1 = max(0, int(box[0] - bw * self._margin))
            y1 = max(0, int(box[1] - bh * self._margin))
            x2 = min(width, int(np.ceil(box[2] + bw * self._margin)))
            y2 = min(height, int(np.ceil(box[3] + bh * self._margin)))
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            radius = max(2, int(min(x2 - x1, y2 - y1) * self._strength))
            out[y1:y2, x1:x2] = box_blur(out[y1:y2, x1:x2], radius)
        return out
