"""Per-viewer encode cost of the WebRTC live view beside the MSE path, on the same frames in the same run.

Synthetic 640x360 RGB frames (``benchmarks/live_stream.py``: a moving gradient with noise) go through:

* ``webrtc_h264_ms``: one WebRTC viewer's work per frame when H.264 is negotiated: the frame turned into
  an ``av.VideoFrame`` as ``RedactedVideoTrack.recv`` does, then aiortc's H.264 encoder and RTP
  packetisation (what runs in aiortc's worker thread for each peer);
* ``webrtc_vp8_ms``: the same with VP8 (browsers that offer no H.264);
* ``mse_ms`` (baseline): one MSE viewer's ``Fmp4LiveEncoder`` (libx264 ultrafast/zerolatency).

Figures are per frame: ``*_ms`` the median wall time, ``*_cpu_ms`` the mean CPU time of the process (all
threads: x264 may use several); at the rendition's 5 fps, ``cpu_ms * 5 / 1000`` is a viewer's share of a
core. ``*_kb`` is the mean payload per frame. Last line, JSON: {"frames", "size", "webrtc_h264_ms",
"webrtc_vp8_ms", "mse_ms", "webrtc_h264_cpu_ms", "webrtc_vp8_cpu_ms", "mse_cpu_ms", "webrtc_h264_kb",
"webrtc_vp8_kb", "mse_kb"}

Usage: python benchmarks/live_webrtc.py [--frames 300] [--quick]
"""

from __future__ import annotations

import argparse
import fractions
import json
import time
from collections.abc import Callable
from datetime import timedelta

import av
import numpy as np
from aiortc import RTCRtpSender
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from numpy.typing import NDArray

from benchmarks.live_stream import HEIGHT, T0, WIDTH, frames, per_frame_ms
from watchkeeper.privacy.live_encode import Fmp4LiveEncoder
from watchkeeper.privacy.live_feed import LiveFrame
from watchkeeper.privacy.live_rtc import VIDEO_CLOCK_HZ

FPS = 5


def rtc_viewer(mime: str, pictures: list[NDArray[np.uint8]]) -> tuple[Callable[[int], object], list[int]]:
    """Per-frame work of one WebRTC viewer sending ``mime``, and the list its payload sizes go into."""
    codec = next(c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == mime)
    encoder = get_encoder(
        RTCRtpCodecParameters(
            mimeType=codec.mimeType, clockRate=codec.clockRate, payloadType=96, parameters=codec.parameters
        )
    )
    sizes: list[int] = []
    base = fractions.Fraction(1, VIDEO_CLOCK_HZ)

    def work(index: int) -> None:
        frame = av.VideoFrame.from_ndarray(pictures[index], format="rgb24")
        frame.pts = index * VIDEO_CLOCK_HZ // FPS
        frame.time_base = base
        payloads, _ = encoder.encode(frame, force_keyframe=index == 0)
        sizes.append(sum(len(p) for p in payloads))

    return work, sizes


def timed(work: Callable[[int], object], count: int) -> tuple[float, float]:
    """Median wall milliseconds of ``work`` per frame, and its mean CPU milliseconds (all threads)."""
    start = time.process_time()
    wall = per_frame_ms(work, count)
    return wall, (time.process_time() - start) * 1000 / count


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="Frames per measurement (default 300).")
    parser.add_argument("--quick", action="store_true", help="30 frames: a smoke run.")
    args = parser.parse_args()
    count = 30 if args.quick else args.frames
    pictures = frames(count)
    at = [T0 + timedelta(milliseconds=1000 // FPS * i) for i in range(count)]
    h264, h264_sizes = rtc_viewer("video/H264", pictures)
    h264_ms, h264_cpu = timed(h264, count)
    vp8, vp8_sizes = rtc_viewer("video/VP8", pictures)
    vp8_ms, vp8_cpu = timed(vp8, count)
    fmp4 = Fmp4LiveEncoder()
    mse_sizes: list[int] = []
    mse_ms, mse_cpu = timed(
        lambda i: mse_sizes.append(len(fmp4.encode(LiveFrame(pictures[i], at[i], i)))), count
    )
    fmp4.close()
    result = {
        "frames": count,
        "size": f"{WIDTH}x{HEIGHT}",
        "webrtc_h264_ms": round(h264_ms, 2),
        "webrtc_vp8_ms": round(vp8_ms, 2),
        "mse_ms": round(mse_ms, 2),
        "webrtc_h264_cpu_ms": round(h264_cpu, 2),
        "webrtc_vp8_cpu_ms": round(vp8_cpu, 2),
        "mse_cpu_ms": round(mse_cpu, 2),
        "webrtc_h264_kb": round(sum(h264_sizes) / count / 1024, 1),
        "webrtc_vp8_kb": round(sum(vp8_sizes) / count / 1024, 1),
        "mse_kb": round(sum(mse_sizes) / count / 1024, 1),
    }
    print(f"{'viewer':<26}{'wall/frame':>12}{'CPU/frame':>12}{'payload':>12}")
    rows = (
        ("WebRTC, H.264 (aiortc)", h264_ms, h264_cpu, result["webrtc_h264_kb"]),
        ("WebRTC, VP8 (aiortc)", vp8_ms, vp8_cpu, result["webrtc_vp8_kb"]),
        ("MSE, fMP4 (baseline)", mse_ms, mse_cpu, result["mse_kb"]),
    )
    for name, wall, cpu, kib in rows:
        print(f"{name:<26}{wall:>9.2f} ms{cpu:>9.2f} ms{kib:>8} KiB")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
