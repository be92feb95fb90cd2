"""The Prometheus exporter: per-runtime registries, real worker counters, and ``GET /metrics``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.auth.support import admin_headers
from tests.conftest import TEST_FOOTAGE, wait_for, write_test_config
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.loader import load_config
from watchkeeper.domain import CameraState, Segment
from watchkeeper.integrations.prometheus import PrometheusExporter
from watchkeeper.recorder.retention import Eviction, EvictionReason, RetentionReport, RetentionStats
from watchkeeper.runtime.camera_worker import CameraWorker, WorkerCallbacks, WorkerSettings
from watchkeeper.runtime.metrics import CameraCounters, InputCounters, RuntimeMetrics
from watchkeeper.simulator import RtspServer, serve_simulated_cameras
from watchkeeper.storage.factory import open_store

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _parse(text: bytes) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _counters() -> CameraCounters:
    counters = CameraCounters("cam1", inputs=[InputCounters("record", 1000, 25, 2, 1)])
    counters.state, counters.reason = CameraState.STALLED, 'no data for 10 s "quoted"'
    counters.segment_written(0.3)
    counters.segment_written(4.0)
    return counters


def test_snapshot_renders_every_metric(tmp_path: Path) -> None:
    stats = RetentionStats()
    stats.record(
        RetentionReport(
            started_at=datetime.now(UTC),
            duration_s=0.1,
            evictions=(Eviction(EvictionReason.QUOTA, 3, 3000),),
        )
    )
    metrics = RuntimeMetrics(tmp_path, lambda: [_counters()], stats.snapshot)
    samples = _parse(PrometheusExporter(metrics.snapshot).render())
    assert _value(samples, "watchkeeper_camera_received_bytes_total", camera="cam1", input="record") == 1000
    assert _value(samples, "watchkeeper_camera_frames_total", camera="cam1", input="record") == 25
    assert _value(samples, "watchkeeper_camera_reconnects_total", camera="cam1", input="record") == 2
    assert _value(samples, "watchkeeper_camera_stalls_total", camera="cam1", input="record") == 1
    assert _value(samples, "watchkeeper_camera_segments_written_total", camera="cam1") == 2
    assert _value(samples, "watchkeeper_camera_state", camera="cam1", state="stalled") == 1
    assert _value(samples, "watchkeeper_camera_state", camera="cam1", state="streaming") == 0
    info = _value(
        samples,
        "watchkeeper_camera_status_info",
        camera="cam1",
        state="stalled",
        reason='no data for 10 s "quoted"',
    )
    assert info == 1
    assert _value(samples, "watchkeeper_recorder_lag_seconds_bucket", camera="cam1", le="0.5") == 1
    assert _value(samples, "watchkeeper_recorder_lag_seconds_bucket", camera="cam1", le="+Inf") == 2
    assert _value(samples, "watchkeeper_recorder_lag_seconds_sum", camera="cam1") == pytest.approx(4.3)
    assert _value(samples, "watchkeeper_recorder_last_lag_seconds", camera="cam1") == 4.0
    assert _value(samples, "watchkeeper_storage_free_bytes") > 0
    assert _value(samples, "watchkeeper_storage_used_bytes") > 0
    assert _value(samples, "watchkeeper_retention_evicted_segments_total", reason="quota") == 3
    assert _value(samples, "watchkeeper_retention_evicted_bytes_total", reason="quota") == 3000
    assert _value(samples, "watchkeeper_retention_runs_total") == 1


def test_each_exporter_has_its_own_registry(tmp_path: Path) -> None:
    first = PrometheusExporter(RuntimeMetrics(tmp_path, lambda: [_counters()]).snapshot)
    second = PrometheusExporter(RuntimeMetrics(tmp_path, list).snapshot)
    assert first.registry is not second.registry
    assert b'camera="cam1"' in first.render()
    assert b'camera="cam1"' not in second.render()
    assert b"watchkeeper_storage_free_bytes" in second.render()


def test_missing_media_folder_leaves_storage_out(tmp_path: Path) -> None:
    text = PrometheusExporter(RuntimeMetrics(tmp_path / "missing", list).snapshot).render()
    assert b"watchkeeper_storage_free_bytes" not in text


@pytest.fixture
def camera() -> Iterator[RtspServer]:
    """One simulated camera."""
    with serve_simulated_cameras(1, TEST_FOOTAGE) as server:
        yield server


def _ignore(_: object) -> None:
    pass


def test_a_recording_worker_shows_up_on_the_metrics_endpoint(camera: RtspServer, tmp_path: Path) -> None:
    config = load_config(write_test_config(tmp_path, {"cam1": camera.url("/cam1")}))
    settings = WorkerSettings(
        config.cameras[0], config.recording, config.detection, config.storage.media_root
    )
    segments: list[Segment] = []
    callbacks = WorkerCallbacks(on_status=_ignore, on_segment=segments.append, on_event=_ignore)
    worker = CameraWorker(settings, callbacks)
    metrics = RuntimeMetrics(config.storage.media_root, lambda: [worker.counters])
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=config.storage.media_root,
        statuses=StatusBoard([]),
        hub=LiveHub(),
        metrics=PrometheusExporter(metrics.snapshot).render,
    )
    worker.start()
    try:
        wait_for(lambda: len(segments) >= 2, timeout=20, what="two segments")
        response = TestClient(create_app(context)).get("/metrics", headers=admin_headers(store))
    finally:
        worker.stop()
        store.close()
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _parse(response.content)
    assert _value(samples, "watchkeeper_camera_received_bytes_total", camera="cam1", input="record") > 10_000
    assert _value(samples, "watchkeeper_camera_frames_total", camera="cam1", input="record") >= 20
    assert _value(samples, "watchkeeper_camera_segments_written_total", camera="cam1") >= 2
    assert _value(samples, "watchkeeper_camera_state", camera="cam1", state="streaming") == 1
    assert _value(samples, "watchkeeper_recorder_lag_seconds_count", camera="cam1") >= 2
    assert _value(samples, "watchkeeper_recorder_last_lag_seconds", camera="cam1") < 2.0
    assert _value(samples, "watchkeeper_storage_free_bytes") > 0
    assert "watchkeeper_process_resident_memory_bytes" in {name for name, _ in samples}


def test_metrics_endpoint_is_404_when_disabled(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    context = AppContext(
        store=store, bus=LocalBus(), media_root=tmp_path, statuses=StatusBoard([]), hub=LiveHub()
    )
    try:
        response = TestClient(create_app(context)).get("/metrics", headers=admin_headers(store))
    finally:
        store.close()
    assert response.status_code == 404
    assert "/metrics" not in create_app(context).openapi()["paths"]
