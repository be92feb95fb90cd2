"""Background subtraction against a running average of past frames."""

import numpy as np
from numpy.typing import NDArray

from watchkeeper.analyzers.motion.protocol import MotionResult


class RunningAverageMotion:
    """Marks a pixel as moving when it differs from the background by more than ``threshold``.

    The background adapts with rate ``alpha`` so slow light changes are absorbed; a frame counts as
    moving when at least ``min_area`` of its pixels changed.
    """

    def __init__(self, threshold: int = 25, min_area: float = 0.001, alpha: float = 0.05) -> None:
        """Create a detector.

        Args:
            threshold: Grey-level difference (1-255) that counts as change.
            min_area: Share of the frame (0-1) that must change for the frame to count as moving.
            alpha: Background learning rate (0-1).
        """
        if not 1 <= threshold <= 255:
            raise ValueError(f"threshold must be within [1, 255], got {threshold}")
        if not 0.0 <= min_area <= 1.0:
            raise ValueError(f"min_area must be within [0, 1], got {min_area}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be within (0, 1], got {alpha}")
        self._threshold = float(threshold)
        self._min_area = min_area
        self._alpha = alpha
        self._background: NDArray[np.float32] | None = None
        self._frame: NDArray[np.float32] | None = None
        self._mask: NDArray[np.bool_] | None = None

    @property
    def mask(self) -> NDArray[np.bool_] | None:
        """The changed pixels of the last frame (``None`` before the first), for region selection."""
        return self._mask

    def update(self, grey: NDArray[np.uint8]) -> MotionResult:
        """Compare ``grey`` with the background, then learn it into the background."""
        if grey.ndim != 2:
            raise ValueError(f"expected a 2-D grey frame (H, W), got shape {grey.shape}")
        frame = grey.astype(np.float32)
        self._frame = frame
        if self._background is None or self._background.shape != frame.shape:
            self._background = frame
            self._mask = np.zeros(frame.shape, dtype=np.bool_)
            return MotionResult(fraction=0.0, moving=False)
        changed = np.abs(frame - self._background) > self._threshold
        self._mask = changed
        fraction = float(changed.mean())
        self._background += self._alpha * (frame - self._background)
        return MotionResult(fraction=fraction, moving=fraction >= self._min_area)

    def absorb(self, x1: int, y1: int, x2: int, y2: int) -> None:
        """Learn the last frame's pixels ``[y1:y2, x1:x2]`` into the background now; clear the mask there.

        For a region where the object detector just found nothing: what moves there is a ghost (the
        background still holds an object that has left) or noise, which the slow running average would
        otherwise report for seconds, each time asking the detector again.
        """
        if self._background is None or self._frame is None or self._mask is None:
            return
        self._background[y1:y2, x1:x2] = self._frame[y1:y2, x1:x2]
        self._mask[y1:y2, x1:x2] = False
