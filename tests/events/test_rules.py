"""Zone and line rules: start/end semantics of every rule type, filters, hysteresis and red lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

from watchkeeper.analyzers.track import ByteTracker
from watchkeeper.analyzers.zones import FrameSize
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.zones import RuleConfig, RuleModel, ZoneConfig
from watchkeeper.domain import CameraId, EventKind
from watchkeeper.domain.detections import Detections
from watchkeeper.events.motion import EventChange, EventChangeKind
from watchkeeper.events.rules import RuleEngine, RuleEngineSettings

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
STEP = 0.2
FRAME = FrameSize(640, 360)
CLASSES = ("person", "bicycle", "car", "truck")
PERSON, CAR, TRUCK = 0, 2, 3
# The lower right quarter of the frame: x 320..640, y 180..360 in pixels.
LANE = ZoneConfig(name="lane", polygon=[[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]])
# A vertical line at x = 320 drawn top to bottom: "in" is moving left (its right-hand side on screen).
GATE = ZoneConfig(name="gate", line=[[0.5, 0], [0.5, 1]], direction="in")
RULES: TypeAdapter[RuleModel] = TypeAdapter(RuleConfig)


def at(frame: int) -> datetime:
    return T0 + timedelta(seconds=frame * STEP)


def engine(rule: dict[str, Any], exit_frames: int = 2) -> RuleEngine:
    parsed = RULES.validate_python({"name": "r", "filters": {"confirm_frames": 1}} | rule)
    settings = RuleEngineSettings(track_timeout_s=1.0, exit_frames=exit_frames)
    return RuleEngine(CameraId("cam"), [LANE, GATE], [parsed], FRAME, CLASSES, settings)


def obj(track: int, x: float, y: float, cls: int = CAR, score: float = 0.9, size: float = 40) -> Detections:
    """One tracked box whose bottom centre is at (x, y)."""
    return Detections(
        xyxy=np.array([[x - size / 2, y - size, x + size / 2, y]]),
        confidence=np.array([score]),
        class_id=np.array([cls]),
        tracker_id=np.array([track]),
    )


def frame_of(*objects: Detections) -> Detections:
    return (
        Detections.merge(list(objects))
        if objects
        else Detections.empty().with_tracker_id(np.zeros(0, dtype=np.int64))
    )


def run(rules: RuleEngine, frames: Sequence[Detections]) -> list[tuple[int, EventChange]]:
    """Feed frames and return (frame index, change) pairs."""
    out = []
    for index, dets in enumerate(frames):
        out += [(index, change) for change in rules.update(dets, at(index))]
    return out


INSIDE, OUTSIDE = (480, 300), (100, 100)


def path(*positions: tuple[float, float], track: int = 1, **kwargs: Any) -> list[Detections]:
    return [obj(track, x, y, **kwargs) for x, y in positions]


def test_enter_starts_on_the_first_frame_inside_and_ends_when_the_track_leaves() -> None:
    rules = engine({"type": "enter", "zone": "lane", "classes": ["car"]})
    frames = path(OUTSIDE, OUTSIDE, INSIDE, INSIDE, INSIDE, OUTSIDE, OUTSIDE, OUTSIDE, INSIDE, INSIDE)
    frames[3] = obj(1, *INSIDE, score=0.97)
    changes = run(rules, frames)
    assert [(index, change.change) for index, change in changes] == [
        (2, EventChangeKind.STARTED),
        (6, EventChangeKind.ENDED),  # two frames outside (exit_frames=2); re-entering later raises nothing
    ]
    started, ended = changes[0][1].event, changes[1][1].event
    assert started.start == at(2)
    assert started.end is None
    assert (ended.id, ended.end, ended.best_at) == (started.id, at(4), at(3))
    assert ended.score == pytest.approx(0.97)
    assert (ended.kind, ended.rule, ended.zone, ended.object_class, ended.track_id) == (
        EventKind.ZONE,
        "r",
        "lane",
        "car",
        1,
    )
    assert ended.label == "car entered lane"


def test_enter_ends_at_the_last_sighting_when_the_track_is_lost() -> None:
    rules = engine({"type": "enter", "zone": "lane"})
    frames = [*path(INSIDE, INSIDE), *[frame_of()] * 8]
    changes = run(rules, frames)
    assert [(index, change.change) for index, change in changes] == [
        (0, EventChangeKind.STARTED),
        (7, EventChangeKind.ENDED),  # more than track_timeout_s (1 s) after the last sighting
    ]
    assert changes[1][1].event.end == at(1)


def test_leave_is_one_instant_event_and_a_track_lost_inside_raises_nothing() -> None:
    rules = engine({"type": "leave", "zone": "lane"})
    changes = run(rules, path(INSIDE, INSIDE, INSIDE, OUTSIDE, OUTSIDE, OUTSIDE))
    assert [(index, change.change) for index, change in changes] == [
        (4, EventChangeKind.STARTED),
        (4, EventChangeKind.ENDED),
    ]
    event = changes[1][1].event
    assert (event.start, event.end, event.label) == (at(0), at(3), "car left lane")
    lost = engine({"type": "leave", "zone": "lane"})
    assert run(lost, [*path(INSIDE, INSIDE), *[frame_of()] * 10]) == []


@pytest.mark.parametrize(
    ("frames_inside", "expected"),
    [
        (10, []),  # 1.8 s inside: shorter than the dwell time
        (20, [(15, EventChangeKind.STARTED), (21, EventChangeKind.ENDED)]),
    ],
)
def test_dwell_starts_when_the_time_is_up_and_is_dated_from_entry(
    frames_inside: int, expected: list[tuple[int, EventChangeKind]]
) -> None:
    rules = engine({"type": "dwell", "zone": "lane", "classes": ["car"], "seconds": 3})
    frames = [*path(*[INSIDE] * frames_inside), *path(*[OUTSIDE] * 4)]
    changes = run(rules, frames)
    assert [(index, change.change) for index, change in changes] == expected
    if expected:
        started, ended = changes[0][1].event, changes[1][1].event
        assert started.start == at(0)
        assert ended.end == at(frames_inside - 1)
        assert started.label == "car in lane over 3 s"


def cars(count: int, first_track: int = 1) -> Detections:
    """``count`` cars parked side by side inside the lane."""
    return frame_of(*[obj(first_track + n, 340 + 30 * n, 300, size=20) for n in range(count)])


def test_count_uses_hysteresis_and_records_the_peak() -> None:
    rules = engine(
        {"type": "count", "zone": "lane", "classes": ["car", "truck"], "threshold": 3, "clear_below": 2}
    )
    counts = [1, 2, 3, 2, 4, 2, 1, 2, 1, 1, 3]
    changes = run(rules, [cars(n) for n in counts])
    assert [(index, change.change) for index, change in changes] == [
        (2, EventChangeKind.STARTED),
        (9, EventChangeKind.ENDED),  # below 2 at 8 and 9 (exit_frames=2); the 1 at frame 6 alone is a blip
        (10, EventChangeKind.STARTED),
    ]
    ended = changes[1][1].event
    assert (ended.start, ended.end, ended.best_at) == (at(2), at(7), at(4))
    assert ended.object_count == 4
    assert ended.track_id is None
    assert ended.object_class == "car,truck"
    assert rules.close(at(11))[0].event.end == at(10)


def test_count_ignores_classes_it_does_not_count() -> None:
    rules = engine({"type": "count", "zone": "lane", "classes": ["truck"], "threshold": 1})
    assert run(rules, [cars(3)] * 3) == []


def crossing(track: int, xs: Sequence[float], cls: int = CAR) -> list[Detections]:
    return [obj(track, x, 200, cls=cls) for x in xs]


@pytest.mark.parametrize(
    ("direction", "xs", "expected"),
    [
        ("in", [400, 350, 300, 250], ["in"]),  # right to left: the "in" side of a top-to-bottom line
        ("in", [250, 300, 350, 400], []),
        ("out", [250, 300, 350, 400], ["out"]),
        ("both", [250, 350, 250, 350, 250], ["out"]),  # back and forth: one event per track
    ],
)
def test_line_crossing_direction(direction: str, xs: list[float], expected: list[str]) -> None:
    gate = GATE.model_copy(update={"direction": direction})
    rule = RULES.validate_python(
        {"name": "r", "type": "line_crossing", "zone": "gate", "filters": {"confirm_frames": 1}}
    )
    rules = RuleEngine(CameraId("cam"), [gate], [rule], FRAME, CLASSES)
    changes = run(rules, crossing(5, xs))
    started = [change.event for _, change in changes if change.change is EventChangeKind.STARTED]
    assert [event.direction for event in started] == expected
    for event in started:
        assert (event.track_id, event.label) == (5, f"car crossed gate ({event.direction})")


@pytest.mark.parametrize(
    ("filters", "kwargs", "fires"),
    [
        ({}, {}, True),
        ({"min_score": 0.95}, {"score": 0.9}, False),
        ({"min_area": 0.01}, {"size": 40}, False),  # 1600 px of 230400 is 0.7 %
        ({"max_area": 0.005}, {"size": 40}, False),
        ({"max_area": 0.01}, {"size": 40}, True),
        ({"min_aspect": 1.5}, {}, False),  # square boxes have aspect 1
        ({"max_aspect": 0.5}, {}, False),
        ({"confirm_frames": 6}, {}, False),  # seen for only 5 frames
        ({"confirm_frames": 5}, {}, True),
    ],
)
def test_object_filters(filters: dict[str, Any], kwargs: dict[str, Any], fires: bool) -> None:
    rules = engine({"type": "enter", "zone": "lane", "filters": {"confirm_frames": 1} | filters})
    changes = run(rules, path(*[INSIDE] * 5, **kwargs))
    assert bool(changes) is fires


@pytest.mark.parametrize(("classes", "cls", "fires"), [(["car"], CAR, True), (["car"], TRUCK, False)])
def test_class_filter(classes: list[str], cls: int, fires: bool) -> None:
    rules = engine({"type": "enter", "zone": "lane", "classes": classes})
    assert bool(run(rules, path(INSIDE, INSIDE, cls=cls))) is fires


def test_bad_engine_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"rule 'r': unknown class\(es\) boat; the detector's classes are"):
        engine({"type": "enter", "zone": "lane", "classes": ["boat"]})
    rules = engine({"type": "enter", "zone": "lane"})
    with pytest.raises(ValueError, match="tracker_id"):
        rules.update(Detections.empty(), at(0))
    rule = RULES.validate_python({"name": "r", "type": "enter", "zone": "elsewhere"})
    with pytest.raises(ValueError, match="unknown zone 'elsewhere'"):
        RuleEngine(CameraId("cam"), [LANE], [rule], FRAME, CLASSES)
    with pytest.raises(ValueError, match="exit_frames"):
        RuleEngineSettings(exit_frames=0)


def test_close_ends_open_events() -> None:
    rules = engine({"type": "enter", "zone": "lane"})
    run(rules, path(INSIDE, INSIDE))
    closed = rules.close(at(5))
    assert [change.change for change in closed] == [EventChangeKind.ENDED]
    assert closed[0].event.end == at(1)
    assert rules.close(at(6)) == []


def test_tracker_and_rules_together() -> None:
    camera = CameraConfig.model_validate(
        {
            "id": "yard",
            "name": "Yard",
            "site": "main",
            "inputs": [{"url": "rtsp://127.0.0.1/x", "roles": ["record", "detect"]}],
            "zones": [LANE.model_dump(exclude_defaults=True), GATE.model_dump(exclude_defaults=True)],
            "rules": [
                {"name": "in-lane", "type": "enter", "zone": "lane", "classes": ["car"]},
                {"name": "gate", "type": "line_crossing", "zone": "gate", "classes": ["person", "car"]},
            ],
        }
    )
    rules = RuleEngine.for_camera(camera, FRAME, CLASSES)
    tracker = ByteTracker()
    kinds = []
    for index in range(40):
        # A car drives from the left half into the lane (crossing the gate line left to right: "out").
        raw = obj(0, 100 + 12 * index, 300, size=30)
        tracked = tracker.update(Detections(raw.xyxy, raw.confidence, raw.class_id), at(index))
        kinds += [(change.event.rule, change.change.value) for change in rules.update(tracked, at(index))]
    assert kinds == [("in-lane", "started")]  # the gate counts "in" only; the car drove "out"
    assert rules.rules[1].line.out_count == 1  # type: ignore[attr-defined]


def test_the_engine_says_when_a_track_is_on_its_way_to_confirmation() -> None:
    parsed = RULES.validate_python(
        {"name": "r", "type": "enter", "zone": "lane", "classes": ["car"], "filters": {"confirm_frames": 3}}
    )
    rules = RuleEngine(CameraId("cam"), [LANE], [parsed], FRAME, CLASSES)
    assert not rules.confirming  # nothing seen yet
    changes = [rules.update(obj(1, *INSIDE), at(index)) for index in range(3)]
    assert [bool(found) for found in changes] == [False, False, True]  # the third passing frame raises
    rules_after = [rules.update(obj(1, *INSIDE), at(3))]
    assert rules_after == [[]]
    assert not rules.confirming  # confirmed: nothing pending
    rules.update(obj(2, *INSIDE), at(4))
    assert rules.confirming  # a new track passed once: the next frames may raise


def test_an_engine_without_pending_tracks_is_not_confirming() -> None:
    rules = engine({"type": "enter", "zone": "lane", "classes": ["car"]})  # confirm_frames 1
    rules.update(obj(1, *INSIDE), at(0))
    assert not rules.confirming
