"""The motion detector protocol: one grey frame in, one result out."""

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class MotionResult:
    """How much of the frame moved. ``fraction`` is the share of changed pixels in [0, 1]."""

    fraction: float
    moving: bool

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1], got {self.fraction}")


class MotionDetector(Protocol):
    """Uniform call shape: ``detector.update(grey) -> MotionResult``."""

    def update(self, grey: NDArray[np.uint8]) -> MotionResult:
        """Feed the next frame (2-D uint8 array) and return whether it moved."""
        ...
