"""Break glass on a real server: live originals from a real RTSP camera, approvers told on the console's
WebSocket and over MQTT, every step audited (start/stop of the stream with its duration)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import av
import httpx
import pytest
import websockets
import yaml

from tests.conftest import LiveServer, create_user, free_port, start_server, stop_server, write_test_config
from tests.support.services import require_service
from watchkeeper.audit.verify import all_records, verify_chain
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.factory import open_store

PASSWORD = "a long enough password 1"
BROKER = ("127.0.0.1", 1883)
REASON = "person collapsed by the loading bay, checking who it is"


def _configure(folder: Path, camera_url: str, port: int, prefix: str) -> Path:
    path = write_test_config(folder, {"cam1": camera_url}, http_port=port)
    document = yaml.safe_load(path.read_text())
    document["custody"] = {"break_glass": True, "break_glass_minutes": 5}
    document["privacy"] = {"faces": {"enabled": False}}
    document["integrations"] = {
        "mqtt": {"enabled": True, "port": BROKER[1], "topic_prefix": prefix, "client_id": prefix}
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    for name, role in (("ivy", "investigator"), ("abe", "approver"), ("vic", "viewer")):
        create_user(path, name, PASSWORD, role)
    # An approver only for another site: a break glass on cam1 is none of hers.
    command = [sys.executable, "-m", "watchkeeper", "users", "add", "--config", str(path)]
    command += ["--username", "ada", "--role", "approver", "--site", "other-site", "--password-stdin"]
    subprocess.run(command, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=True)
    return path


def _client(server: LiveServer, username: str) -> httpx.Client:
    response = httpx.post(
        f"{server.base_url}/api/auth/login", json={"username": username, "password": PASSWORD}, timeout=10
    )
    response.raise_for_status()
    return httpx.Client(
        base_url=server.base_url,
        cookies={"wk_session": response.cookies["wk_session"]},
        headers={"X-CSRF-Token": response.json()["csrf_token"]},
        timeout=15,
    )


async def _break_glass_notices(server: LiveServer, prefix: str, ivy: httpx.Client) -> dict[str, Any]:
    """Break the glass as ivy; returns what the approver's and the viewer's consoles and MQTT received."""
    headers = {
        name: {"Cookie": f"wk_session={_client(server, name).cookies['wk_session']}"}
        for name in ("abe", "vic", "ada")
    }
    url = server.ws_url + "?since=now"
    async with (
        websockets.connect(url, additional_headers=headers["abe"]) as approver,
        websockets.connect(url, additional_headers=headers["vic"]) as viewer,
        websockets.connect(url, additional_headers=headers["ada"]) as elsewhere,
        aiomqtt.Client(*BROKER, identifier=f"{prefix}-watch") as mqtt,
    ):
        await mqtt.subscribe(f"{prefix}/custody/break_glass")
        for ws in (approver, viewer, elsewhere):
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "cursor"
        response = await asyncio.to_thread(
            ivy.post, "/api/grants/break-glass", json={"camera_ids": ["cam1"], "reason": REASON}
        )
        assert response.status_code == 201, response.text
        got: dict[str, Any] = {"grant": response.json()}
        got["approver"] = await _first_of(approver, "break_glass")
        got["viewer"] = await _first_of(viewer, "break_glass", timeout=1.5)
        got["other_site_approver"] = await _first_of(elsewhere, "break_glass", timeout=1.5)
        message = await asyncio.wait_for(anext(aiter(mqtt.messages)), 10)
        got["mqtt"] = json.loads(bytes(message.payload))  # type: ignore[arg-type]
    return got


def _views_differ(client: httpx.Client, original_url: str, tries: int = 20) -> bool:
    """Whether an original frame and the protected frame fetched right after it differ within ``tries``."""
    for _ in range(tries):
        original = client.get(original_url)
        protected = client.get("/api/cameras/cam1/latest.jpg")
        if original.status_code == protected.status_code == 200 and original.content != protected.content:
            return True
        time.sleep(0.25)
    return False


async def _first_of(ws: Any, kind: str, timeout: float = 10.0) -> dict[str, Any] | None:
    try:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if message["type"] == kind:
                return dict(message)
    except TimeoutError:
        return None


@pytest.mark.timeout(180)
def test_break_glass_serves_live_originals_tells_approvers_and_is_audited(
    sim_cameras: RtspServer, tmp_path: Path
) -> None:
    require_service("Mosquitto", *BROKER)
    prefix = f"wktest-{uuid.uuid4().hex[:10]}"
    port = free_port()
    server = start_server(_configure(tmp_path / "srv", sim_cameras.url("/cam1"), port, prefix), port)
    try:
        ivy, vic = _client(server, "ivy"), _client(server, "vic")
        frame_url = "/api/cameras/cam1/original/latest.jpg"
        before = ivy.get(frame_url)
        assert before.status_code == 403
        assert before.json()["error"]["code"] == "unmask_grant_required"
        assert (
            vic.post("/api/grants/break-glass", json={"camera_ids": ["cam1"], "reason": REASON}).status_code
            == 403
        )

        got = asyncio.run(_break_glass_notices(server, prefix, ivy))
        grant = got["grant"]
        assert grant["break_glass"] is True
        assert got["approver"] is not None
        assert got["approver"]["grant_id"] == grant["id"]
        assert got["approver"]["reason"] == REASON
        assert got["viewer"] is None  # only approvers are told
        assert got["other_site_approver"] is None  # ... of the camera's site
        assert got["mqtt"]["grant_id"] == grant["id"]
        assert got["mqtt"]["camera_ids"] == ["cam1"]

        frame = ivy.get(frame_url)
        assert frame.status_code == 200, frame.text
        assert frame.headers["content-type"] == "image/jpeg"
        assert frame.headers["cache-control"] == "no-store"
        with av.open(io.BytesIO(frame.content)) as image:
            decoded = next(image.decode(video=0))
        assert (decoded.width, decoded.height) == (320, 180)  # the detect stream, unredacted
        assert frame.headers["x-unmask-grant"] == grant["id"]
        protected = ivy.get("/api/cameras/cam1/latest.jpg")
        assert protected.status_code == 200
        assert "x-unmask-grant" not in protected.headers
        # A frame with nothing to redact is the same picture in both; the moving test pattern is blurred in
        # the protected view, so within a few frames the two differ.
        assert _views_differ(ivy, frame_url), "the original view never differed from the protected one"
        assert _client(server, "abe").get(frame_url).status_code == 403  # the grant is ivy's alone

        stream = ivy.get("/api/cameras/cam1/original/live.mjpeg", params={"seconds": 2})
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("multipart/x-mixed-replace")
        assert stream.content.count(b"Content-Type: image/jpeg") >= 3
    finally:
        stop_server(server)
    assert "BREAK GLASS by ivy on cam1" in server.log_text()
    store = open_store(f"sqlite:///{tmp_path / 'srv' / 'data' / 'watchkeeper.db'}")
    try:
        records = list(all_records(store.audit))
    finally:
        store.close()
    assert verify_chain(records).ok
    actions = [(r.action, r.actor) for r in records]
    assert ("unmask.break_glass", "ivy") in actions
    assert ("unmask.denied", "ivy") in actions
    views = [(r, json.loads(r.details)) for r in records if r.action in ("live.start", "live.stop")]
    originals = [(r.action, d) for r, d in views if d.get("rendition") == "original"]
    assert [action for action, _ in originals] == ["live.start", "live.stop"]
    stop = next(r for r, d in views if r.action == "live.stop" and d.get("rendition") == "original")
    assert (stop.actor, stop.target, stop.client) == ("ivy", "camera:cam1", "127.0.0.1")
    details = originals[1][1]
    assert 1.5 <= float(details["duration_s"]) < 10
    assert details["ended"] == "time up"
