"""Fixtures for the analytics pipeline tests: real footage (vtest.avi) and the built-in detector."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from tests.analyzers.detect.conftest import VTEST, require_file
from watchkeeper.analyzers.detect import OnnxDetector, builtin_model_path
from watchkeeper.config.detectors import DetectorConfig

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Frame:
    """One analysis frame of real footage: colour (analysis size), grey (motion size) and its time."""

    rgb: NDArray[np.uint8]
    grey: NDArray[np.uint8]
    at: datetime


def read_frames(path: Path, first: int, count: int, step: int = 2, fps: float = 10.0) -> list[Frame]:
    """Frames ``first, first+step, ...`` of ``path`` at 384x288 RGB and 160x120 grey, timed as decoded."""
    frames: list[Frame] = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= first + count * step:
                break
            if index < first or (index - first) % step:
                continue
            rgb = frame.reformat(width=384, height=288, format="rgb24").to_ndarray()
            grey = frame.reformat(width=160, height=120, format="gray").to_ndarray()
            at = T0 + timedelta(seconds=index / fps)
            frames.append(Frame(np.ascontiguousarray(rgb), np.ascontiguousarray(grey), at))
    return frames


@pytest.fixture(scope="session")
def detector() -> OnnxDetector:
    path = require_file(builtin_model_path(), "the built-in detector model")
    return OnnxDetector(DetectorConfig(threads=2), path)


@pytest.fixture(scope="session")
def vtest_clip() -> list[Frame]:
    """8 s of vtest.avi (pedestrians on a plaza) at 5 fps: frames 100, 102, ..., 178."""
    require_file(VTEST, "test footage")
    return read_frames(VTEST, 100, 40)
