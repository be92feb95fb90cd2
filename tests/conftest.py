"""Shared fixtures: simulated RTSP cameras, test configuration files, a live ``watchkeeper serve``."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml
from fastapi import FastAPI

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
START_LIMIT_ENV = "WATCHKEEPER_TEST_START_S"
DEFAULT_START_LIMIT_S = 60.0
"""How long a started server gets to answer unless ``$WATCHKEEPER_TEST_START_S`` says otherwise."""


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
    wait_for_health(process, server.base_url, log_path)
    return _log_in(server)


def stop_server(server: LiveServer) -> int:
    """Stop the server with SIGTERM (graceful) and return its exit code."""
    return stop_process(server.process)


def stop_process(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, wait up to 30 s for a graceful exit (then SIGKILL); returns the exit code."""
    process.terminate()
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def start_limit_s() -> float:
    """How long a test waits for a server it started to answer: 60 s, or ``$WATCHKEEPER_TEST_START_S``.

    Starting ``watchkeeper serve`` (imports, migrations, camera workers) can take well over 30 s on a
    heavily loaded machine.

    Raises:
        pytest.UsageError: When the variable is set to anything but a positive number of seconds.
    """
    text = os.environ.get(START_LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_START_LIMIT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise pytest.UsageError(f"{START_LIMIT_ENV} must be a positive number of seconds, got {text!r}")
    return seconds


def pytest_configure(config: pytest.Config) -> None:
    """Refuse a bad ``$WATCHKEEPER_TEST_START_S`` before any test runs (one line, no traceback)."""
    start_limit_s()


def wait_for_health(
    process: subprocess.Popen[bytes], base_url: str, log_path: Path, verify: ssl.SSLContext | bool = True
) -> None:
    """Wait until ``base_url/api/health`` answers 200 within :func:`start_limit_s`.

    Fails with the process's log when it exits first, or (after stopping it) when it never answers.
    """
    limit_s = start_limit_s()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{_log_text(log_path)}")
        try:
            if httpx.get(f"{base_url}/api/health", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_process(process)
    waited = f"server did not answer within {limit_s:g} s ({START_LIMIT_ENV} sets the limit)"
    raise AssertionError(f"{waited}:\n{_log_text(log_path)}")


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, name: str) -> Iterator[str]:
    """Serve ``app`` over real HTTP with uvicorn in a thread named ``name`` (lifespan off); yields its URL.

    Fails when ``/api/health`` does not answer within :func:`start_limit_s`; the server stops afterwards.
    """
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        limit_s = start_limit_s()
        deadline = time.monotonic() + limit_s
        while not _answers(base_url):
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail(
                    f"uvicorn ({name}) did not come up within {limit_s:g} s ({START_LIMIT_ENV} sets it)"
                )
            time.sleep(0.1)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _log_text(log_path: Path) -> str:
    return log_path.read_text(errors="replace") if log_path.exists() else "(no log was written)"


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
