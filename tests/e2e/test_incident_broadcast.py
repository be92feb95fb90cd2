"""Incident changes reach consoles live, and a console that reconnects after a server restart gets what it
missed (from the incident journal in the database), exactly once and in order."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.conftest import LiveServer, free_port, start_server, stop_server, write_test_config
from watchkeeper.simulator import RtspServer


async def _read(ws: Any, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The next ``count`` incident/cursor messages (events and camera states are skipped)."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] in ("incident", "cursor"):
            got.append(message)
    return got


def _report(server: LiveServer, note: str) -> dict[str, Any]:
    with server.client() as client:
        response = client.post(
            "/api/incidents", json={"type_code": "BREAK_IN", "camera_id": "cam1", "note": note}
        )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _acknowledge(server: LiveServer, incident_id: str) -> None:
    with server.client() as client:
        response = client.post(f"/api/incidents/{incident_id}/actions/acknowledge", json={})
    assert response.status_code == 200, response.text


async def _connect(server: LiveServer, since: str) -> Any:
    return await websockets.connect(f"{server.ws_url}?since={since}", additional_headers=server.ws_headers)


@pytest.mark.timeout(180)
def test_reconnecting_after_a_restart_replays_what_was_missed(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    port = free_port()
    config = write_test_config(tmp_path / "srv", {"cam1": sim_cameras.url("/cam1")}, http_port=port)
    server = start_server(config, port)
    try:
        first, acked, hello_cursor = asyncio.run(_before_restart(server))
    finally:
        assert stop_server(server) == 0
    server = start_server(config, port)  # same database: a real restart of the API server
    try:
        later = _report(server, "while the console was away")
        replay = asyncio.run(_replay(server, str(acked)))
        assert [(m["incident"]["id"], m["change"]) for m in replay[:-1]] == [(later["id"], "created")]
        assert replay[-1]["type"] == "cursor"
        assert replay[-1]["replayed"] == 1
        everything = asyncio.run(_replay(server, str(hello_cursor)))
        changes = [(m["incident"]["id"], m["change"]) for m in everything[:-1]]
        assert changes == [(first["id"], "created"), (first["id"], "transition"), (later["id"], "created")]
        cursors = [m["cursor"] for m in everything[:-1]]
        assert cursors == sorted(set(cursors))
    finally:
        stop_server(server)


async def _before_restart(server: LiveServer) -> tuple[dict[str, Any], int, int]:
    ws = await _connect(server, "now")
    try:
        (hello,) = await _read(ws, 1)
        assert hello["type"] == "cursor"
        first = await asyncio.to_thread(_report, server, "door forced at the loading bay")
        (created,) = await _read(ws, 1)
        assert created["incident"]["id"] == first["id"]
        assert created["change"] == "created"
        assert created["incident"]["camera_ids"] == ["cam1"]
        assert created["cursor"] > hello["cursor"]
        await asyncio.to_thread(_acknowledge, server, first["id"])
        (moved,) = await _read(ws, 1)
        assert (moved["change"], moved["incident"]["state"]) == ("transition", "acknowledged")
        assert moved["cursor"] > created["cursor"]
    finally:
        await ws.close()
    return first, int(moved["cursor"]), int(hello["cursor"])


async def _replay(server: LiveServer, since: str) -> list[dict[str, Any]]:
    ws = await _connect(server, since)
    try:
        got: list[dict[str, Any]] = []
        while not got or got[-1]["type"] != "cursor":
            got += await _read(ws, 1)
        return got
    finally:
        await ws.close()
