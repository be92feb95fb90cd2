"""The detector protocol: one RGB frame in, ``Detections`` out."""

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from watchkeeper.domain.detections import Detections


class Detector(Protocol):
    """Uniform call shape: ``detector.detect(frame) -> Detections``.

    Implementations are generic object detectors (COCO-style classes). They never recognise faces or
    identities and never describe people's attributes.
    """

    @property
    def class_names(self) -> Sequence[str]:
        """Class names by index; ``Detections.class_id`` indexes into this."""
        ...

    def detect(self, frame: NDArray[np.uint8]) -> Detections:
        """Detect objects in one frame.

        Args:
            frame: ``(H, W, 3)`` uint8 image in **RGB** order (PyAV ``to_ndarray(format="rgb24")``).

        Returns:
            The detections, with boxes in pixels of ``frame``.
        """
        ...
