"""Camera credentials and other secrets never reach the logs or the API.

A full ``watchkeeper serve --debug`` over a simulated camera that demands a password: one camera with the
right password, one with a wrong one (so the authentication failure path logs), one unreachable (so the
reconnect path logs), and a password and a token in URLs. The API is exercised (logins right and wrong, API
tokens, bearer calls, every list), then the whole log output is searched for each secret in every encoding
it could leak in.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import TEST_FOOTAGE, free_port, wait_for, write_test_config
from tests.security.conftest import ADMIN_PASSWORD, add_user, launch, run_cli, stop
from watchkeeper.simulator import Credentials, serve_simulated_cameras

CAM_USER = "camuser"
CAM_SECRET = "Cam-Pass-7f3a9c1e"
WRONG_SECRET = "Wrong-Pass-b81d22c4"
DEAD_SECRET = "Dead-Pass-5e09aa71"
QUERY_SECRET = "Query-Token-c4f1e6b0"
VIEWER_SECRET = "Viewer-Pass-92ab17de"


def _variants(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), secret.lower()}


def _assert_clean(text: str, secrets: dict[str, str], where: str) -> None:
    for name, secret in secrets.items():
        for variant in _variants(secret):
            assert variant not in text, f"{name} leaked into {where}"


@pytest.fixture(scope="module")
def cameras() -> Iterator[str]:
    """A simulated camera server that requires CAM_USER / CAM_SECRET; yields its host:port."""
    with serve_simulated_cameras(2, TEST_FOOTAGE, credentials=Credentials(CAM_USER, CAM_SECRET)) as server:
        yield f"127.0.0.1:{server.port}"


def _wait_for_cameras(client: httpx.Client) -> None:
    def states() -> dict[str, dict[str, str]] | None:
        cameras = {camera["id"]: camera["status"] for camera in client.get("/api/cameras").json()}
        good = cameras.get("good", {}).get("state") == "streaming"
        refused = cameras.get("wrongpw", {}).get("reason") and cameras.get("dead", {}).get("reason")
        return cameras if good and refused else None

    wait_for(states, timeout=40, what="the good camera streaming and the others failing with a reason")


def _exercise(base_url: str, client: httpx.Client, secrets: dict[str, str]) -> None:
    anonymous = httpx.Client(base_url=base_url, timeout=30)
    anonymous.post("/api/auth/login", json={"username": "sec-admin", "password": WRONG_SECRET})
    anonymous.post("/api/auth/login", json={"username": "no-such-user", "password": DEAD_SECRET})
    anonymous.get("/api/cameras", headers={"Authorization": f"Bearer {QUERY_SECRET}"})
    token = client.post("/api/auth/tokens", json={"name": "log-test"})
    assert token.status_code == 201, token.text
    secrets["api token"] = token.json()["token"]
    bearer = httpx.Client(
        base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {secrets['api token']}"}
    )
    secrets["session cookie"] = client.cookies["wk_session"]
    secrets["csrf token"] = str(client.headers["X-CSRF-Token"])
    answers = []
    for api in (client, bearer):
        for path in (
            "/api/cameras",
            "/api/cameras/good",
            "/api/cameras/wrongpw",
            "/api/events",
            "/openapi.json",
        ):
            answers.append(api.get(path))
        answers.append(api.get("/api/recordings", params={"camera_id": "good"}))
        answers.append(api.get("/api/auth/me"))
    answers.append(client.get("/api/auth/tokens"))
    answers.append(client.get("/api/users"))
    for answer in answers:
        assert answer.status_code < 500, answer.text
        _assert_clean(
            answer.text, {k: v for k, v in secrets.items() if "token" not in k}, answer.request.url.path
        )
    viewer = httpx.Client(base_url=base_url, timeout=30)
    assert (
        viewer.post("/api/auth/login", json={"username": "viewer1", "password": VIEWER_SECRET}).status_code
        == 200
    )
    assert viewer.get("/api/cameras").status_code == 200
    bearer.close()
    anonymous.close()
    viewer.close()


def test_no_secret_is_ever_logged_or_returned(cameras: str, tmp_path: Path) -> None:
    dead_port = free_port()
    urls = {
        "good": f"rtsp://{CAM_USER}:{CAM_SECRET}@{cameras}/cam1",
        "wrongpw": f"rtsp://{CAM_USER}:{WRONG_SECRET}@{cameras}/cam2",
        "dead": f"rtsp://ghost:{DEAD_SECRET}@127.0.0.1:{dead_port}/cam3?token={QUERY_SECRET}",
    }
    port = free_port()
    config = write_test_config(tmp_path / "wk", urls, http_port=port)
    add_user(config, "viewer1", VIEWER_SECRET, role="viewer")
    secrets = {
        "camera password": CAM_SECRET,
        "wrong camera password": WRONG_SECRET,
        "unreachable camera password": DEAD_SECRET,
        "URL query token": QUERY_SECRET,
        "camera basic auth": base64.b64encode(f"{CAM_USER}:{CAM_SECRET}".encode()).decode(),
        "admin password": ADMIN_PASSWORD,
        "viewer password": VIEWER_SECRET,
    }
    server = launch(config, port, args=["--debug"])
    try:
        client = server.login()
        _wait_for_cameras(client)
        _exercise(server.base_url, client, secrets)
        client.post("/api/auth/logout")
        client.close()
    finally:
        code = stop(server)
    assert code in (0, -15), server.log_text()[-3000:]  # uvicorn re-raises SIGTERM after a clean shutdown
    log = server.log_text()
    assert "wrongpw" in log  # the failing camera really logged
    _assert_clean(log, secrets, "the server log")

    probe = run_cli(["config", "check", "--probe", str(config)])
    _assert_clean(probe.stdout + probe.stderr, secrets, "config check --probe output")
    assert "***" in probe.stdout
