"""Walking skeleton end to end: RTSP camera -> segments + motion event -> API, media and WebSocket."""

from __future__ import annotations

import asyncio
import io
import json

import av
import httpx
import pytest
import websockets

from tests.conftest import LiveServer, wait_for


def _segments(server: LiveServer, camera: str) -> list[dict[str, object]]:
    with server.client() as client:
        response = client.get("/api/recordings", params={"camera_id": camera})
    response.raise_for_status()
    return list(response.json())


async def _next_event(server: LiveServer, timeout: float) -> dict[str, object]:
    async with websockets.connect(server.ws_url, additional_headers=server.ws_headers) as ws:
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "event":
                    return dict(message)


def test_cameras_are_listed_streaming_without_credentials(live_server: LiveServer) -> None:
    def streaming() -> list[dict[str, object]]:
        with live_server.client() as client:
            cams = client.get("/api/cameras").json()
        return cams if all(c["status"]["state"] == "streaming" for c in cams) else []

    cameras = wait_for(streaming, timeout=20, what="both cameras streaming")
    assert isinstance(cameras, list)
    assert [c["id"] for c in cameras] == ["cam1", "cam2"]
    assert cameras[0]["position"]["heading_deg"] == 90
    assert "rtsp://" not in json.dumps(cameras)


def test_segments_are_recorded_indexed_and_playable(live_server: LiveServer) -> None:
    segments = wait_for(lambda: len(_segments(live_server, "cam1")) >= 2, timeout=30, what="two segments")
    assert segments
    first = _segments(live_server, "cam1")[0]
    assert first["video_codec"] == "h264"
    assert (first["width"], first["height"]) == (320, 180)
    assert 0.5 <= float(str(first["duration_s"])) <= 3.0
    client = live_server.client()
    media = client.get(str(first["media_url"]))
    assert media.status_code == 200
    assert media.headers["content-type"] == "video/mp4"
    assert int(media.headers["content-length"]) == first["size_bytes"]
    with av.open(io.BytesIO(media.content)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 5  # about 1 s at 10 fps, cut on keyframes

    ranged = client.get(str(first["media_url"]), headers={"Range": "bytes=0-99"})
    client.close()
    assert ranged.status_code == 206
    assert len(ranged.content) == 100


def test_motion_creates_an_event_pushed_over_the_websocket(live_server: LiveServer) -> None:
    message = asyncio.run(_next_event(live_server, timeout=25))
    event = message["event"]
    assert isinstance(event, dict)
    assert event["kind"] == "motion"
    assert event["camera_id"] in ("cam1", "cam2")
    assert message["state"] in ("started", "ended")
    with live_server.client() as client:
        listed = client.get("/api/events").json()
    assert event["id"] in [item["id"] for item in listed]


def test_api_errors_are_typed_json(live_server: LiveServer) -> None:
    client = live_server.client()
    missing = client.get("/api/cameras/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    bad = client.get("/api/recordings", params={"camera_id": "cam1", "limit": 0})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"
    naive = client.get("/api/recordings", params={"camera_id": "cam1", "start": "2026-01-01T00:00:00"})
    assert naive.status_code == 400
    assert "time zone" in naive.json()["error"]["message"]
    no_media = client.get("/api/recordings/999999/media")
    assert no_media.status_code == 404
    client.close()


def test_everything_but_health_and_login_needs_auth(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.base_url}/api/health", timeout=5).status_code == 200
    for path in ("/api/cameras", "/api/events", "/api/recordings?camera_id=cam1", "/api/auth/me"):
        anonymous = httpx.get(f"{live_server.base_url}{path}", timeout=5)
        assert anonymous.status_code == 401, path
        assert anonymous.json()["error"]["code"] == "unauthenticated"
    with live_server.client() as client:
        me = client.get("/api/auth/me").json()
        assert me["username"] == live_server.admin_username
        no_csrf = client.post("/api/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": ""})
        assert no_csrf.status_code == 403
        assert no_csrf.json()["error"]["code"] == "csrf_failed"
        token = client.post("/api/auth/tokens", json={"name": "e2e"}).json()["token"]
    bearer = httpx.get(
        f"{live_server.base_url}/api/cameras", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert [camera["id"] for camera in bearer.json()] == ["cam1", "cam2"]


def test_the_websocket_refuses_anonymous_clients(live_server: LiveServer) -> None:
    async def connect() -> None:
        async with websockets.connect(live_server.ws_url) as ws:
            await ws.recv()

    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        asyncio.run(connect())
    assert refused.value.response.status_code == 403
