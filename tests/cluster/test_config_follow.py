"""A camera added through one API node's console reaches every other node: two API nodes and a worker,
separate ``serve`` processes over one PostgreSQL database, one NATS stream and one configuration file.

The editing node announces the edit on the bus; the other API node shows the camera and watches its lease
holder, and the worker leases and records it, without a restart.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.roles_support import Worker, cluster_rig, launch_role, log_in, wait_healthy
from tests.conftest import (
    TEST_ADMIN_PASSWORD,
    LiveServer,
    create_user,
    free_port,
    wait_for,
    write_test_config,
)
from watchkeeper.runtime.holder_watch import NO_HOLDER_REASON
from watchkeeper.simulator import RtspServer

pytestmark = [pytest.mark.services]


def _cameras(server: LiveServer) -> dict[str, dict[str, Any]]:
    with server.client() as client:
        response = client.get("/api/cameras")
    return {camera["id"]: camera for camera in response.json()} if response.status_code == 200 else {}


def _state(server: LiveServer, camera_id: str) -> tuple[str, str] | None:
    camera = _cameras(server).get(camera_id)
    if camera is None:
        return None
    return camera["status"]["state"], camera["status"].get("reason") or ""


@pytest.mark.timeout(300)
def test_a_camera_added_on_one_api_node_reaches_the_other_api_node_and_the_worker(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    with cluster_rig(tmp_path, {"cam1": sim_cameras.url("/cam1")}) as rig:
        ports = {"api1": free_port(), "api2": free_port(), "worker": free_port()}
        shared = rig.config("shared", ports["api1"])  # every node reads this one file (one host)
        create_user(shared, "admin", TEST_ADMIN_PASSWORD, "admin")
        processes: dict[str, subprocess.Popen[bytes]] = {}
        for name, port in ports.items():
            processes[name] = launch_role(shared, port, "worker" if name == "worker" else "api")
            rig.processes.append(processes[name])
        for name, port in ports.items():
            wait_healthy(processes[name], shared, port)
        worker = Worker("worker", ports["worker"], shared, processes["worker"])
        api1 = log_in(shared, ports["api1"], processes["api1"])
        api2 = log_in(shared, ports["api2"], processes["api2"])
        wait_for(lambda: _state(api2, "cam1") == ("streaming", ""), 90, "cam1 streaming on api2")
        assert _state(api2, "cam2") is None

        body = {
            "id": "cam2",
            "name": "Camera cam2",
            "site": "test-site",
            "inputs": [{"url": sim_cameras.url("/cam2"), "roles": ["record", "detect"]}],
        }
        with api1.client() as client:
            response = client.post("/api/settings/cameras", json=body)
        assert response.status_code == 201, response.text
        assert response.json()["applied"] is True

        # The worker leases and records the new camera; the other API node shows it streaming.
        wait_for(lambda: "cam2" in worker.cameras(), 60, "the worker to take cam2")
        wait_for(lambda: _state(api2, "cam2") == ("streaming", ""), 60, "cam2 streaming on api2")
        wait_for(lambda: rig.segments("cam2"), 60, "a segment of cam2 in the index")
        log = shared.with_suffix(".log").read_text(errors="replace")
        followed = re.findall(r"configuration change .* from node \S+ applied", log)
        assert len(followed) == 2, log  # api2 and the worker re-read the file and applied it

        # api2 watches the new camera's lease holder too: with the worker gone it shows cam2 offline.
        worker.kill()
        wait_for(
            lambda: _state(api2, "cam2") == ("offline", NO_HOLDER_REASON), 60, "api2 to show cam2 unheld"
        )


@pytest.mark.timeout(180)
def test_a_camera_added_on_a_single_box_records_at_once(sim_cameras: RtspServer, tmp_path: Path) -> None:
    """The one-process box (local bus, SQLite) applies its own edits through the same path."""
    port = free_port()
    config = write_test_config(tmp_path / "box", {"cam1": sim_cameras.url("/cam1")}, http_port=port)
    create_user(config, "admin", TEST_ADMIN_PASSWORD, "admin")
    process = launch_role(config, port, "all")
    try:
        wait_healthy(process, config, port)
        box = log_in(config, port, process)
        wait_for(lambda: _state(box, "cam1") == ("streaming", ""), 60, "cam1 streaming")
        body = {
            "id": "cam2",
            "name": "Camera cam2",
            "site": "test-site",
            "inputs": [{"url": sim_cameras.url("/cam2"), "roles": ["record", "detect"]}],
        }
        with box.client() as client:
            response = client.post("/api/settings/cameras", json=body)
        assert response.status_code == 201, response.text
        assert response.json()["applied"] is True
        wait_for(lambda: _state(box, "cam2") == ("streaming", ""), 60, "cam2 streaming")
        assert "from node" not in config.with_suffix(".log").read_text()  # its own announcement is ignored
    finally:
        process.terminate()
        process.wait(timeout=30)
