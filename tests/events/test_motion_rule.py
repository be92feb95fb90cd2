from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.analyzers.motion import MotionResult
from watchkeeper.domain import CameraId, EventKind
from watchkeeper.events.motion import EventChangeKind, MotionEventRule, MotionRuleSettings

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MOVING = MotionResult(fraction=0.05, moving=True)
STILL = MotionResult(fraction=0.0, moving=False)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_event_starts_after_min_frames_and_ends_after_cooldown() -> None:
    rule = MotionEventRule(CameraId("cam1"), MotionRuleSettings(min_frames=3, cooldown_s=2.0))
    assert rule.update(MOVING, _at(0.0)) is None
    assert rule.update(MOVING, _at(0.2)) is None
    started = rule.update(MOVING, _at(0.4))
    assert started is not None
    assert started.change is EventChangeKind.STARTED
    assert started.event.kind is EventKind.MOTION
    assert started.event.start == _at(0.4)
    assert started.event.end is None
    assert rule.update(MOVING, _at(1.0)) is None  # ongoing: no duplicate start
    assert rule.update(STILL, _at(2.0)) is None  # still inside the cooldown
    ended = rule.update(STILL, _at(3.0))
    assert ended is not None
    assert ended.change is EventChangeKind.ENDED
    assert ended.event.id == started.event.id
    assert ended.event.end == _at(1.0)  # the last frame that moved


def test_isolated_flicker_does_not_start_an_event() -> None:
    rule = MotionEventRule(CameraId("cam1"), MotionRuleSettings(min_frames=2, cooldown_s=1.0))
    for second in range(10):
        moving = MOVING if second % 2 == 0 else STILL
        assert rule.update(moving, _at(second)) is None


def test_close_on_disconnect_ends_the_ongoing_event_once() -> None:
    rule = MotionEventRule(CameraId("cam1"), MotionRuleSettings(min_frames=1, cooldown_s=60.0))
    started = rule.update(MOVING, _at(0))
    assert started is not None
    ended = rule.close(_at(5))
    assert ended is not None
    assert ended.event.end == _at(5)
    assert rule.close(_at(6)) is None
    assert rule.active is None


def test_score_is_the_peak_motion_scaled_to_one() -> None:
    rule = MotionEventRule(CameraId("cam1"), MotionRuleSettings(min_frames=1, cooldown_s=1.0, score_scale=10))
    started = rule.update(MotionResult(fraction=0.02, moving=True), _at(0))
    assert started is not None
    assert started.event.score == pytest.approx(0.2)
    rule.update(MotionResult(fraction=0.5, moving=True), _at(0.2))
    ended = rule.close(_at(1))
    assert ended is not None
    assert ended.event.score == 1.0


def test_min_frames_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="min_frames must be >= 1"):
        MotionEventRule(CameraId("cam1"), MotionRuleSettings(min_frames=0))
