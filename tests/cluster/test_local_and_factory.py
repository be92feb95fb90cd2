"""Single-box leases and choosing the backend from the ``cluster`` section of the configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.cluster import (
    CameraSpec,
    ClusterError,
    LeaseAcquired,
    LeaseLost,
    LossReason,
    UnknownWorkerError,
    WorkerId,
    WorkerInfo,
)
from watchkeeper.cluster.factory import (
    camera_specs,
    default_worker_id,
    nats_url,
    open_control,
    open_leases,
    worker_info,
)
from watchkeeper.cluster.local import LocalCameraLeases
from watchkeeper.cluster.nats import NatsCameraLeases
from watchkeeper.config.errors import ConfigError
from watchkeeper.config.loader import parse_config_text
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import CameraId

INFO = WorkerInfo(WorkerId("solo"), "box", 2)
SPECS = [CameraSpec(CameraId("a")), CameraSpec(CameraId("b")), CameraSpec(CameraId("c"))]

CONFIG = """\
sites: [{id: north, name: North}]
cameras:
  - id: gate
    name: Gate
    site: north
    inputs: [{url: "rtsp://127.0.0.1:8554/gate", roles: [record, detect]}]
  - id: dock
    name: Dock
    site: north
    enabled: false
    inputs: [{url: "rtsp://127.0.0.1:8554/dock", roles: [record, detect]}]
storage:
  bus: {type: nats, url: "nats://bus.example:4222"}
cluster:
"""


def config(cluster: str, tmp_path: Path) -> WatchkeeperConfig:
    return parse_config_text(CONFIG + cluster, source="test.yaml", base_dir=tmp_path)


async def drain_changes(leases: LocalCameraLeases) -> list[LeaseAcquired | LeaseLost]:
    return [change async for change in leases.changes()]


async def test_local_leases_take_every_camera_and_release_on_stop() -> None:
    leases = LocalCameraLeases()
    await leases.start(INFO, SPECS)
    assert set(leases.held()) == {"a", "b", "c"}  # capacity 2 is not enforced on a single box
    tokens = list(leases.held().values())
    assert tokens == sorted(set(tokens))
    await leases.set_cameras(SPECS[1:])
    status = await leases.status()
    assert [lease.camera_id for lease in status.leases] == ["b", "c"]
    assert status.workers[0].cameras == ("b", "c")
    await leases.stop()
    changes = await drain_changes(leases)
    assert [type(c).__name__ for c in changes] == ["LeaseAcquired"] * 3 + ["LeaseLost"] * 3
    assert [c.reason for c in changes if isinstance(c, LeaseLost)] == [
        LossReason.REMOVED,
        LossReason.STOPPED,
        LossReason.STOPPED,
    ]


async def test_local_tokens_rise_across_restarts() -> None:
    first = LocalCameraLeases()
    await first.start(INFO, SPECS[:1])
    before = first.held()[CameraId("a")]
    await first.stop()
    second = LocalCameraLeases()
    await second.start(INFO, SPECS[:1])
    assert second.held()[CameraId("a")] >= before


async def test_local_drain_has_nowhere_to_go() -> None:
    leases = LocalCameraLeases()
    await leases.start(INFO, SPECS[:1])
    with pytest.raises(UnknownWorkerError, match="only 'solo'"):
        await leases.drain(WorkerId("other"))
    await leases.drain(WorkerId("solo"))
    assert (await leases.status()).workers[0].draining
    with pytest.raises(TimeoutError, match="only worker and keeps 1 camera"):
        await leases.wait_drained(WorkerId("solo"), timeout_s=5)
    with pytest.raises(ClusterError, match="already started"):
        await leases.start(INFO, [])


def test_default_config_is_local_and_nats_is_chosen_by_config(tmp_path: Path) -> None:
    assert isinstance(open_leases(config("  leases: local", tmp_path)), LocalCameraLeases)
    assert isinstance(open_leases(config("  leases: nats", tmp_path)), NatsCameraLeases)
    assert WatchkeeperConfig().cluster.leases == "local"


def test_the_nats_url_falls_back_to_the_bus(tmp_path: Path) -> None:
    assert nats_url(config("  leases: nats", tmp_path)) == "nats://bus.example:4222"
    own = config('  leases: nats\n  url: "nats://leases.example:4222"', tmp_path)
    assert nats_url(own) == "nats://leases.example:4222"
    assert nats_url(WatchkeeperConfig()) == "nats://127.0.0.1:4222"


def test_worker_info_and_camera_specs_come_from_the_config(tmp_path: Path) -> None:
    loaded = config("  worker_id: rack-3\n  capacity: 12\n  hardware: cuda\n  site: north", tmp_path)
    info = worker_info(loaded.cluster, version="9.9", host="node-1")
    assert info == WorkerInfo(WorkerId("rack-3"), "node-1", 12, "cuda", "north", "9.9")  # type: ignore[arg-type]
    assert camera_specs(loaded) == [CameraSpec(CameraId("gate"))]  # disabled cameras are not leased
    pinned = config("  pin_cameras_to_sites: true", tmp_path)
    assert camera_specs(pinned) == [CameraSpec(CameraId("gate"), "north")]  # type: ignore[arg-type]


def test_default_worker_id_is_host_and_pid_with_safe_characters() -> None:
    assert default_worker_id("web.example.org", 42) == "web_example_org-42"
    assert worker_info(WatchkeeperConfig().cluster, "1").worker_id.endswith(f"-{__import__('os').getpid()}")


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        (
            "  heartbeat_s: 4\n  lease_timeout_s: 6",
            "lease_timeout_s (6.0) must be at least twice heartbeat_s",
        ),
        ("  capacity: 0", "cluster.capacity"),
        ("  worker_id: 'bad id'", "cluster.worker_id"),
        ("  leases: zookeeper", "cluster.leases"),
        ("  url: 'http://x'", "cluster.url"),
    ],
)
def test_bad_cluster_settings_name_the_key(cluster: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        config(cluster, tmp_path)
    assert str(caught.value).startswith("test.yaml:1")  # file and line of the key


async def test_local_installations_have_no_cluster_to_control(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="single box"):
        await open_control(config("  leases: local", tmp_path))
