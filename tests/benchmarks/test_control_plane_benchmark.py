"""Smoke test of ``benchmarks/control_plane.py --quick``: it runs and ends with the promised JSON."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.benchmarks.support import run_benchmark
from tests.support.services import services_required


def test_quick_run_prints_the_summary_json() -> None:
    if shutil.which("nats-server") is None and not Path("/usr/sbin/nats-server").exists():
        message = "nats-server is not installed (Debian: apt-get install nats-server)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    summary = run_benchmark("control_plane.py", "--quick", timeout_s=300)
    assert {"cameras", "workers", "reassign_s_p95", "double_assigned", "nats_msgs_per_s"} <= summary.keys()
    assert summary["cameras"] == 100
    assert summary["double_assigned"] == 0
    assert summary["nats_msgs_per_s"] > 0
