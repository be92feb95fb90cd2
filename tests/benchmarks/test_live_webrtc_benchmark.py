"""Smoke test of ``benchmarks/live_webrtc.py --quick``: it runs, both WebRTC codecs produce media, and it ends
with the promised JSON (figures are not asserted: they depend on the machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "live_webrtc.py"


def test_live_webrtc_benchmark_quick_run() -> None:
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
        "webrtc_h264_ms",
        "webrtc_vp8_ms",
        "mse_ms",
        "webrtc_h264_cpu_ms",
        "webrtc_vp8_cpu_ms",
        "mse_cpu_ms",
        "webrtc_h264_kb",
        "webrtc_vp8_kb",
        "mse_kb",
    }
    assert result["frames"] == 30
    assert min(result["webrtc_h264_kb"], result["webrtc_vp8_kb"], result["mse_kb"]) > 0
