"""The redaction hook: one frame and its detections in, the frame fit to store or show out."""

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from watchkeeper.domain.detections import Detections


class Redactor(Protocol):
    """Uniform call shape: ``redactor.apply(frame, dets) -> frame``.

    Every frame of a camera that is stored or shown as a still (event snapshots today) passes through the
    one redactor the runtime wires in. Implementations never modify ``frame`` in place.
    """

    def apply(self, frame: NDArray[np.uint8], dets: Detections) -> NDArray[np.uint8]:
        """Return a redacted copy of ``frame``.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB frame.
            dets: Detections of that frame, boxes in its pixels (tracked or not).

        Returns:
            A new ``(H, W, 3)`` uint8 frame.
        """
        ...
