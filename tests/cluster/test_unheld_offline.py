"""An API node shows a camera that no live worker holds as offline and raises the camera-offline alarm.

Real processes (an ``api`` node and ``worker`` nodes), a real RTSP camera, PostgreSQL and NATS JetStream.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.cluster.roles_support import LEASE_TIMEOUT_S, cluster_rig, start_role_server
from tests.conftest import free_port, wait_for
from watchkeeper.runtime.holder_watch import NO_HOLDER_REASON
from watchkeeper.simulator import RtspServer


def _status(client: httpx.Client) -> dict[str, Any]:
    cameras = client.get("/api/cameras").raise_for_status().json()
    return next(camera["status"] for camera in cameras if camera["id"] == "cam1")


def _offline_incidents(client: httpx.Client) -> list[dict[str, Any]]:
    page = client.get("/api/incidents", params={"type_code": "CAMERA_OFFLINE", "camera_id": "cam1"})
    return list(page.raise_for_status().json()["items"])


@pytest.mark.timeout(240)
def test_a_camera_whose_worker_died_is_offline_until_another_worker_takes_it(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    with cluster_rig(tmp_path, {"cam1": sim_cameras.url("/cam1")}, segment_seconds=1.0) as rig:
        port = free_port()
        config = rig.config("api", port)
        document = yaml.safe_load(config.read_text())
        document["incidents"] = {"camera_offline_grace_s": 1}
        config.write_text(yaml.safe_dump(document, sort_keys=False))
        first = rig.start_worker("w1")  # first: an API node alone would (rightly) show cam1 unheld
        wait_for(lambda: first.cameras() == ["cam1"], 30, "w1 to lease cam1")
        api = start_role_server(config, port, "api")
        rig.processes.append(api.process)
        with api.client() as client:
            wait_for(lambda: _status(client)["state"] == "streaming", 30, "cam1 streaming on the API node")
            assert _offline_incidents(client) == []
            first.kill()
            killed = time.monotonic()
            wait_for(lambda: _status(client)["reason"] == NO_HOLDER_REASON, 30, "cam1 shown as unheld")
            # The lease has to expire (one timeout), then nobody took it for another: not before.
            assert time.monotonic() - killed >= LEASE_TIMEOUT_S
            assert _status(client)["state"] == "offline"
            incidents = wait_for(lambda: _offline_incidents(client), 20, "a camera-offline incident")
            assert isinstance(incidents, list)
            assert len(incidents) == 1
            assert incidents[0]["state"] == "new"
            assert incidents[0]["source"] == "equipment"

            rig.start_worker("w2")
            wait_for(lambda: _status(client)["state"] == "streaming", 30, "cam1 streaming again from w2")
            wait_for(
                lambda: [i["state"] for i in _offline_incidents(client)] == ["closed"],
                20,
                "the camera-offline incident auto-closed",
            )
        assert "no worker holds it (last held by w1)" in api.log_text()
