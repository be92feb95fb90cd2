"""WebRTC live view: aiortc as the browser, against a real server and RTSP test camera (and in-process)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from fastapi import FastAPI
from pydantic import ValidationError

import watchkeeper.api.routes.live_webrtc as live_webrtc
from tests.api.test_live_stream import _audit_records
from tests.auth.support import fast_passwords, service, user_token
from tests.conftest import LiveServer, free_port, start_server, stop_server, write_test_config
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.server import ServerConfig
from watchkeeper.domain import Camera, CameraId, Site, SiteId
from watchkeeper.privacy.live_feed import LiveFeed
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store

CAM = CameraId("cam1")


@pytest.fixture(scope="module")
def server(sim_cameras: RtspServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    config = write_test_config(
        tmp_path_factory.mktemp("live-webrtc"), {"cam1": sim_cameras.url("/cam1")}, http_port=port
    )
    live = start_server(config, port)
    yield live
    stop_server(live)


async def _offer(codec: str | None = None) -> tuple[RTCPeerConnection, dict[str, str]]:
    """A receive-only video offer, ICE gathered (aiortc gathers before ``setLocalDescription`` returns)."""
    peer = RTCPeerConnection()
    transceiver = peer.addTransceiver("video", direction="recvonly")
    if codec is not None:
        caps = RTCRtpSender.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in caps if c.mimeType == codec])
    await peer.setLocalDescription(await peer.createOffer())
    return peer, {"type": "offer", "sdp": peer.localDescription.sdp}


async def _watch(
    post: httpx.AsyncClient, url: str, frames: int, codec: str | None = None
) -> tuple[str, list[float]]:
    """Connect, receive ``frames`` frames; returns the negotiated codec and each frame's mean brightness."""
    peer, offer = await _offer(codec)
    try:
        response = await post.post(url, json=offer, timeout=15)
        assert response.status_code == 200, response.text
        answer = response.json()
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        (receiver,) = [t.receiver for t in peer.getTransceivers()]
        means: list[float] = []
        pictures: list[np.ndarray] = []  # type: ignore[type-arg]
        while len(means) < frames:
            frame = await asyncio.wait_for(receiver.track.recv(), 15)
            picture = frame.to_ndarray(format="rgb24")
            pictures.append(picture)
            means.append(float(picture.mean()))
        changed = any(not np.array_equal(pictures[0], p) for p in pictures[1:])
        assert changed, "the live pictures never changed"
        return _answered_codec(answer["sdp"]), means
    finally:
        await peer.close()


def _answered_codec(sdp: str) -> str:
    """The codec the answer sends with (its first video payload type)."""
    payload = next(line for line in sdp.splitlines() if line.startswith("m=video")).split()[3]
    rtpmap = next(line for line in sdp.splitlines() if line.startswith(f"a=rtpmap:{payload} "))
    return rtpmap.split()[1].split("/")[0]


def _webrtc_audits(server: LiveServer, action: str) -> list[dict[str, object]]:
    return [
        json.loads(r.details)
        for r in _audit_records(server)
        if r.action == action and json.loads(r.details).get("transport") == "webrtc"
    ]


def test_webrtc_streams_changing_redacted_frames_as_h264_and_audits(server: LiveServer) -> None:
    stops = len(_webrtc_audits(server, "live.stop"))
    starts = len(_webrtc_audits(server, "live.start"))

    async def run() -> tuple[str, list[float]]:
        async with httpx.AsyncClient(
            base_url=server.base_url,
            cookies={"wk_session": server.session_cookie},
            headers={"X-CSRF-Token": server.csrf_token},
        ) as client:
            info = await client.get("/api/live/webrtc")
            assert info.status_code == 200
            assert info.json() == {"ice_servers": []}
            return await _watch(client, "/api/cameras/cam1/live/webrtc", 8)

    codec, means = asyncio.run(run())
    assert codec == "H264"  # aiortc offers VP8 first; the server prefers H.264 when it is offered
    assert len(means) == 8
    assert len(_webrtc_audits(server, "live.start")) == starts + 1
    deadline = time.monotonic() + 20
    while len(_webrtc_audits(server, "live.stop")) == stops and time.monotonic() < deadline:
        time.sleep(0.3)
    stop = _webrtc_audits(server, "live.stop")[-1]
    assert len(_webrtc_audits(server, "live.stop")) == stops + 1, "closing the peer did not end the session"
    assert isinstance(stop["frames"], int)
    assert stop["frames"] >= 8


