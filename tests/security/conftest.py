"""A real ``watchkeeper serve`` (HTTP or HTTPS, extra flags) with an admin created through the CLI."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import stop_process, wait_for_health

ADMIN_USER = "sec-admin"
ADMIN_PASSWORD = "Adm1n-pass-for-security-tests"


@dataclass(frozen=True)
class SecureServer:
    """A ``watchkeeper serve`` subprocess and how to reach it."""

    base_url: str
    config_path: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    verify: ssl.SSLContext | bool = True

    def log_text(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def client(self) -> httpx.Client:
        """A fresh client (no session) for this server."""
        return httpx.Client(base_url=self.base_url, verify=self.verify, timeout=30)

    def login(self, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> httpx.Client:
        """A client holding a session cookie, with the CSRF header set for unsafe requests."""
        client = self.client()
        response = client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client


def run_cli(args: Sequence[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``python -m watchkeeper ARGS`` and return the finished process (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def add_user(config_path: Path, username: str, password: str, role: str = "admin") -> None:
    """Create a user through ``watchkeeper users add`` (the documented way)."""
    done = run_cli(
        [
            "users",
            "add",
            "--config",
            str(config_path),
            "--username",
            username,
            "--role",
            role,
            "--password-stdin",
        ],
        stdin=password + "\n",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def update_config(config_path: Path, **server: object) -> None:
    """Merge ``server`` keys into the ``server`` section of a test configuration file."""
    document = yaml.safe_load(config_path.read_text())
    document["server"] = {**document.get("server", {}), **server}
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))


def launch(
    config_path: Path,
    port: int,
    *,
    args: Sequence[str] = (),
    scheme: str = "http",
    verify: ssl.SSLContext | bool = True,
) -> SecureServer:
    """Create the admin user, run ``watchkeeper serve`` and wait until ``/api/health`` answers."""
    add_user(config_path, ADMIN_USER, ADMIN_PASSWORD)
    log_path = config_path.with_suffix(".log")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "watchkeeper", "serve", "--config", str(config_path), *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = SecureServer(f"{scheme}://127.0.0.1:{port}", config_path, process, log_path, verify)
    wait_for_health(process, server.base_url, log_path, verify)
    return server


def stop(server: SecureServer) -> int:
    """SIGTERM, then wait (kill after 30 s); returns the exit code."""
    return stop_process(server.process)


@pytest.fixture
def stop_later() -> Iterator[list[SecureServer]]:
    """Servers appended here are stopped after the test, whatever happens."""
    servers: list[SecureServer] = []
    yield servers
    for server in servers:
        if server.process.poll() is None:
            stop(server)
