"""The default redactor blurs person boxes (with a margin) and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from tests.analytics.conftest import Frame
from watchkeeper.analyzers.detect import OnnxDetector
from watchkeeper.domain import Detections
from watchkeeper.privacy import PersonBlur, box_blur


def detail(image: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels: high for sharp detail, low when smoothed."""
    work = image.astype(np.float32)
    return float(np.abs(np.diff(work, axis=0)).mean() + np.abs(np.diff(work, axis=1)).mean())


def test_person_boxes_are_blurred_and_other_classes_untouched() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, size=(120, 200, 3), dtype=np.uint8)
    dets = Detections(
        np.array([[20, 20, 60, 100], [120, 20, 180, 80]]), np.array([0.9, 0.8]), np.array([0, 2])
    )
    original = frame.copy()
    out = PersonBlur().apply(frame, dets)
    assert np.array_equal(frame, original), "the input frame is left alone"
    person, car = (slice(20, 100), slice(20, 60)), (slice(20, 80), slice(120, 180))
    assert detail(out[person]) < detail(frame[person]) / 5
    assert np.array_equal(out[car], frame[car])
    margin = (slice(12, 20), slice(20, 60))  # 15 % margin above the box is blurred too
    assert not np.array_equal(out[margin], frame[margin])
    assert np.array_equal(out[113:, :], frame[113:, :])


def test_a_real_person_is_unrecognisable_after_redaction(
    detector: OnnxDetector, vtest_clip: list[Frame]
) -> None:
    frame = vtest_clip[0].rgb
    found = detector.detect(frame)
    people = found[found.class_id == 0]
    assert len(people) >= 1
    out = PersonBlur().apply(frame, found)
    for x1, y1, x2, y2 in people.xyxy.astype(int).tolist():
        assert detail(out[y1:y2, x1:x2]) < detail(frame[y1:y2, x1:x2]) / 2
    again = detector.detect(out)
    assert int(np.sum(again.class_id == 0)) < len(people)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="uint8 frame"):
        PersonBlur().apply(np.zeros((4, 4), np.uint8), Detections.empty())
    with pytest.raises(ValueError, match="margin"):
        PersonBlur(margin=-1)
    with pytest.raises(ValueError, match="radius"):
        box_blur(np.zeros((4, 4), np.uint8), 0)
