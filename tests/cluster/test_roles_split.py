"""Two workers and two API nodes as separate processes over one PostgreSQL database and one NATS stream.

A console on either API node sees the alarms of cameras on either worker, in order per camera, and a console
of an API node that restarts gets, on reconnecting, every incident change it missed.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.cluster.roles_support import REPO, cluster_rig
from tests.conftest import LiveServer, free_port, stop_server, wait_for
from watchkeeper.simulator import RtspServer

CAMERAS = ("cam1", "cam2")


class Console:
    """A WebSocket console: incident changes by cursor."""

    def __init__(self) -> None:
        self.changes: dict[int, dict[str, Any]] = {}
        self.cursor = 0

    async def follow(self, server: LiveServer, since: str, until: float) -> None:
        """Read incident changes until ``until`` (monotonic)."""
        url = f"{server.ws_url}?since={since}"
        async with websockets.connect(url, additional_headers=server.ws_headers) as ws:
            while time.monotonic() < until:
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), until - time.monotonic()))
                except TimeoutError:
                    break
                if message["type"] == "cursor":
                    self.cursor = max(self.cursor, int(message["cursor"]))
                elif message["type"] == "incident":
                    cursor = int(message["cursor"])
                    assert cursor not in self.changes, f"change {cursor} delivered twice"
                    self.changes[cursor] = message
                    self.cursor = max(self.cursor, cursor)

    def created(self, camera: str, up_to: int | None = None) -> list[dict[str, Any]]:
        """Incidents created on ``camera`` in the order they arrived (cursor order)."""
        return [
            message["incident"]
            for cursor, message in sorted(self.changes.items())
            if message["change"] == "created"
            and camera in message["incident"]["camera_ids"]
            and (up_to is None or cursor <= up_to)
        ]


def _streaming(server: LiveServer) -> set[str]:
    with server.client() as client:
        response = client.get("/api/cameras")
    if response.status_code != 200:
        return set()
    return {camera["id"] for camera in response.json() if camera["status"]["state"] == "streaming"}


@pytest.mark.timeout(300)
def test_consoles_on_any_api_node_see_alarms_of_every_worker(sim_cameras: RtspServer, tmp_path: Path) -> None:
    urls = {camera: sim_cameras.url(f"/{camera}") for camera in CAMERAS}
    with cluster_rig(tmp_path, urls, incidents=True) as rig:
        api1_port = free_port()
        workers, (api1, api2) = rig.start_nodes(
            {"w1": {"capacity": 1}, "w2": {"capacity": 1}}, {"api1": api1_port, "api2": free_port()}
        )
        wait_for(
            lambda: (
                sorted(workers[0].cameras() + workers[1].cameras()) == list(CAMERAS) and workers[0].cameras()
            ),
            30,
            "each worker to lease one camera",
        )
        # Both boards learn the statuses from the bus (repeated by the workers for nodes that start later).
        wait_for(lambda: _streaming(api1) == set(CAMERAS), 20, "api1 to show both cameras streaming")
        wait_for(lambda: _streaming(api2) == set(CAMERAS), 20, "api2 to show both cameras streaming")
        one, two = Console(), Console()
        asyncio.run(_watch_both(api1, api2, one, two, seconds=15))
        for console in (one, two):
            for camera in CAMERAS:
                created = console.created(camera)
                assert created, f"no incident of {camera} reached a console"
                stamps = [incident["created_at"] for incident in created]
                assert stamps == sorted(stamps), f"{camera} incidents out of order"
        # api1 restarts while api2's console keeps watching; api1's console comes back with its cursor.
        assert stop_server(api1) == 0
        missed_from = one.cursor
        asyncio.run(two.follow(api2, str(two.cursor), time.monotonic() + 8))
        api1 = rig.start_api("api1", api1_port)
        asyncio.run(_watch_both(api1, api2, one, two, seconds=8, since_one=str(missed_from)))
        common = min(one.cursor, two.cursor)
        seen_one = {cursor for cursor in one.changes if cursor <= common}
        seen_two = {cursor for cursor in two.changes if cursor <= common}
        assert {cursor for cursor in seen_two if cursor > missed_from}, "no alarm while api1 was down"
        assert seen_two <= seen_one, f"api1's console lost {sorted(seen_two - seen_one)}"
        for camera in CAMERAS:
            stamps = [incident["created_at"] for incident in one.created(camera)]
            assert stamps == sorted(stamps)
        health = httpx.get(f"{api2.base_url}/api/health", timeout=5)
        assert health.status_code == 200


async def _watch_both(
    api1: LiveServer, api2: LiveServer, one: Console, two: Console, *, seconds: float, since_one: str = "now"
) -> None:
    until = time.monotonic() + seconds
    since_two = str(two.cursor) if two.cursor else "now"
    await asyncio.gather(one.follow(api1, since_one, until), two.follow(api2, since_two, until))


def test_a_worker_without_its_lease_server_stops_with_one_line(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    with cluster_rig(tmp_path, {"cam1": sim_cameras.url("/cam1")}) as rig:
        config = rig.config("w1", free_port(), worker_id="w1", url=f"nats://127.0.0.1:{free_port()}")
        result = subprocess.run(
            [sys.executable, "-m", "watchkeeper", "serve", "--config", str(config), "--role", "worker"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=REPO,
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, result.stderr
        assert "127.0.0.1" in errors[0]
