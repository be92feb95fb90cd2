"""Fault tests of the camera workers on the real RTSP rig: a long outage, and 100 drop/restore cycles."""

from __future__ import annotations

import dataclasses
import gc
import itertools
import os
import resource
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from fastapi.testclient import TestClient

from tests.auth.support import admin_headers
from tests.conftest import TEST_FOOTAGE, wait_for
from tests.runtime.test_camera_worker import Collected
from tests.support.workers import worker_settings
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.loader import load_config
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.domain import CameraId, CameraState, Segment
from watchkeeper.runtime.camera_worker import CameraWorker, WorkerCallbacks, WorkerSettings
from watchkeeper.simulator import RtspServer, serve_simulated_cameras
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

OUTAGE_S = 30.0
RSS_GROWTH_LIMIT_MB = 30.0


@pytest.fixture
def own_camera() -> Iterator[RtspServer]:
    """A camera this test may stop and start on the same port."""
    with serve_simulated_cameras(1, TEST_FOOTAGE) as server:
        yield server


def _settings(tmp_path: Path, url: str, recording: RecordingConfig | None = None) -> WorkerSettings:
    return worker_settings(tmp_path, url, recording=recording)


def _indexing(store: Store, collected: Collected) -> WorkerCallbacks:
    callbacks = collected.callbacks()

    def on_segment(segment: Segment) -> None:
        callbacks.on_segment(store.segments.add(segment))

    return WorkerCallbacks(on_status=callbacks.on_status, on_segment=on_segment, on_event=callbacks.on_event)


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_camera_gone_for_30_s_gap_is_indexed_and_recording_resumes_within_5_s(
    own_camera: RtspServer, tmp_path: Path
) -> None:
    # Default reconnect backoff (1 s doubling, capped at 3 s): what a real deployment gets.
    recording = RecordingConfig(segment_seconds=1, stall_timeout_s=3)
    settings = _settings(tmp_path, own_camera.url("/cam1"), recording)
    store = open_store(f"sqlite:///{tmp_path / 'index.db'}")
    config = load_config(tmp_path / "watchkeeper.yaml")
    store.sites.upsert(config.sites[0].to_domain())
    store.cameras.upsert(config.cameras[0].to_domain())
    collected = Collected()
    worker = CameraWorker(settings, _indexing(store, collected))
    worker.start()
    try:
        wait_for(lambda: len(collected.segments) >= 3, timeout=20, what="segments before the outage")
        own_camera.stop()
        gone_at = datetime.now(UTC)
        wait_for(lambda: collected.states()[-1] is CameraState.OFFLINE, timeout=10, what="offline")
        time.sleep(OUTAGE_S)
        own_camera.start()
        back_at = datetime.now(UTC)
        wait_for(
            lambda: any(s.start > back_at for s in list(collected.segments)), timeout=20, what="new segments"
        )
    finally:
        worker.stop()
    before = [s for s in collected.segments if s.end <= gone_at + timedelta(seconds=1)]
    after = [s for s in collected.segments if s.start > back_at]
    resumed_s = (after[0].start - back_at).total_seconds()
    print(f"camera back -> first recorded frame: {resumed_s:.2f} s (outage {OUTAGE_S:g} s)")
    assert resumed_s < 5.0
    for side in (before, after):  # every frame of the footage on both sides decodes
        frames = sum(_decoded_frames(settings.media_root / segment.path) for segment in side)
        seconds = sum(segment.duration_s for segment in side)
        assert frames >= 0.9 * seconds * TEST_FOOTAGE.fps, (frames, seconds)
    indexed = store.segments.list(CameraId("cam1"), gone_at - timedelta(minutes=1), datetime.now(UTC))
    starts = [s.start for s in indexed]
    assert starts == sorted(starts)
    gaps = [(b.start - a.end).total_seconds() for a, b in itertools.pairwise(indexed)]
    assert max(gaps) >= OUTAGE_S
    assert all(g >= 0 for g in gaps)  # never overlapping
    _assert_timeline_gap(store, settings.media_root, gone_at, back_at)
    store.close()


def _assert_timeline_gap(store: Store, media_root: Path, gone_at: datetime, back_at: datetime) -> None:
    context = AppContext(
        store=store, bus=LocalBus(), media_root=media_root, statuses=StatusBoard([]), hub=LiveHub()
    )
    start, end = gone_at - timedelta(seconds=20), back_at + timedelta(seconds=5)
    client = TestClient(create_app(context))  # no lifespan: the bus is not needed for a timeline
    response = client.get(
        "/api/cameras/cam1/timeline",
        params={"start": start.isoformat(), "end": end.isoformat(), "resolution_s": 2},
        headers=admin_headers(store),
    )
    assert response.status_code == 200, response.text
    gaps = response.json()["gaps"]
    longest = max(
        (datetime.fromisoformat(g["end"]) - datetime.fromisoformat(g["start"])).total_seconds() for g in gaps
    )
    assert longest >= OUTAGE_S - 1


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


@pytest.fixture
def fast_camera() -> Iterator[RtspServer]:
    """A 25 fps camera: its first frame after a reconnect comes sooner than at 10 fps."""
    with serve_simulated_cameras(
        1, dataclasses.replace(TEST_FOOTAGE, fps=25, keyframe_interval=25)
    ) as server:
        yield server


@pytest.mark.slow
def test_100_drop_restore_cycles_leak_no_threads_fds_or_memory(
    fast_camera: RtspServer, tmp_path: Path
) -> None:
    own_camera = fast_camera
    recording = RecordingConfig(
        segment_seconds=1, stall_timeout_s=3, reconnect_initial_s=0.1, reconnect_max_s=1
    )
    collected = Collected()
    worker = CameraWorker(_settings(tmp_path, own_camera.url("/cam1"), recording), collected.callbacks())
    worker.start()
    try:
        wait_for(lambda: CameraState.STREAMING in collected.states(), timeout=20, what="streaming")
        _cycle(own_camera, collected, 5)  # warm-up: FFmpeg's and the interpreter's one-time allocations
        gc.collect()
        threads, fds, rss = threading.active_count(), _open_fds(), _rss_mb()
        started = time.monotonic()
        _cycle(own_camera, collected, 100)
        elapsed = time.monotonic() - started
        wait_for(
            lambda: collected.states()[-1] is CameraState.STREAMING, timeout=10, what="streaming at the end"
        )
        gc.collect()
        growth = _rss_mb() - rss
        print(
            f"100 drop/restore cycles in {elapsed:.1f} s: threads {threads}->{threading.active_count()}, "
            f"fds {fds}->{_open_fds()}, RSS +{growth:.1f} MB"
        )
        assert threading.active_count() <= threads
        assert _open_fds() <= fds + 2  # slack: a connection being (re)opened at the moment of counting
        assert growth < RSS_GROWTH_LIMIT_MB
    finally:
        worker.stop()
    assert collected.states().count(CameraState.STREAMING) >= 100


def _cycle(camera: RtspServer, collected: Collected, cycles: int) -> None:
    """Drop the camera and bring it straight back; wait until the worker streams again each time."""
    for _ in range(cycles):
        streaming = collected.states().count(CameraState.STREAMING)
        camera.stop()
        camera.start()
        wait_for(
            lambda n=streaming: collected.states().count(CameraState.STREAMING) > n,  # type: ignore[misc]
            timeout=10,
            what="streaming after a restore",
        )
