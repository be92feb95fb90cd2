"""Camera workers against a real RTSP server: record, detect motion, survive drop-outs and stalls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_FOOTAGE, wait_for
from tests.support.workers import worker_settings
from watchkeeper.domain import CameraState, CameraStatus, Segment
from watchkeeper.events.motion import EventChange, EventChangeKind
from watchkeeper.runtime.camera_worker import CameraWorker, WorkerCallbacks
from watchkeeper.simulator import RtspServer, serve_simulated_cameras


class Collected:
    """Thread-safe record of what a worker reported."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: list[CameraStatus] = []
        self.segments: list[Segment] = []
        self.events: list[EventChange] = []

    def callbacks(self) -> WorkerCallbacks:
        def on_status(status: CameraStatus) -> None:
            with self.lock:
                self.statuses.append(status)

        def on_segment(segment: Segment) -> None:
            with self.lock:
                self.segments.append(segment)

        def on_event(change: EventChange) -> None:
            with self.lock:
                self.events.append(change)

        return WorkerCallbacks(on_status=on_status, on_segment=on_segment, on_event=on_event)

    def states(self) -> list[CameraState]:
        with self.lock:
            return [s.state for s in self.statuses]

    def last_status(self) -> CameraStatus | None:
        with self.lock:
            return self.statuses[-1] if self.statuses else None


@pytest.fixture
def own_camera() -> Iterator[RtspServer]:
    """A camera server this test may stop, restart and stall."""
    with serve_simulated_cameras(1, TEST_FOOTAGE) as server:
        yield server


def _worker(tmp_path: Path, url: str, collected: Collected) -> CameraWorker:
    return CameraWorker(worker_settings(tmp_path, url), collected.callbacks())


def test_worker_records_segments_and_raises_a_motion_event(own_camera: RtspServer, tmp_path: Path) -> None:
    collected = Collected()
    worker = _worker(tmp_path, own_camera.url("/cam1"), collected)
    worker.start()
    try:
        wait_for(lambda: len(collected.segments) >= 2, timeout=20, what="two segments")
        wait_for(
            lambda: any(c.change is EventChangeKind.STARTED for c in collected.events),
            timeout=20,
            what="a motion event",
        )
    finally:
        worker.stop()
    assert CameraState.STREAMING in collected.states()
    assert collected.states()[-1] is CameraState.OFFLINE  # stopping reports offline "stopped"
    media = tmp_path / "data" / "media"
    for segment in collected.segments:
        assert (media / segment.path).is_file()
        assert segment.keyframes >= 1


def test_camera_that_drops_out_is_reported_and_reconnected(own_camera: RtspServer, tmp_path: Path) -> None:
    collected = Collected()
    worker = _worker(tmp_path, own_camera.url("/cam1"), collected)
    worker.start()
    try:
        wait_for(lambda: len(collected.segments) >= 1, timeout=20, what="first segment")
        own_camera.stop()
        wait_for(
            lambda: (s := collected.last_status()) is not None and s.state is CameraState.OFFLINE,
            timeout=15,
            what="offline state",
        )
        offline = collected.last_status()
        assert offline is not None
        assert offline.reason
        recorded_before = len(collected.segments)
        own_camera.start()
        wait_for(
            lambda: len(collected.segments) > recorded_before + 1, timeout=25, what="segments after reconnect"
        )
    finally:
        worker.stop()
    assert collected.states().count(CameraState.STREAMING) >= 2


def test_stalled_camera_is_detected_within_the_stall_timeout(own_camera: RtspServer, tmp_path: Path) -> None:
    collected = Collected()
    worker = _worker(tmp_path, own_camera.url("/cam1"), collected)
    worker.start()
    try:
        wait_for(lambda: CameraState.STREAMING in collected.states(), timeout=20, what="streaming")
        own_camera.stall("/cam1")
        wait_for(lambda: CameraState.STALLED in collected.states(), timeout=10, what="stalled state")
        stalled = next(s for s in collected.statuses if s.state is CameraState.STALLED)
        assert "no data for 3 s" in stalled.reason
        own_camera.resume("/cam1")
        count = collected.states().count(CameraState.STREAMING)
        wait_for(
            lambda: collected.states().count(CameraState.STREAMING) > count,
            timeout=25,
            what="streaming again",
        )
    finally:
        worker.stop()


def test_unreachable_camera_is_offline_with_a_reason_and_never_crashes(tmp_path: Path) -> None:
    collected = Collected()
    worker = _worker(tmp_path, "rtsp://user:hunter2@127.0.0.1:9/nothing", collected)
    worker.start()
    try:
        wait_for(
            lambda: collected.states().count(CameraState.OFFLINE) >= 2, timeout=15, what="two failed attempts"
        )
    finally:
        worker.stop()
    reasons = [s.reason for s in collected.statuses if s.state is CameraState.OFFLINE]
    assert any("refused" in r for r in reasons)
    assert all("hunter2" not in r for r in reasons)
    assert not collected.segments
