"""Smoke test of ``benchmarks/live_webrtc.py --quick``: it runs, both WebRTC codecs produce media, and it ends
with the promised JSON (figures are not asserted: they depend on the machine)."""

from __future__ import annotations

from tests.benchmarks.support import run_benchmark


def test_live_webrtc_benchmark_quick_run() -> None:
    result = run_benchmark("live_webrtc.py", "--quick")
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
