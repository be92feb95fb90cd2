"""Smoke test of ``benchmarks/cluster_leases.py --quick``: it runs and ends with the promised JSON."""

from __future__ import annotations

from tests.benchmarks.support import run_benchmark
from tests.cluster.lease_support import NATS_HOST, NATS_PORT
from tests.support.services import require_service


def test_quick_run_prints_the_summary_json() -> None:
    require_service("NATS", NATS_HOST, NATS_PORT)
    summary = run_benchmark("cluster_leases.py", "--quick")
    assert summary["cameras"] == 8
    assert summary["double_assigned"] == 0
    assert summary["takeover_s_max"] >= summary["takeover_s_p50"] > 0
