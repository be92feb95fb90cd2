"""The shared detector: round-robin across cameras, bounded queues that drop the oldest, region crops."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.analytics.conftest import T0, Frame
from watchkeeper.analyzers.detect import DetectorError, OnnxDetector
from watchkeeper.analyzers.detect.postprocess import box_iou
from watchkeeper.analyzers.regions import Region
from watchkeeper.analyzers.scheduler import (
    DetectionJob,
    DetectionResult,
    DetectorService,
    SchedulerSettings,
    detect_regions,
)
from watchkeeper.domain import CameraId, Detections


class SlowDetector:
    """A ``Detector`` that takes a fixed time and finds one box covering its input (records call order)."""

    def __init__(self, seconds: float = 0.0, fail: bool = False) -> None:
        self.seconds = seconds
        self.fail = fail
        self.shapes: list[tuple[int, ...]] = []

    @property
    def class_names(self) -> Sequence[str]:
        return ("person",)

    def detect(self, frame: NDArray[np.uint8]) -> Detections:
        self.shapes.append(frame.shape)
        time.sleep(self.seconds)
        if self.fail:
            raise DetectorError("model x.onnx failed to run: boom")
        h, w = frame.shape[:2]
        return Detections(np.array([[0, 0, w, h]]), np.array([0.9]), np.array([0]))


def job(
    camera: str,
    seq: int,
    done: list[tuple[str, int]],
    frame: NDArray[np.uint8] | None = None,
    urgent: bool = False,
) -> DetectionJob:
    def on_done(result: DetectionResult) -> None:
        done.append((camera, seq))

    image = frame if frame is not None else np.zeros((36, 64, 3), np.uint8)
    return DetectionJob(
        CameraId(camera),
        image,
        (),
        T0 + timedelta(seconds=seq),
        on_done,
        urgent=(lambda: True) if urgent else None,
    )


def test_round_robin_gives_each_camera_a_turn_and_full_queues_drop_the_oldest() -> None:
    service = DetectorService(SlowDetector(), SchedulerSettings(queue_depth=2))
    done: list[tuple[str, int]] = []
    accepted = [service.submit(job("busy", seq, done)) for seq in range(5)]
    assert accepted == [True, True, False, False, False]
    service.submit(job("quiet", 0, done))
    while service.run_once():
        pass
    assert done == [("busy", 3), ("quiet", 0), ("busy", 4)]
    stats = service.stats()
    assert (stats.submitted, stats.completed, stats.dropped) == (6, 3, 3)
    assert dict(stats.dropped_by_camera) == {"busy": 3}


def flood_beside_a_quiet_camera(urgent: bool) -> tuple[DetectorService, list[tuple[str, int]]]:
    """Run a detector while camera ``flood`` submits as fast as it can (``urgent`` or not) and camera
    ``quiet`` submits ten frames 30 ms apart; returns the stopped service and what was detected."""
    service = DetectorService(SlowDetector(seconds=0.005), SchedulerSettings(queue_depth=2))
    done: list[tuple[str, int]] = []
    service.start()
    stop = threading.Event()

    def flood() -> None:
        seq = 0
        while not stop.is_set():
            service.submit(job("flood", seq, done, urgent=urgent))
            seq += 1
            time.sleep(0.0005)

    flooder = threading.Thread(target=flood)
    flooder.start()
    try:
        for seq in range(10):
            service.submit(job("quiet", seq, done))
            time.sleep(0.03)
    finally:
        stop.set()
        flooder.join()
        time.sleep(0.05)
        service.stop()
    return service, done


def test_a_flooding_camera_cannot_starve_a_quiet_one() -> None:
    service, done = flood_beside_a_quiet_camera(urgent=False)
    stats = service.stats()
    quiet_done = [seq for camera, seq in done if camera == "quiet"]
    assert quiet_done == list(range(10)), "every frame of the quiet camera was detected, in order"
    assert dict(stats.dropped_by_camera).get("quiet", 0) == 0
    assert dict(stats.dropped_by_camera)["flood"] > 0, "the flood was shed, not queued"
    assert service.pending() == 0


def test_an_urgent_job_goes_first_within_the_round() -> None:
    service = DetectorService(SlowDetector(), SchedulerSettings(queue_depth=2))
    done: list[tuple[str, int]] = []
    service.submit(job("a", 0, done))
    service.submit(job("b", 0, done))
    service.submit(job("alarm", 0, done, urgent=True))
    while service.run_once():
        pass
    assert done == [("alarm", 0), ("a", 0), ("b", 0)]


def test_an_urgent_camera_never_takes_two_turns_out_of_order_in_a_row() -> None:
    service = DetectorService(SlowDetector(), SchedulerSettings(queue_depth=2))
    done: list[tuple[str, int]] = []
    service.submit(job("a", 0, done))
    service.submit(job("b", 0, done))
    service.submit(job("alarm", 0, done, urgent=True))
    assert service.run_once()  # alarm 0, out of order
    service.submit(job("alarm", 1, done, urgent=True))  # urgent again at once
    assert service.run_once()  # a 0: in order, as the last turn was taken out of order
    assert service.run_once()  # alarm 1, out of order again
    service.submit(job("a", 1, done))
    service.submit(job("b", 1, done))
    while service.run_once():
        pass
    assert done == [("alarm", 0), ("a", 0), ("alarm", 1), ("b", 0), ("a", 1), ("b", 1)]


def test_an_urgent_flood_cannot_starve_a_quiet_camera() -> None:
    service, done = flood_beside_a_quiet_camera(urgent=True)
    assert [seq for camera, seq in done if camera == "quiet"] == list(range(10))
    assert dict(service.stats().dropped_by_camera).get("quiet", 0) == 0


def test_urgency_is_asked_when_the_detector_picks_not_when_the_job_was_queued() -> None:
    service = DetectorService(SlowDetector(), SchedulerSettings(queue_depth=2))
    done: list[tuple[str, int]] = []
    confirming = threading.Event()  # set by a result that came back after the job was queued

    def on_done(result: DetectionResult) -> None:
        done.append(("alarm", 0))

    service.submit(job("a", 0, done))
    service.submit(job("b", 0, done))
    late = DetectionJob(
        CameraId("alarm"), np.zeros((36, 64, 3), np.uint8), (), T0, on_done, urgent=confirming.is_set
    )
    service.submit(late)
    confirming.set()
    while service.run_once():
        pass
    assert done == [("alarm", 0), ("a", 0), ("b", 0)]


def test_detector_failures_are_reported_to_the_job_and_counted() -> None:
    service = DetectorService(SlowDetector(fail=True))
    results: list[DetectionResult] = []
    service.submit(DetectionJob(CameraId("c"), np.zeros((8, 8, 3), np.uint8), (), T0, results.append))
    assert service.run_once()
    assert len(results[0].detections) == 0
    assert "boom" in results[0].error
    assert service.stats().failed == 1


def test_a_stopped_service_refuses_jobs() -> None:
    service = DetectorService(SlowDetector())
    service.start()
    service.stop()
    assert not service.submit(job("c", 0, []))
    assert service.stats().dropped == 1


def test_region_crops_that_cannot_share_a_canvas_are_detected_apart_and_shifted_back() -> None:
    detector = SlowDetector()
    frame = np.zeros((100, 200, 3), np.uint8)
    # 100 + 16 + 100 px side by side is wider than the frame, 60 + 16 + 60 stacked higher: two runs
    found = detect_regions(detector, frame, [Region(0.5, 0.4, 1.0, 1.0), Region(0.0, 0.0, 0.5, 0.6)])
    assert detector.shapes == [(60, 100, 3), (60, 100, 3)]
    assert found.xyxy.tolist() == [[100, 40, 200, 100], [0, 0, 100, 60]]


class BoxesAt:
    """A ``Detector`` reporting fixed boxes (in pixels of whatever input it gets); keeps its inputs."""

    def __init__(self, boxes: list[list[float]]) -> None:
        self.boxes = boxes
        self.inputs: list[NDArray[np.uint8]] = []

    @property
    def class_names(self) -> Sequence[str]:
        return ("person",)

    def detect(self, frame: NDArray[np.uint8]) -> Detections:
        self.inputs.append(frame.copy())
        count = len(self.boxes)
        return Detections(
            np.array(self.boxes, np.float32).reshape(-1, 4), np.full(count, 0.9), np.zeros(count, np.int64)
        )


def test_two_small_regions_share_one_detector_run_and_each_box_returns_to_its_crop() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[0:180, 0:160] = 10  # region A: x 0-160, y 0-180
    frame[180:360, 320:480] = 20  # region B: x 320-480, y 180-360
    a, b = Region(0.0, 0.0, 0.25, 0.5), Region(0.5, 0.5, 0.75, 1.0)
    # side by side (336 x 180) is closer to square than stacked (160 x 376): A at x 0, B at x 160 + 16
    detector = BoxesAt(
        [
            [10, 10, 50, 80],  # centre in A
            [186, 20, 226, 170],  # centre in B
            [150, 30, 200, 60],  # centre (175, 45) in the gap: dropped
            [140, 40, 170, 100],  # centre (155, 70) in A, spills over its right edge: clipped to A
        ]
    )
    found = detect_regions(detector, frame, [a, b])
    assert len(detector.inputs) == 1
    canvas = detector.inputs[0]
    assert canvas.shape == (180, 336, 3)
    assert (canvas[:, 0:160] == 10).all()
    assert (canvas[:, 176:336] == 20).all()
    assert (canvas[:, 160:176] == 114).all()
    assert sorted(found.xyxy.tolist()) == [[10, 10, 50, 80], [140, 40, 160, 100], [330, 200, 370, 350]]


def test_wide_regions_that_do_not_fit_side_by_side_are_stacked() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    detector = BoxesAt([[0, 110, 10, 120]])  # in the lower crop (which starts at y 90 + 16)
    found = detect_regions(detector, frame, [Region(0.0, 0.0, 0.5, 0.25), Region(0.5, 0.5, 1.0, 0.75)])
    assert detector.inputs[0].shape == (90 + 16 + 90, 320, 3)
    assert found.xyxy.tolist() == [[320, 184, 330, 194]]


def test_people_found_in_a_crop_match_the_full_frame_detections(
    detector: OnnxDetector, vtest_clip: list[Frame]
) -> None:
    frame = vtest_clip[0].rgb
    full = detect_regions(detector, frame, [])
    people = full[full.class_id == 0]
    assert len(people) >= 3
    box = people.xyxy[0]
    h, w = frame.shape[:2]
    region = Region.clipped(box[0] / w - 0.1, box[1] / h - 0.1, box[2] / w + 0.1, box[3] / h + 0.1)
    cropped = detect_regions(detector, frame, [region])
    best = box_iou(box, cropped.xyxy[cropped.class_id == 0]).max()
    assert best > 0.6, "the crop finds the same person at the same place in frame pixels"


def test_scheduler_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="queue_depth"):
        SchedulerSettings(queue_depth=0)
