"""Smoke test of ``benchmarks/control_plane.py --quick``: it runs and ends with the promised JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import services_required

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "control_plane.py"


def test_quick_run_prints_the_summary_json() -> None:
    if shutil.which("nats-server") is None and not Path("/usr/sbin/nats-server").exists():
        message = "nats-server is not installed (Debian: apt-get install nats-server)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    command = [sys.executable, str(SCRIPT), "--quick"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"cameras", "workers", "reassign_s_p95", "double_assigned", "nats_msgs_per_s"} <= summary.keys()
    assert summary["cameras"] == 100
    assert summary["double_assigned"] == 0
    assert summary["nats_msgs_per_s"] > 0