def test_webrtc_falls_back_to_vp8_when_the_browser_offers_no_h264(server: LiveServer) -> None:
    async def run() -> str:
        async with httpx.AsyncClient(
            base_url=server.base_url,
            cookies={"wk_session": server.session_cookie},
            headers={"X-CSRF-Token": server.csrf_token},
        ) as client:
            codec, _ = await _watch(client, "/api/cameras/cam1/live/webrtc", 3, codec="video/VP8")
            return codec

    assert asyncio.run(run()) == "VP8"


def test_webrtc_refusals_are_typed(server: LiveServer) -> None:
    async def offer() -> dict[str, str]:
        peer, description = await _offer()
        await peer.close()
        return description

    async def audio_offer() -> dict[str, str]:
        peer = RTCPeerConnection()
        peer.addTransceiver("audio", direction="recvonly")
        await peer.setLocalDescription(await peer.createOffer())
        description = {"type": "offer", "sdp": peer.localDescription.sdp}
        await peer.close()
        return description

    description = asyncio.run(offer())
    audio = asyncio.run(audio_offer())
    anonymous = httpx.post(f"{server.base_url}/api/cameras/cam1/live/webrtc", json=description)
    assert anonymous.status_code == 401
    assert httpx.get(f"{server.base_url}/api/live/webrtc").status_code == 401
    with server.client() as client:
        unknown = client.post("/api/cameras/nope/live/webrtc", json=description)
        assert unknown.status_code == 404
        garbage = client.post(
            "/api/cameras/cam1/live/webrtc", json={"type": "offer", "sdp": "v=0\r\nnonsense"}
        )
        assert garbage.status_code == 400
        assert garbage.json()["error"]["code"] == "bad_offer"
        answer = client.post("/api/cameras/cam1/live/webrtc", json={**description, "type": "answer"})
        assert answer.status_code == 422
        audio_only = client.post("/api/cameras/cam1/live/webrtc", json=audio)
        assert audio_only.status_code == 400
        assert "no video" in audio_only.json()["error"]["message"]


@pytest.fixture
def in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FastAPI, LiveFeed, object]]:
    """The app served in the test's own event loop (``ASGITransport``), re-checking every half second."""
    monkeypatch.setattr(live_webrtc, "RECHECK_S", 0.5)
    store = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    store.sites.upsert(Site(SiteId("s"), "Site"))
    store.cameras.upsert(Camera(CAM, "Camera 1", SiteId("s")))
    store.cameras.upsert(Camera(CameraId("cam2"), "Camera 2", SiteId("s")))
    feed = LiveFeed()
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=tmp_path / "media",
        statuses=StatusBoard([CAM]),
        hub=LiveHub(),
        passwords=fast_passwords(),
        live_feed=feed,
    )
    yield create_app(context), feed, store
    store.close()


def _client(app: FastAPI, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://wk.test",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_webrtc_refused_without_permission_on_the_camera(
    in_process: tuple[FastAPI, LiveFeed, object],
) -> None:
    app, feed, store = in_process
    token = user_token(store, "other", RoleGrant("viewer", cameras=frozenset({CameraId("cam2")})))  # type: ignore[arg-type]

    async def attempt() -> httpx.Response:
        peer, description = await _offer()
        await peer.close()
        async with _client(app, token) as client:
            return await client.post("/api/cameras/cam1/live/webrtc", json=description)

    response = asyncio.run(attempt())
    assert response.status_code in (403, 404)
    assert response.json()["error"]["code"]
    assert feed.viewers(CAM) == 0


