"""Synthetic scenes for tracker tests: boxes moving in straight lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from watchkeeper.domain.detections import Detections

MakeDets = Callable[..., Detections]


def make_dets(
    centres: Sequence[tuple[float, float]],
    scores: Sequence[float] | None = None,
    classes: Sequence[int] | None = None,
    size: tuple[float, float] = (40.0, 80.0),
) -> Detections:
    """Detections with boxes of ``size`` centred on ``centres``."""
    half = np.array(size, dtype=np.float32) / 2
    points = np.asarray(centres, dtype=np.float32).reshape(-1, 2)
    count = points.shape[0]
    return Detections(
        xyxy=np.hstack([points - half, points + half]),
        confidence=np.full(count, 0.9) if scores is None else np.asarray(scores),
        class_id=np.zeros(count, dtype=np.int32) if classes is None else np.asarray(classes),
    )


@pytest.fixture
def dets() -> MakeDets:
    """Build detections from box centres (see ``make_dets``)."""
    return make_dets
