"""Smoke test of ``benchmarks/recording.py --quick``: it runs end to end and ends with the promised JSON.

The figures themselves are not asserted (they depend on the machine); the benchmark and its targets are
documented in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import services_required

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "recording.py"
KEYS = {
    "cameras",
    "seconds",
    "cpu_s_per_camera_min",
    "ffmpeg_cpu_s_per_camera_min",
    "ratio",
    "dropped_segments",
    "max_recorder_lag_s",
}


def _require_ffmpeg() -> None:
    if shutil.which("ffmpeg"):
        return
    message = "the ffmpeg command is not installed (Debian: apt-get install ffmpeg; `make system-deps`)"
    if services_required():
        pytest.fail(f"WATCHKEEPER_REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_quick_run_prints_the_summary_json_last(tmp_path: Path) -> None:
    _require_ffmpeg()
    result = _run("--quick", "--keep", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    summary = json.loads(last)
    assert set(summary) == KEYS
    assert summary["cameras"] == 1
    assert summary["seconds"] == pytest.approx(8.0)
    for key in KEYS - {"cameras", "dropped_segments"}:
        assert isinstance(summary[key], float | int), key
        assert summary[key] >= 0, key
    assert isinstance(summary["dropped_segments"], int)
    assert summary["cpu_s_per_camera_min"] > 0
    assert summary["ffmpeg_cpu_s_per_camera_min"] > 0
    assert summary["ratio"] == pytest.approx(
        summary["cpu_s_per_camera_min"] / summary["ffmpeg_cpu_s_per_camera_min"], rel=0.01
    )
    # Both recorders wrote real footage into the kept folder.
    assert list((tmp_path / "watchkeeper" / "media").rglob("*.mp4"))
    assert list((tmp_path / "ffmpeg").glob("cam1/out*.mp4"))
    assert "Watchkeeper" in result.stdout


def test_bad_arguments_are_rejected_with_a_message() -> None:
    result = _run("--cameras", "0")
    assert result.returncode == 2
    assert "--cameras must be >= 1" in result.stderr