def test_webrtc_session_ends_when_the_user_is_deleted(in_process: tuple[FastAPI, LiveFeed, object]) -> None:
    app, feed, store = in_process
    token = user_token(store, "watcher", RoleGrant("viewer"))  # type: ignore[arg-type]
    stop = threading.Event()

    def camera() -> None:
        value = 0
        while not stop.is_set():
            value = (value + 7) % 256
            feed.publish(CAM, np.full((48, 64, 3), value, dtype=np.uint8), datetime.now(UTC))
            time.sleep(0.05)

    thread = threading.Thread(target=camera, daemon=True)
    thread.start()

    async def watch() -> int:
        peer, offer = await _offer()
        try:
            async with _client(app, token) as client:
                response = await client.post("/api/cameras/cam1/live/webrtc", json=offer)
            assert response.status_code == 200, response.text
            answer = response.json()
            await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
            track = peer.getTransceivers()[0].receiver.track
            for _ in range(3):
                await asyncio.wait_for(track.recv(), 10)
            assert feed.viewers(CAM) == 1
            service(store).delete_user("watcher")  # type: ignore[arg-type]
            deadline = time.monotonic() + 10
            while feed.viewers(CAM) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            return feed.viewers(CAM)
        finally:
            await peer.close()

    try:
        assert asyncio.run(watch()) == 0  # the server ended the session of the deleted user
    finally:
        stop.set()
        thread.join()


def test_ice_servers_reach_the_console_and_bad_ones_are_refused(
    in_process: tuple[FastAPI, LiveFeed, object],
) -> None:
    _, feed, store = in_process
    turn = {"urls": ["turn:turn.example:3478"], "username": "wk", "credential": "s3"}
    settings = ServerConfig.model_validate({"webrtc": {"ice_servers": [turn]}})
    assert "s3" not in repr(settings)  # the TURN password is a secret in the configuration
    context = AppContext(
        store=store,  # type: ignore[arg-type]
        bus=LocalBus(),
        media_root=Path("/nonexistent"),
        statuses=StatusBoard([CAM]),
        hub=LiveHub(),
        passwords=fast_passwords(),
        live_feed=feed,
    )
    token = user_token(store, "ice", RoleGrant("viewer"))  # type: ignore[arg-type]

    async def info(server: ServerConfig) -> httpx.Response:
        async with _client(create_app(context, server), token) as client:
            return await client.get("/api/live/webrtc")

    answer = asyncio.run(info(settings))
    assert answer.status_code == 200
    assert answer.json() == {"ice_servers": [turn]}
    off = asyncio.run(info(ServerConfig.model_validate({"webrtc": {"enabled": False}})))
    assert off.status_code == 404
    assert off.json()["error"]["code"] == "webrtc_unavailable"
    with pytest.raises(ValidationError, match="not a stun"):
        ServerConfig.model_validate({"webrtc": {"ice_servers": [{"urls": ["http://turn.example"]}]}})


def test_webrtc_peer_that_never_connects_is_closed_and_audited(
    in_process: tuple[FastAPI, LiveFeed, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_webrtc, "CONNECT_S", 1.0)
    app, feed, store = in_process
    token = user_token(store, "idle", RoleGrant("viewer"))  # type: ignore[arg-type]

    async def abandon() -> tuple[int, int]:
        peer, offer = await _offer()
        try:
            async with _client(app, token) as client:
                response = await client.post("/api/cameras/cam1/live/webrtc", json=offer)
            assert response.status_code == 200, response.text
            during = feed.viewers(CAM)
            # The answer is never applied: the server's side cannot connect and gives up.
            deadline = time.monotonic() + 10
            while feed.viewers(CAM) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            return during, feed.viewers(CAM)
        finally:
            await peer.close()

    assert asyncio.run(abandon()) == (1, 0)
