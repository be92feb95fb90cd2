"""Smoke test of ``benchmarks/outbox_catch_up.py --quick``: it replays every row and ends with the JSON."""

from __future__ import annotations

from tests.benchmarks.support import run_benchmark
from tests.storage.pg import PG_HOST, PG_PORT
from tests.support.services import require_service


def test_quick_run_replays_every_row_and_prints_the_summary_json() -> None:
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    summary = run_benchmark("outbox_catch_up.py", "--quick")
    assert summary["backend"] == "postgresql"
    assert summary["rows"] == 200
    assert summary["replay_rows_per_s"] > 0
    assert summary["direct_rows_per_s"] > 0
