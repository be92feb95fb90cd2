"""The object pipeline on real footage: motion -> regions -> shared detector -> tracker -> rules -> events."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest

from tests.analytics.conftest import Frame
from watchkeeper.analyzers.detect import OnnxDetector
from watchkeeper.analyzers.event_snapshots import EventSnapshotStore, event_snapshot_path
from watchkeeper.analyzers.motion import RunningAverageMotion
from watchkeeper.analyzers.scheduler import DetectorService
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.domain import EventKind
from watchkeeper.events.motion import EventChange, EventChangeKind
from watchkeeper.privacy import PersonBlur
from watchkeeper.runtime.analysis import MotionAnalysis
from watchkeeper.runtime.objects import AnalysisServices, ObjectAnalysis

CAMERA = CameraConfig.model_validate(
    {
        "id": "plaza",
        "name": "Plaza",
        "site": "s",
        "inputs": [{"url": "plaza.mp4", "roles": ["record", "detect"]}],
        "zones": [{"name": "square", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
        "rules": [{"name": "people-in-square", "type": "enter", "zone": "square", "classes": ["person"]}],
    }
)


def run_pipeline(
    detector: OnnxDetector,
    frames: list[Frame],
    media_root: Path,
    on_event: Callable[[EventChange], None] | None = None,
    **objects: object,
) -> tuple[list[EventChange], DetectorService]:
    service = DetectorService(detector)
    changes: list[EventChange] = []

    def collect(change: EventChange) -> None:
        changes.append(change)
        if on_event is not None:
            on_event(change)

    config = DetectionConfig.model_validate({"width": 384, "objects": objects})
    analysis = ObjectAnalysis(
        CAMERA, config, AnalysisServices(service, PersonBlur()), EventSnapshotStore(media_root), collect
    )
    motion = RunningAverageMotion()
    for frame in frames:
        motion.update(frame.grey)
        analysis.plan(motion.mask, frame.at)
        if analysis.due(frame.at):
            analysis.submit(frame.rgb, frame.at)
            assert service.run_once()
    analysis.close(frames[-1].at)
    return changes, service


def read_jpeg(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.asarray(next(container.decode(video=0)).to_ndarray(format="rgb24"))


def test_people_entering_the_zone_become_events_with_redacted_snapshots(
    detector: OnnxDetector, vtest_clip: list[Frame], tmp_path: Path
) -> None:
    changes, service = run_pipeline(detector, vtest_clip, tmp_path)
    started = [c.event for c in changes if c.change is EventChangeKind.STARTED]
    ended = {c.event.id: c.event for c in changes if c.change is EventChangeKind.ENDED}
    assert len(started) >= 3, "several people walk across the plaza in these 8 s"
    assert set(ended) == {event.id for event in started}, "every event ends (at the latest on close)"
    for event in ended.values():
        assert event.kind is EventKind.ZONE
        assert (event.rule, event.zone, event.object_class) == ("people-in-square", "square", "person")
        assert event.track_id is not None
        assert event.end is not None
        assert event.best_at is not None
        assert event.start <= event.best_at <= event.end
    assert len({event.track_id for event in started}) == len(started), "one event per track per rule"
    snapshot = event_snapshot_path(tmp_path, CAMERA_ID, started[0].id)
    image = read_jpeg(snapshot)
    assert image.shape == (288, 384, 3)
    found = detector.detect(image)
    assert int(np.sum(found.class_id == 0)) <= 1, "people in the stored snapshot are blurred beyond detection"
    assert service.stats().completed >= 10


CAMERA_ID = CAMERA.to_domain().id

STARTED_LINE = re.compile(
    r"camera plaza: event (\S+) \(people-in-square\) started ([\d.-]+) ms after its frame: "
    r"plan_ms=([\d.-]+) submit_ms=([\d.-]+) queued_ms=([\d.-]+) detector_ms=([\d.-]+) rules_ms=([\d.-]+) "
    r"emit_ms=([\d.-]+)$"
)


def test_each_started_event_logs_its_frame_age_split_by_stage(
    detector: OnnxDetector, vtest_clip: list[Frame], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="watchkeeper.runtime.objects")
    shot_when_published: list[bool] = []

    def published(change: EventChange) -> None:
        if change.change is EventChangeKind.STARTED:
            path = event_snapshot_path(tmp_path, CAMERA_ID, change.event.id)
            shot_when_published.append(path.exists())

    changes, _ = run_pipeline(detector, vtest_clip, tmp_path, published)
    started = {c.event.id for c in changes if c.change is EventChangeKind.STARTED}
    # the alarm goes out first; the started event's snapshot follows right after (same thread)
    assert shot_when_published == [False] * len(started)
    assert all(event_snapshot_path(tmp_path, CAMERA_ID, event).is_file() for event in started)
    found = [STARTED_LINE.search(record.getMessage()) for record in caplog.records]
    lines = {match.group(1): [float(value) for value in match.groups()[1:]] for match in found if match}
    assert started
    assert set(lines) == started  # every event of this clip starts from a detector result
    for total, *stages in lines.values():
        assert total == pytest.approx(sum(stages), abs=0.5)  # the stages add up to the frame's age
        queued, detector_ms, rules, emit = stages[2:]
        assert detector_ms > 0
        assert min(queued, rules, emit) >= 0


def test_a_still_scene_is_not_detected_every_frame(
    detector: OnnxDetector, vtest_clip: list[Frame], tmp_path: Path
) -> None:
    still = [Frame(vtest_clip[0].rgb, vtest_clip[0].grey, f.at) for f in vtest_clip[:25]]  # 5 s, no motion
    _, gated = run_pipeline(detector, still, tmp_path)
    _, every = run_pipeline(detector, still, tmp_path, motion_gating=False)
    assert every.stats().completed == 25
    # the first full-frame check, then only crops of the tracked (standing) people every reverify_s
    assert gated.stats().completed <= 5
    assert gated.stats().completed >= 2, "stationary objects are re-verified periodically"


def test_stationary_objects_keep_their_events_open_without_detection(
    detector: OnnxDetector, vtest_clip: list[Frame], tmp_path: Path
) -> None:
    still = [
        Frame(vtest_clip[0].rgb, vtest_clip[0].grey, vtest_clip[0].at + timedelta(seconds=i / 5))
        for i in range(40)
    ]
    changes, _ = run_pipeline(detector, still, tmp_path, reverify_s=2)
    started = [c for c in changes if c.change is EventChangeKind.STARTED]
    ended = [c for c in changes if c.change is EventChangeKind.ENDED]
    assert started, "the people standing in the frame are tracked and enter the zone"
    assert all(c.event.end == still[-1].at or c.event.end is not None for c in ended)
    assert len(ended) == len(started)
    last = still[-1].at
    assert sum(c.event.end is not None and c.event.end >= last - timedelta(seconds=1) for c in ended) >= 1, (
        "a standing person's event stays open until the camera closes"
    )


def test_motion_where_the_detector_finds_nothing_is_absorbed_and_not_detected_again(
    detector: OnnxDetector, tmp_path: Path
) -> None:
    # a grey wall; at 1 s a grey square appears and stays (a shadow, a ghost of something gone): motion
    # that the running average would report for seconds, each analysed frame asking the detector again
    config = DetectionConfig.model_validate({"width": 384, "objects": {"full_frame_interval_s": 0}})
    service = DetectorService(detector)
    objects = ObjectAnalysis(
        CAMERA, config, AnalysisServices(service, PersonBlur()), EventSnapshotStore(tmp_path), lambda c: None
    )
    analysis = MotionAnalysis(CAMERA_ID, config, lambda change: None, objects)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(25):  # 5 s at 5 frames/s
        rgb = np.full((216, 384, 3), 90, np.uint8)
        if index >= 5:
            rgb[60:140, 100:200] = 160
        grey = np.ascontiguousarray(rgb[::2, ::2, 0])  # 192x108 analysis grey
        at = start + timedelta(seconds=index / 5)
        analysis.frame(grey, at)
        if objects.due(at):
            objects.submit(rgb, at)
            assert service.run_once()
    assert service.stats().completed == 1, "one look at the new square, then it is background"
