"""Smoke test of ``benchmarks/live_stream.py --quick``: it runs and ends with the promised JSON.

Figures are not asserted (they depend on the machine) except what is not a timing: every frame offered to
the 16 viewers that never read was dropped but the newest, so the camera never waited for them.
"""

from __future__ import annotations

from tests.benchmarks.support import run_benchmark


def test_live_stream_benchmark_quick_run() -> None:
    result = run_benchmark("live_stream.py", "--quick")
    assert set(result) == {
        "frames",
        "size",
        "publish_us_0",
        "publish_us_16",
        "dropped_16",
        "fmp4_ms",
        "jpeg_ms",
        "rendition_ms",
    }
    assert result["dropped_16"] == 16 * (result["frames"] - 1)
