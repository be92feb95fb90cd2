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
    camera: str, seq: int, done: list[tuple[str, int]], frame: NDArray[np.uint8] | None = None
) -> DetectionJob:
    def on_done(result: DetectionResult) -> None:
        done.append((camera, seq))

    image = frame if frame is not None else np.zeros((36, 64, 3), np.uint8)
    return DetectionJob(CameraId(camera), image, (), T0 + timedelta(seconds=seq), on_done)


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


def test_a_flooding_camera_cannot_starve_a_quiet_one() -> None:
    service = DetectorService(SlowDetector(seconds=0.005), SchedulerSettings(queue_depth=2))
    done: list[tuple[str, int]] = []
    service.start()
    stop = threading.Event()

    def flood() -> None:
        seq = 0
        while not stop.is_set():
            service.submit(job("flood", seq, done))
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
    stats = service.stats()
    quiet_done = [seq for camera, seq in done if camera == "quiet"]
    assert quiet_done == list(range(10)), "every frame of the quiet camera was detected, in order"
    assert dict(stats.dropped_by_camera).get("quiet", 0) == 0
    assert dict(stats.dropped_by_camera)["flood"] > 0, "the flood was shed, not queued"
    assert service.pending() == 0


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


def test_region_crops_are_detected_and_shifted_back_to_frame_pixels() -> None:
    detector = SlowDetector()
    frame = np.zeros((100, 200, 3), np.uint8)
    found = detect_regions(detector, frame, [Region(0.5, 0.5, 1.0, 1.0), Region(0.0, 0.0, 0.25, 0.2)])
    assert detector.shapes == [(50, 100, 3), (20, 50, 3)]
    assert found.xyxy.tolist() == [[100, 50, 200, 100], [0, 0, 50, 20]]


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
