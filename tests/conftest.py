"""Shared fixtures: simulated RTSP cameras, test configuration files, a live ``watchkeeper serve``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import yaml

from watchkeeper.simulator import FootageSpec, RtspServer, serve_simulated_cameras

TEST_FOOTAGE = FootageSpec(
    width=320, height=180, fps=10, duration_s=6.0, keyframe_interval=10, motion_start=0.3, motion_end=0.7
)
"""Small, fast footage: 6 s loops with a walker crossing between 1.8 s and 4.2 s."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def sim_cameras() -> Iterator[RtspServer]:
    """Two simulated RTSP cameras (/cam1, /cam2) on a free port for the whole session."""
    with serve_simulated_cameras(2, TEST_FOOTAGE) as server:
        yield server


def write_test_config(
    folder: Path,
    urls: dict[str, str],
    *,
    http_port: int = 8080,
    segment_seconds: float = 1.0,
    objects: bool = False,
) -> Path:
    """Write a test configuration for the given camera URLs into ``folder``; returns the file path."""
    cameras = [
        {
            "id": camera_id,
            "name": f"Test camera {camera_id}",
            "site": "test-site",
            "inputs": [{"url": url, "roles": ["record", "detect"]}],
            "position": {"lat": 52.2 + index / 1000, "lon": 0.12, "heading_deg": 90, "fov_deg": 70},
        }
        for index, (camera_id, url) in enumerate(urls.items())
    ]
    document = {
        "sites": [{"id": "test-site", "name": "Test site"}],
        "cameras": cameras,
        "recording": {
            "segment_seconds": segment_seconds,
            "stall_timeout_s": 3,
            "reconnect_initial_s": 0.5,
            "reconnect_max_s": 2,
        },
        "detection": {
            "fps": 5,
            "motion": {"min_frames": 2, "cooldown_s": 1},
            # Object detection costs ~100 ms a frame here; tests that need it turn it on explicitly.
            "objects": {"enabled": objects},
        },
        "storage": {"database_url": "sqlite:///data/watchkeeper.db", "media_root": "data/media"},
        "server": {"host": "127.0.0.1", "port": http_port},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "watchkeeper.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@dataclass(frozen=True)
class LiveServer:
    """A ``watchkeeper serve`` subprocess, with an admin user logged in over HTTP."""

    base_url: str
    config_path: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    admin_username: str = "admin"
    admin_password: str = ""
    session_cookie: str = ""
    csrf_token: str = ""

    def client(self) -> httpx.Client:
        """An HTTP client authenticated as the admin (session cookie + ``X-CSRF-Token``)."""
        return httpx.Client(
            base_url=self.base_url,
            cookies={"wk_session": self.session_cookie},
            headers={"X-CSRF-Token": self.csrf_token},
            timeout=10,
        )

    @property
    def ws_headers(self) -> dict[str, str]:
        """Headers that authenticate a WebSocket handshake with the admin's session."""
        return {"Cookie": f"wk_session={self.session_cookie}"}

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/api/ws"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


TEST_ADMIN_PASSWORD = "e2e-admin-password"


def create_user(config_path: Path, username: str, password: str, *roles: str) -> None:
    """Create a user through ``watchkeeper users add`` (the CLI an operator would use)."""
    command = [sys.executable, "-m", "watchkeeper", "users", "add", "--config", str(config_path)]
    command += ["--username", username, "--password-stdin"]
    for role in roles or ("admin",):
        command += ["--role", role]
    result = subprocess.run(
        command, input=password + "\n", capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0 and "already exists" not in result.stderr:  # a restart over the same config
        raise AssertionError(f"watchkeeper users add failed ({result.returncode}): {result.stderr}")


def _log_in(server: LiveServer) -> LiveServer:
    response = httpx.post(
        f"{server.base_url}/api/auth/login",
        json={"username": server.admin_username, "password": server.admin_password},
        timeout=10,
    )
    response.raise_for_status()
    return replace(
        server, session_cookie=response.cookies["wk_session"], csrf_token=response.json()["csrf_token"]
    )


def start_server(config_path: Path, port: int) -> LiveServer:
    """Create the admin, run ``watchkeeper serve`` as a real process, wait for /api/health and log in."""
    log_path = config_path.with_suffix(".log")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    create_user(config_path, "admin", TEST_ADMIN_PASSWORD, "admin")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "watchkeeper", "serve", "--config", str(config_path)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = LiveServer(
        f"http://127.0.0.1:{port}", config_path, process, log_path, admin_password=TEST_ADMIN_PASSWORD
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.base_url}/api/health", timeout=1).status_code == 200:
                return _log_in(server)
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(server)
    raise AssertionError(f"server did not answer within 30 s:\n{server.log_text()}")


def stop_server(server: LiveServer) -> int:
    """Stop the server with SIGTERM (graceful) and return its exit code."""
    server.process.terminate()
    try:
        return server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return server.process.wait()


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
