"""Process roles: which configurations a split role accepts, the node in logs and metrics."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port, write_test_config
from watchkeeper.api.live import StatusBoard
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import CameraId, CameraState, CameraStatus, utcnow
from watchkeeper.integrations.prometheus import MetricsSnapshot, NodeLabels, PrometheusExporter
from watchkeeper.runtime.logs import JsonFormatter, NodeFilter, TextFormatter
from watchkeeper.runtime.roles import NodeIdentity, Role, RoleConfigError, check_role
from watchkeeper.runtime.worker_node import handover_overlap_s

REPO = Path(__file__).resolve().parents[2]
NATS = {"type": "nats", "url": "nats://127.0.0.1:4222"}


def _config(bus: dict[str, str] | None = None, leases: str = "local") -> WatchkeeperConfig:
    document: dict[str, object] = {"cluster": {"leases": leases}}
    if bus is not None:
        document["storage"] = {"bus": bus}
    return WatchkeeperConfig.model_validate(document)


@pytest.mark.parametrize(
    ("role", "bus", "leases", "error"),
    [
        (Role.ALL, None, "local", None),
        (Role.ALL, NATS, "nats", None),
        (Role.API, NATS, "local", None),
        (Role.WORKER, NATS, "nats", None),
        (Role.API, None, "local", "storage.bus.type"),
        (Role.WORKER, None, "nats", "storage.bus.type"),
        (Role.WORKER, NATS, "local", "cluster.leases"),
    ],
)
def test_split_roles_need_a_shared_bus_and_leases(
    role: Role, bus: dict[str, str] | None, leases: str, error: str | None
) -> None:
    config = _config(bus, leases)
    if error is None:
        check_role(config, role)
        return
    with pytest.raises(RoleConfigError, match=error) as caught:
        check_role(config, role)
    assert f"--role {role.value}" in str(caught.value)


def test_roles_say_what_they_run() -> None:
    assert (Role.ALL.runs_cameras, Role.ALL.serves_api) == (True, True)
    assert (Role.WORKER.runs_cameras, Role.WORKER.serves_api) == (True, False)
    assert (Role.API.runs_cameras, Role.API.serves_api) == (False, True)


def test_node_identity_uses_the_worker_id_or_host_and_port() -> None:
    config = WatchkeeperConfig.model_validate({"cluster": {"leases": "nats", "worker_id": "rack-2"}})
    assert NodeIdentity.of(config, Role.WORKER, 9000) == NodeIdentity("rack-2", Role.WORKER)
    api = NodeIdentity.of(config, Role.API, 9001)
    assert api.node_id.endswith("-9001")
    assert api.role is Role.API


def test_serve_refuses_a_worker_on_the_local_bus(tmp_path: Path) -> None:
    config = write_test_config(tmp_path, {"cam1": "rtsp://127.0.0.1:1/cam1"}, http_port=free_port())
    result = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "serve", "--config", str(config), "--role", "worker"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: --role worker needs a shared bus: set storage.bus.type to `nats`" in result.stderr


def test_serve_rejects_an_unknown_role(tmp_path: Path) -> None:
    config = write_test_config(tmp_path, {"cam1": "rtsp://127.0.0.1:1/cam1"})
    result = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "serve", "--config", str(config), "--role", "recorder"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert "recorder" in result.stderr
    assert "all" in result.stderr
    assert "worker" in result.stderr


def _record(message: str, thread: str) -> logging.LogRecord:
    record = logging.LogRecord("watchkeeper.test", logging.INFO, __file__, 1, message, (), None)
    record.threadName = thread
    return record


def test_log_lines_name_the_node_and_the_camera_thread() -> None:
    node = NodeFilter()
    node.node, node.role = "w1", "worker"
    camera = _record("segment written", "camera-lobby-east-0")
    node.filter(camera)
    body = json.loads(JsonFormatter().format(camera))
    assert (body["node"], body["role"], body["camera"]) == ("w1", "worker", "lobby-east")
    other = _record("lease acquired", "MainThread")
    node.filter(other)
    assert "camera" not in json.loads(JsonFormatter().format(other))
    assert " [w1] watchkeeper.test  lease acquired" in TextFormatter().format(other)


def test_a_fresh_filter_adds_no_node() -> None:
    record = _record("starting", threading.current_thread().name)
    NodeFilter().filter(record)
    assert "node" not in json.loads(JsonFormatter().format(record))
    assert "[" not in TextFormatter().format(record).split("watchkeeper.test")[0]


def test_metrics_carry_the_node_and_role() -> None:
    exporter = PrometheusExporter(
        lambda: MetricsSnapshot((), None, None), process_metrics=False, node=NodeLabels("w1", "worker")
    )
    text = exporter.render().decode()
    assert 'watchkeeper_node_info{node="w1",role="worker"} 1.0' in text
    bare = PrometheusExporter(lambda: MetricsSnapshot((), None, None), process_metrics=False)
    assert "watchkeeper_node_info" not in bare.render().decode()


@pytest.mark.parametrize(("segment_s", "overlap_s"), [(0.5, 2.0), (4.0, 4.0), (10.0, 10.0), (60.0, 10.0)])
def test_handover_overlap_is_a_segment_within_bounds(segment_s: float, overlap_s: float) -> None:
    assert handover_overlap_s(segment_s) == overlap_s


def test_the_split_example_runs_every_role() -> None:
    document = yaml.safe_load((REPO / "examples" / "split.yaml").read_text())
    config = WatchkeeperConfig.model_validate(document)
    for role in Role:
        check_role(config, role)


def test_the_status_board_takes_a_repeated_status_older_than_its_placeholder() -> None:
    board = StatusBoard([CameraId("cam1")])
    assert board.get(CameraId("cam1")).state is CameraState.CONNECTING
    earlier = utcnow() - timedelta(minutes=5)
    board.update(CameraStatus(CameraId("cam1"), CameraState.STREAMING, earlier, ""))
    assert board.get(CameraId("cam1")).state is CameraState.STREAMING  # a worker started before this node
    board.update(CameraStatus(CameraId("cam1"), CameraState.OFFLINE, earlier - timedelta(seconds=1), "old"))
    assert board.get(CameraId("cam1")).state is CameraState.STREAMING  # older than what it knows: ignored
    board.update(CameraStatus(CameraId("cam1"), CameraState.STALLED, utcnow(), "no keyframe"))
    assert board.get(CameraId("cam1")).reason == "no keyframe"
