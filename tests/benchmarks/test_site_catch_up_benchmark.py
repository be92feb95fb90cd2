"""Smoke test of ``benchmarks/site_catch_up.py --quick``: every message sourced once, JSON at the end."""

from __future__ import annotations

from tests.benchmarks.support import run_benchmark
from tests.support.nats_sites import require_nats_server


def test_quick_run_catches_every_message_up_once_and_prints_the_summary_json() -> None:
    require_nats_server()
    summary = run_benchmark("site_catch_up.py", "--quick")
    assert summary["messages"] == 2000
    assert summary["duplicates"] == 0
    assert summary["catch_up_s"] >= summary["reconnect_s"] >= 0
    assert summary["direct_msgs_per_s"] > 0
