"""Smoke test of ``benchmarks/live_stream.py --quick``: it runs and ends with the promised JSON.

Figures are not asserted (they depend on the machine) except what is not a timing: every frame offered to
the 16 viewers that never read was dropped but the newest, so the camera never waited for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "live_stream.py"


def test_live_stream_benchmark_quick_run() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
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
