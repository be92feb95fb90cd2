"""Polygon and line zones on synthetic detections."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.analyzers.zones import (
    Anchor,
    CrossingDirection,
    FrameSize,
    LineZone,
    PolygonZone,
    anchor_points,
)
from watchkeeper.domain.detections import Detections

FRAME = FrameSize(640, 360)


def boxes(rows: list[list[float]], tracks: list[int] | None = None) -> Detections:
    count = len(rows)
    return Detections(
        xyxy=np.asarray(rows, dtype=np.float32).reshape(-1, 4),
        confidence=np.full(count, 0.9),
        class_id=np.zeros(count, dtype=np.int32),
        tracker_id=None if tracks is None else np.asarray(tracks),
    )


def test_normalized_points_become_pixels() -> None:
    zone = PolygonZone.from_normalized([[0, 0], [0.5, 0], [0.5, 0.5]], FRAME)
    np.testing.assert_allclose(zone.polygon, [[0, 0], [320, 0], [320, 180]])


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        (Anchor.BOTTOM_CENTER, [True, False, True]),
        (Anchor.CENTER, [False, False, True]),
        (Anchor.TOP_CENTER, [False, True, True]),
    ],
)
def test_polygon_trigger_uses_the_anchor(anchor: Anchor, expected: list[bool]) -> None:
    # Zone: a band from y=108 to y=216. Only the bottom of box 1, only the top of box 2 and all of box 3
    # are inside it.
    zone = PolygonZone.from_normalized([[0, 0.3], [1, 0.3], [1, 0.6], [0, 0.6]], FRAME, anchor)
    dets = boxes([[100, 50, 140, 150], [200, 150, 240, 300], [300, 120, 340, 200]])
    assert zone.trigger(dets).tolist() == expected


def test_polygon_concave_shape_and_empty_input() -> None:
    # An L shape: the notch at the top right is outside.
    zone = PolygonZone(np.array([[0, 0], [100, 0], [100, 50], [50, 50], [50, 100], [0, 100]], dtype=float))
    points = boxes([[20, 10, 30, 20], [70, 10, 80, 80], [70, 10, 80, 40]])
    assert zone.trigger(points).tolist() == [True, False, True]
    assert zone.trigger(Detections.empty()).shape == (0,)
    np.testing.assert_allclose(anchor_points(points, Anchor.CENTER)[0], [25, 15])


@pytest.mark.parametrize(
    ("polygon", "error"),
    [(np.zeros((2, 2)), ValueError), (np.zeros((4, 3)), ValueError), (np.zeros((3, 2)), None)],
)
def test_polygon_shape_is_checked(polygon: np.ndarray, error: type[Exception] | None) -> None:
    if error is None:
        PolygonZone(polygon)
    else:
        with pytest.raises(error, match="polygon"):
            PolygonZone(polygon)


def walk(line: LineZone, track: int, ys: list[float]) -> list[tuple[bool, bool]]:
    """Move a 20x20 box along x=100 through ``ys`` (bottom edges) and report crossings per step."""
    out = []
    for y in ys:
        result = line.crossings(boxes([[90, y - 20, 110, y]], [track]))
        out.append((bool(result.crossed_in[0]), bool(result.crossed_out[0])))
    return out


def test_line_crossing_direction_and_counts() -> None:
    # Horizontal line drawn left to right: "in" is moving down the screen (to its right-hand side).
    line = LineZone([0, 100], [200, 100])
    assert walk(line, 1, [50, 80, 120, 150]) == [
        (False, False),
        (False, False),
        (True, False),
        (False, False),
    ]
    assert walk(line, 2, [150, 120, 80]) == [(False, False), (False, False), (False, True)]
    assert (line.in_count, line.out_count) == (1, 1)
    reverse = LineZone([200, 100], [0, 100])
    assert walk(reverse, 1, [50, 150])[-1] == (False, True)


def test_line_crossing_outside_the_segment_and_jitter_do_not_count() -> None:
    line = LineZone([0, 100], [50, 100], margin=3.0)
    assert walk(line, 1, [50, 150]) == [(False, False), (False, False)]  # passes beside the segment end
    line = LineZone([0, 100], [200, 100], margin=3.0)
    jitter = walk(line, 2, [90, 99, 101, 99, 101, 110])
    assert jitter.count((True, False)) == 1
    assert line.out_count == 0


def test_line_trigger_filters_by_direction_and_needs_tracks() -> None:
    line = LineZone.from_normalized([[0, 0.5], [1, 0.5]], FRAME)
    line.trigger(boxes([[90, 100, 110, 120]], [1]), CrossingDirection.OUT)
    assert line.trigger(boxes([[90, 200, 110, 220]], [1]), CrossingDirection.OUT).tolist() == [False]
    assert line.in_count == 1
    with pytest.raises(ValueError, match="tracker_id"):
        line.trigger(boxes([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="2 points"):
        LineZone.from_normalized([[0, 0], [1, 1], [0, 1]], FRAME)
    with pytest.raises(ValueError, match="distinct"):
        LineZone([5, 5], [5, 5])


def test_line_forgets_old_tracks() -> None:
    line = LineZone([0, 100], [200, 100], max_age=2)
    walk(line, 1, [50])
    for _ in range(3):
        line.crossings(boxes([[0, 0, 10, 10]], [9]))
    assert walk(line, 1, [150]) == [(False, False)]  # position of track 1 was forgotten


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, -1)])
def test_frame_size_must_be_positive(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        FrameSize(width, height)
