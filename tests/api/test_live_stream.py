"""Live streams of the protected rendition (MJPEG, fMP4 over a WebSocket) from a real server and camera."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.conftest import LiveServer, free_port, start_server, stop_server, write_test_config
from watchkeeper.domain.custody import AuditRecord
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store


@pytest.fixture(scope="module")
def server(sim_cameras: RtspServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    config = write_test_config(
        tmp_path_factory.mktemp("live-stream"), {"cam1": sim_cameras.url("/cam1")}, http_port=port
    )
    live = start_server(config, port)
    yield live
    stop_server(live)


def _audit_records(server: LiveServer) -> list[AuditRecord]:
    database = Path(server.config_path).parent / "data" / "watchkeeper.db"
    store = open_store(f"sqlite:///{database}")
    try:
        return list(store.audit.about(["camera:cam1"]))
    finally:
        store.close()


def _wait_for_stop(server: LiveServer, transport: str, seen: int) -> AuditRecord:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stops = [
            r
            for r in _audit_records(server)
            if r.action == "live.stop" and json.loads(r.details).get("transport") == transport
        ]
        if len(stops) > seen:
            return stops[-1]
        time.sleep(0.2)
    raise AssertionError(f"no live.stop record for {transport}")


def _count(server: LiveServer, action: str, transport: str) -> int:
    return sum(
        1
        for r in _audit_records(server)
        if r.action == action and json.loads(r.details).get("transport") == transport
    )


def test_mjpeg_streams_advancing_redacted_pictures_and_audits_start_and_stop(server: LiveServer) -> None:
    stops = _count(server, "live.stop", "mjpeg")
    starts = _count(server, "live.start", "mjpeg")
    times: list[str] = []
    with (
        server.client() as client,
        client.stream("GET", "/api/cameras/cam1/live.mjpeg", timeout=30) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "multipart/x-mixed-replace; boundary=wkframe"
        buffer = b""
        for chunk in response.iter_bytes():
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                head, _, rest = buffer.partition(b"\r\n\r\n")
                fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
                size = int(fields["Content-Length"])
                if len(rest) < size + 2:
                    break
                jpeg, buffer = rest[:size], rest[size + 2 :]
                with av.open(io.BytesIO(jpeg)) as picture:
                    assert next(picture.decode(video=0)).width == 320
                times.append(fields["X-Frame-Time"])
            if len(times) >= 3:
                break
    assert times == sorted(times)
    assert len(set(times)) == 3
    assert _count(server, "live.start", "mjpeg") == starts + 1
    stop = _wait_for_stop(server, "mjpeg", stops)
    assert stop.actor == "admin"
    assert int(json.loads(stop.details)["frames"]) >= 3


def test_mjpeg_refuses_without_login_and_for_an_unknown_camera(server: LiveServer) -> None:
    assert httpx.get(f"{server.base_url}/api/cameras/cam1/live.mjpeg").status_code == 401
    with server.client() as client:
        response = client.get("/api/cameras/nope/live.mjpeg")
    assert response.status_code == 404
    assert "no camera" in response.json()["error"]["message"]


async def _read_ws(server: LiveServer, frames: int) -> tuple[str, bytes, list[str]]:
    url = server.base_url.replace("http://", "ws://") + "/api/cameras/cam1/live.ws"
    mime, data, times = "", b"", []
    async with websockets.connect(url, additional_headers=server.ws_headers) as ws:
        while len(times) < frames:
            message = await asyncio.wait_for(ws.recv(), 15)
            if isinstance(message, bytes):
                assert mime, "binary media before the init message"
                data += message
                continue
            info = json.loads(message)
            if info["type"] == "init":
                mime = info["mime"]
            elif info["type"] == "frame":
                times.append(info["at"])
    return mime, data, times


def test_websocket_streams_playable_fmp4_and_audits_start_and_stop(server: LiveServer) -> None:
    stops = _count(server, "live.stop", "mse")
    mime, data, times = asyncio.run(_read_ws(server, 6))
    assert mime.startswith('video/mp4; codecs="avc1.')
    assert data[4:8] == b"ftyp"
    assert len(set(times)) == 6
    assert times == sorted(times)
    with av.open(io.BytesIO(data)) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) >= 5
    assert decoded[0].width == 320
    stop = _wait_for_stop(server, "mse", stops)
    assert int(json.loads(stop.details)["frames"]) >= 6


@pytest.mark.parametrize(
    ("path", "authenticated", "code"),
    [("/api/cameras/cam1/live.ws", False, 4401), ("/api/cameras/nope/live.ws", True, 4404)],
)
def test_websocket_refusals_close_with_a_code(
    server: LiveServer, path: str, authenticated: bool, code: int
) -> None:
    async def attempt() -> int | None:
        url = server.base_url.replace("http://", "ws://") + path
        headers = server.ws_headers if authenticated else {}
        try:
            async with websockets.connect(url, additional_headers=headers) as ws:
                await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        except websockets.InvalidStatus as refused:
            return refused.response.status_code
        return None

    assert asyncio.run(attempt()) in (code, 403)
