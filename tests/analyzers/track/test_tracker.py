"""ByteTrack-style tracker on synthetic scenes: ids are stable, never swap, and end with gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.analyzers.track.conftest import MakeDets
from watchkeeper.analyzers.track import ByteTracker, TrackerSettings, box_iou, greedy_match
from watchkeeper.domain.detections import Detections

STEP = 0.2


def test_a_moving_object_is_confirmed_after_min_hits_and_keeps_its_id(dets: MakeDets) -> None:
    tracker = ByteTracker(TrackerSettings(min_hits=3))
    ids = []
    for frame in range(30):
        out = tracker.update(dets([(100 + 8 * frame, 200)]), frame * STEP)
        ids.append(out.tracker_id.tolist() if out.tracker_id is not None else None)
        if frame >= 2:
            np.testing.assert_allclose(out.xyxy[0], [80 + 8 * frame, 160, 120 + 8 * frame, 240])
    assert ids[:2] == [[], []]
    assert all(frame_ids == [1] for frame_ids in ids[2:])


def test_two_objects_passing_each_other_do_not_swap_ids(dets: MakeDets) -> None:
    tracker = ByteTracker()
    rightward: set[int] = set()
    leftward: set[int] = set()
    for frame in range(40):
        right_x, left_x = 50 + 10 * frame, 450 - 10 * frame
        out = tracker.update(dets([(right_x, 200), (left_x, 215)]), frame * STEP)
        assert out.tracker_id is not None
        for box, track in zip(out.xyxy, out.tracker_id.tolist(), strict=True):
            (rightward if (box[1] + box[3]) / 2 < 207 else leftward).add(track)
    assert len(rightward) == 1
    assert len(leftward) == 1
    assert rightward != leftward


def test_an_object_occluded_for_a_few_frames_keeps_its_id(dets: MakeDets) -> None:
    tracker = ByteTracker()
    seen = set()
    for frame in range(30):
        centre = (60 + 12 * frame, 300)
        hidden = 10 <= frame < 15
        predicted = tracker.predict(frame * STEP)
        if hidden:
            assert len(predicted) == 1
            assert abs((predicted.xyxy[0, 0] + predicted.xyxy[0, 2]) / 2 - centre[0]) < 6
        out = tracker.update(Detections.empty() if hidden else dets([centre]), frame * STEP)
        if out.tracker_id is not None:
            seen.update(out.tracker_id.tolist())
    assert seen == {1}


def test_low_score_detections_keep_a_track_but_never_start_one(dets: MakeDets) -> None:
    tracker = ByteTracker()
    for frame in range(5):
        tracker.update(dets([(100 + 5 * frame, 100)]), frame * STEP)
    for frame in range(5, 10):
        out = tracker.update(dets([(100 + 5 * frame, 100)], scores=[0.3]), frame * STEP)
        assert out.tracker_id is not None
        assert out.tracker_id.tolist() == [1]
    fresh = ByteTracker()
    for frame in range(10):
        assert len(fresh.update(dets([(100, 100)], scores=[0.3]), frame * STEP)) == 0
    assert fresh.confirmed_count == 0


@pytest.mark.parametrize(
    ("gap_frames", "gap_seconds", "same_id"),
    [
        (3, 0.6, True),
        (20, 4.0, False),  # more than max_missed updates
        (1, 5.0, False),  # one missed update but a long time gap
    ],
)
def test_tracks_end_after_missed_updates_or_a_time_gap(
    dets: MakeDets, gap_frames: int, gap_seconds: float, same_id: bool
) -> None:
    tracker = ByteTracker(TrackerSettings(max_missed=15, max_gap_s=3.0))
    now = 0.0
    for _ in range(5):
        tracker.update(dets([(100, 100)]), now)
        now += STEP
    for step in range(gap_frames):
        tracker.update(Detections.empty(), now + step * gap_seconds / gap_frames)
    now += gap_seconds
    ids: set[int] = set()
    for _ in range(4):
        out = tracker.update(dets([(100, 100)]), now)
        if out.tracker_id is not None:
            ids.update(out.tracker_id.tolist())
        now += STEP
    assert ids == ({1} if same_id else {2})


def test_classes_do_not_share_tracks(dets: MakeDets) -> None:
    tracker = ByteTracker()
    for frame in range(5):
        tracker.update(dets([(100, 100)], classes=[2]), frame * STEP)
    out = Detections.empty()
    for frame in range(5, 10):
        out = tracker.update(dets([(100, 100)], classes=[7]), frame * STEP)
    assert out.tracker_id is not None
    assert out.tracker_id.tolist() == [2]


def test_ids_are_per_tracker_and_accept_aware_datetimes(dets: MakeDets) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    first, second = ByteTracker(), ByteTracker()
    for frame in range(4):
        at = start + timedelta(seconds=frame * STEP)
        out_first = first.update(dets([(50, 50), (300, 300)]), at)
        out_second = second.update(dets([(300, 300)]), at)
    assert sorted(out_first.tracker_id.tolist()) == [1, 2]  # type: ignore[union-attr]
    assert out_second.tracker_id.tolist() == [1]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("at", "error"),
    [
        (datetime(2026, 1, 1), "naive"),
        (-1.0, "backwards"),
    ],
)
def test_bad_times_are_rejected(dets: MakeDets, at: datetime | float, error: str) -> None:
    tracker = ByteTracker()
    tracker.update(dets([(10, 10)]), 0.0)
    with pytest.raises(ValueError, match=error):
        tracker.update(dets([(10, 10)]), at)


def test_predict_changes_nothing(dets: MakeDets) -> None:
    def run(with_predict: bool) -> list[list[float]]:
        tracker = ByteTracker()
        boxes = []
        for frame in range(10):
            if with_predict:
                tracker.predict(frame * STEP + 0.1)
            tracker.update(dets([(100 + 7 * frame, 100)]), frame * STEP)
            boxes.append(tracker.predict(frame * STEP + 0.1).xyxy.tolist())
        return boxes

    assert run(True) == run(False)
    assert len(ByteTracker().predict(1.0)) == 0


def test_fifty_objects_keep_fifty_ids(dets: MakeDets) -> None:
    rng = np.random.default_rng(7)
    starts = np.stack([np.arange(50) % 10 * 120 + 60, np.arange(50) // 10 * 150 + 80], axis=1).astype(float)
    velocity = rng.uniform(-4, 4, size=(50, 2))
    tracker = ByteTracker()
    history: dict[int, set[int]] = {}
    for frame in range(25):
        centres = starts + velocity * frame + rng.normal(0, 0.5, size=(50, 2))
        out = tracker.update(dets([tuple(c) for c in centres], size=(30.0, 60.0)), frame * STEP)
        assert out.tracker_id is not None
        for track, box in zip(out.tracker_id.tolist(), out.xyxy, strict=True):
            centre = (box[:2] + box[2:]) / 2
            nearest = int(np.argmin(np.linalg.norm(centres - centre, axis=1)))
            history.setdefault(track, set()).add(nearest)
    assert len(history) == 50
    assert all(len(objects) == 1 for objects in history.values())


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"low_score": 0.6, "high_score": 0.5}, "low_score"),
        ({"min_hits": 0}, "min_hits"),
        ({"max_gap_s": 0}, "max_gap_s"),
        ({"min_hits": 1}, None),
    ],
)
def test_settings_are_checked(kwargs: dict[str, float], error: str | None) -> None:
    if error is None:
        TrackerSettings(**kwargs)  # type: ignore[arg-type]
        return
    with pytest.raises(ValueError, match=error):
        TrackerSettings(**kwargs)  # type: ignore[arg-type]


def test_iou_and_greedy_matching() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=np.float32)
    b = np.array([[0, 0, 10, 5], [100, 100, 100, 100]], dtype=np.float32)
    iou = box_iou(a, b)
    np.testing.assert_allclose(iou, [[0.5, 0.0], [0.0, 0.0]])
    score = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert greedy_match(score, 0.5).tolist() == [[0, 0]]
    assert greedy_match(np.zeros((0, 3)), 0.1).shape == (0, 2)
