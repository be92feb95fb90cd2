"""The start limit of servers the tests run: 60 s by default, set by ``WATCHKEEPER_TEST_START_S``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import START_LIMIT_ENV, free_port, start_limit_s, wait_for_health

REPO_ROOT = Path(__file__).resolve().parents[1]

HEALTHY = textwrap.dedent(
    """
    import http.server, sys

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/api/health" else 404)
            self.end_headers()

    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
    """
)


def test_the_limit_is_60_s_unless_the_variable_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(START_LIMIT_ENV, raising=False)
    assert start_limit_s() == 60.0
    monkeypatch.setenv(START_LIMIT_ENV, " 150 ")
    assert start_limit_s() == 150.0
    monkeypatch.setenv(START_LIMIT_ENV, "")
    assert start_limit_s() == 60.0


@pytest.mark.parametrize("text", ["soon", "0", "-5", "nan", "inf"])
def test_anything_but_a_positive_number_of_seconds_is_refused(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(START_LIMIT_ENV, text)
    with pytest.raises(pytest.UsageError, match=f"{START_LIMIT_ENV} must be a positive number of seconds"):
        start_limit_s()


def test_a_bad_limit_stops_the_run_before_any_test_with_one_line() -> None:
    env = {**os.environ, START_LIMIT_ENV: "soon"}
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/test_start_limit.py"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert f"ERROR: {START_LIMIT_ENV} must be a positive number of seconds, got 'soon'" in result.stderr
    assert "Traceback" not in result.stderr


def test_waiting_returns_once_the_server_answers(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-c", HEALTHY, str(port)], stdout=log, stderr=log)
    try:
        wait_for_health(process, f"http://127.0.0.1:{port}", log_path)
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()


def test_a_server_that_exits_fails_at_once_with_its_log(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; print('config is broken'); sys.exit(3)"], stdout=log
        )
    with pytest.raises(AssertionError, match="server exited with 3:\nconfig is broken"):
        wait_for_health(process, f"http://127.0.0.1:{free_port()}", log_path)


def test_a_server_that_never_answers_is_stopped_and_the_failure_names_the_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(START_LIMIT_ENV, "0.5")
    log_path = tmp_path / "server.log"
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(AssertionError, match=rf"did not answer within 0.5 s \({START_LIMIT_ENV} sets"):
        wait_for_health(process, f"http://127.0.0.1:{free_port()}", log_path)
    assert process.poll() is not None, "the server that never answered was left running"
