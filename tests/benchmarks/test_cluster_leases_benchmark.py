"""Smoke test of ``benchmarks/cluster_leases.py --quick``: it runs and ends with the promised JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cluster.lease_support import NATS_HOST, NATS_PORT
from tests.support.services import require_service

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "cluster_leases.py"


def test_quick_run_prints_the_summary_json() -> None:
    require_service("NATS", NATS_HOST, NATS_PORT)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["cameras"] == 8
    assert summary["double_assigned"] == 0
    assert summary["takeover_s_max"] >= summary["takeover_s_p50"] > 0
