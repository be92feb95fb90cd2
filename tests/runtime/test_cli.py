"""The command line: clear one-line errors with exit code 2, never a stack trace unless --debug."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port, write_test_config
from watchkeeper.simulator import RtspServer

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )


def _edit(path: Path, **storage: object) -> Path:
    document = yaml.safe_load(path.read_text())
    document["storage"].update(storage)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error_lines, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("serve", "config", "simulate", "demo", "openapi"):
        assert command in result.stdout


def test_config_check_accepts_the_demo_file() -> None:
    result = run_cli("config", "check", "examples/demo.yaml")
    assert result.returncode == 0, result.stderr
    assert "4 camera(s)" in result.stdout


def test_missing_config_file(tmp_path: Path) -> None:
    _assert_one_line_error(run_cli("config", "check", str(tmp_path / "nope.yaml")), "nope.yaml")


def test_unknown_key_names_the_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("sites:\n  - id: a\n    name: A\ncameras: []\nrecordng: {}\n")
    result = run_cli("config", "check", str(path))
    _assert_one_line_error(result, "bad.yaml:5", "recordng", "recording")


def test_wrong_type_hides_the_camera_password(tmp_path: Path) -> None:
    path = write_test_config(tmp_path, {"cam1": "rtsp://admin:s3cret-pw@10.0.0.9/stream"})
    document = yaml.safe_load(path.read_text())
    document["cameras"][0]["inputs"][0]["roles"] = ["recrod"]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    result = run_cli("config", "check", str(path))
    _assert_one_line_error(result, "roles")
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_serve_with_database_server_down(tmp_path: Path) -> None:
    path = _edit(
        write_test_config(tmp_path, {}, http_port=free_port()),
        database_url="postgresql://watch:hunter2@127.0.0.1:9/watchkeeper",
    )
    result = run_cli("serve", "--config", str(path))
    _assert_one_line_error(result, "cannot reach database")
    assert "hunter2" not in result.stderr


def test_serve_with_unwritable_media_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = _edit(write_test_config(tmp_path, {}, http_port=free_port()), media_root=str(blocker / "media"))
    _assert_one_line_error(run_cli("serve", "--config", str(path)), "media folder", "not writable")


def test_serve_with_nats_down(tmp_path: Path) -> None:
    path = _edit(
        write_test_config(tmp_path, {}, http_port=free_port()),
        bus={"type": "nats", "url": "nats://127.0.0.1:9"},
    )
    _assert_one_line_error(run_cli("serve", "--config", str(path)), "127.0.0.1:9")


def test_serve_with_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        path = write_test_config(tmp_path, {}, http_port=port)
        _assert_one_line_error(run_cli("serve", "--config", str(path)), f"127.0.0.1:{port}")


def test_debug_shows_the_stack_trace(tmp_path: Path) -> None:
    result = run_cli("config", "check", str(tmp_path / "nope.yaml"), "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.usefixtures("sim_cameras")
def test_probe_reports_reachable_and_unreachable_cameras(sim_cameras: RtspServer, tmp_path: Path) -> None:
    path = write_test_config(
        tmp_path, {"cam1": sim_cameras.url("/cam1"), "dead": "rtsp://viewer:pw-123@127.0.0.1:9/x"}
    )
    result = run_cli("config", "check", "--probe", str(path))
    _assert_one_line_error(result, "1 of 2 camera input(s)")
    assert "ok camera cam1" in result.stdout
    assert "unreachable camera dead rtsp://viewer:***@127.0.0.1:9/x" in result.stdout
    assert "pw-123" not in result.stdout + result.stderr
