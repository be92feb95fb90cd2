"""The Detections structure-of-arrays type: shape checks, indexing, merging, immutability."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.domain import Detections


def make(n: int = 3, tracked: bool = False) -> Detections:
    xyxy = np.array([[i * 10, i * 10, i * 10 + 5, i * 10 + 8] for i in range(n)], dtype=np.float64)
    return Detections(
        xyxy=xyxy,
        confidence=np.linspace(0.3, 0.9, n),
        class_id=np.arange(n),
        tracker_id=np.arange(100, 100 + n) if tracked else None,
    )


def test_arrays_are_cast_copied_and_read_only() -> None:
    source = np.array([[0.0, 0.0, 4.0, 2.0]])
    dets = Detections(source, np.array([0.5]), np.array([2]))
    assert dets.xyxy.dtype == np.float32
    assert dets.confidence.dtype == np.float32
    assert dets.class_id.dtype == np.int32
    source[0, 0] = 3.0
    assert dets.xyxy[0, 0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        dets.xyxy[0, 0] = 1.0
    assert len(dets) == 1
    assert dets.area.tolist() == [8.0]


@pytest.mark.parametrize(
    ("xyxy", "confidence", "class_id", "tracker_id", "message"),
    [
        (np.zeros((2, 3)), np.zeros(2), np.zeros(2), None, r"xyxy must have shape \(N, 4\), got \(2, 3\)"),
        (np.zeros((2, 4)), np.zeros(3), np.zeros(2), None, r"confidence must have shape \(2,\) .*got \(3,\)"),
        (np.zeros((2, 4)), np.zeros(2), np.zeros((2, 1)), None, r"class_id must have shape \(2,\)"),
        (np.zeros((2, 4)), np.zeros(2), np.zeros(2), np.zeros(1), r"tracker_id must have shape \(2,\)"),
        (np.array([[5.0, 0, 1, 1]]), np.zeros(1), np.zeros(1), None, "x2 >= x1"),
        (np.array([[np.nan, 0, 1, 1]]), np.zeros(1), np.zeros(1), None, "finite"),
        (np.zeros((1, 4)), np.array([1.5]), np.zeros(1), None, r"confidence must be within \[0, 1\]"),
        (np.zeros((1, 4)), np.zeros(1), np.array([-1]), None, "class_id must be >= 0"),
        ("boxes", np.zeros(1), np.zeros(1), None, "xyxy must be numeric"),
    ],
)
def test_bad_shapes_and_values_are_rejected(xyxy, confidence, class_id, tracker_id, message) -> None:
    with pytest.raises(ValueError, match=message):
        Detections(xyxy, confidence, class_id, tracker_id)


def test_empty_and_empty_list_input() -> None:
    assert len(Detections.empty()) == 0
    dets = Detections([], [], [])
    assert dets.xyxy.shape == (0, 4)


def test_boolean_mask_integer_and_slice_indexing() -> None:
    dets = make(4, tracked=True)
    high = dets[dets.confidence > 0.5]
    assert len(high) == 2
    assert high.tracker_id is not None
    assert high.tracker_id.tolist() == [102, 103]
    assert dets[np.array([3, 0])].class_id.tolist() == [3, 0]
    assert len(dets[1:3]) == 2
    assert dets[2].xyxy.shape == (1, 4)
    with pytest.raises(IndexError, match=r"mask must have shape \(4,\)"):
        dets[np.array([True, False])]


def test_merge_and_tracker_ids() -> None:
    merged = Detections.merge([make(2), make(3)])
    assert len(merged) == 5
    assert merged.tracker_id is None
    tracked = make(2).with_tracker_id(np.array([7, 8]))
    assert tracked.tracker_id is not None
    assert tracked.tracker_id.dtype == np.int64
    assert len(Detections.merge([])) == 0
    with pytest.raises(ValueError, match="tracker_id on all parts or on none"):
        Detections.merge([tracked, make(1)])
