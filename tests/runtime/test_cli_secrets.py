"""``watchkeeper secrets``: values in by stdin only, never out; a camera behind a ``${secret:...}`` URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_FOOTAGE, free_port, start_server, stop_server, wait_for, write_test_config
from watchkeeper.config.secretstore import KEY_FILE, SECRETS_FILE
from watchkeeper.simulator import Credentials, RtspServer, serve_simulated_cameras

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Cam-pa55-7f3a9c"


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


def _config(folder: Path, url: str = "rtsp://viewer:${secret:gate-cam}@127.0.0.1:8554/cam1") -> Path:
    return write_test_config(folder, {"gate": url})


def _assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    _assert_clean(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_set_list_remove_never_show_the_value(tmp_path: Path) -> None:
    config = _config(tmp_path)
    stored = run_cli("secrets", "set", "--config", str(config), "gate-cam", stdin=PASSWORD + "\n")
    assert stored.returncode == 0, stored.stderr
    _assert_clean(stored)
    assert "stored secret gate-cam" in stored.stdout
    run_cli("secrets", "set", "--config", str(config), "other", stdin="x")
    listed = run_cli("secrets", "list", "--config", str(config))
    assert listed.returncode == 0
    assert listed.stdout.split() == ["gate-cam", "other"]
    _assert_clean(listed)
    checked = run_cli("config", "check", str(config))
    assert checked.returncode == 0, checked.stderr
    _assert_clean(checked)
    assert PASSWORD.encode() not in (tmp_path / SECRETS_FILE).read_bytes()

    removed = run_cli("secrets", "remove", "--config", str(config), "gate-cam")
    assert removed.returncode == 0
    assert "removed secret gate-cam" in removed.stdout
    line = _one_line_error(run_cli("config", "check", str(config)))
    assert f"{config}:" in line
    assert "cameras[0].inputs[0].url: unknown secret 'gate-cam'" in line
    assert "no secret 'gate-cam'" in _one_line_error(
        run_cli("secrets", "remove", "--config", str(config), "gate-cam")
    )


def test_the_value_is_never_taken_from_argv_or_empty(tmp_path: Path) -> None:
    config = _config(tmp_path)
    extra = run_cli("secrets", "set", "--config", str(config), "gate-cam", PASSWORD)
    assert extra.returncode == 2
    assert "unexpected extra argument" in extra.stderr.lower()
    assert "no value for secret 'gate-cam'" in _one_line_error(
        run_cli("secrets", "set", "--config", str(config), "gate-cam", stdin="")
    )
    assert "invalid secret name" in _one_line_error(
        run_cli("secrets", "set", "--config", str(config), "a/b", stdin="v")
    )
    assert not (tmp_path / SECRETS_FILE).exists()
    assert not (tmp_path / KEY_FILE).exists()


def test_loose_key_and_tampered_file_are_one_line_errors(tmp_path: Path) -> None:
    config = _config(tmp_path)
    run_cli("secrets", "set", "--config", str(config), "gate-cam", stdin=PASSWORD)
    key = tmp_path / KEY_FILE
    os.chmod(key, 0o644)
    for result in (
        run_cli("secrets", "list", "--config", str(config)),
        run_cli("config", "check", str(config)),
    ):
        assert f"run `chmod 600 {key}`" in _one_line_error(result)
    os.chmod(key, 0o600)
    blob = bytearray((tmp_path / SECRETS_FILE).read_bytes())
    blob[-1] ^= 0x80
    (tmp_path / SECRETS_FILE).write_bytes(bytes(blob))
    assert "does not authenticate" in _one_line_error(run_cli("secrets", "list", "--config", str(config)))


@pytest.fixture
def locked_camera() -> Iterator[RtspServer]:
    """One simulated camera that demands a user name and password."""
    with serve_simulated_cameras(1, TEST_FOOTAGE, credentials=Credentials("viewer", PASSWORD)) as server:
        yield server


def test_camera_behind_a_secret_url_records(tmp_path: Path, locked_camera: RtspServer) -> None:
    port = free_port()
    url = f"rtsp://viewer:${{secret:gate-cam}}@127.0.0.1:{locked_camera.port}/cam1"
    config = write_test_config(tmp_path, {"cam1": url}, http_port=port)
    assert run_cli("secrets", "set", "--config", str(config), "gate-cam", stdin=PASSWORD).returncode == 0
    assert PASSWORD not in config.read_text()
    server = start_server(config, port)
    try:
        with server.client() as client:

            def recordings() -> list[dict[str, object]]:
                response = client.get("/api/recordings", params={"camera_id": "cam1"})
                response.raise_for_status()
                return list(response.json())

            wait_for(lambda: len(recordings()) >= 2, timeout=30, what="two segments through the secret URL")
            cameras = client.get("/api/cameras").json()
        assert PASSWORD not in json.dumps(cameras)
    finally:
        stop_server(server)
    assert PASSWORD not in server.log_text()
