"""Cost of live viewing: the camera thread's share (publish) and each viewer's encoder, beside the rendition.

Synthetic 640x360 RGB frames (a moving gradient with noise, so x264 has real work) are pushed through:

* ``publish_us_0`` / ``publish_us_16``: ``LiveFeed.publish`` with no viewer and with 16 viewers that never
  read (the worst slow viewers): microseconds of the camera thread per frame. It must not grow with slow
  viewers, which only drop frames (``dropped`` counts them);
* ``fmp4_ms``: one MSE viewer's ``Fmp4LiveEncoder`` (libx264 ultrafast/zerolatency, one fragment a frame);
* ``jpeg_ms``: one MJPEG viewer's ``JpegEncoder``;
* ``rendition_ms`` (baseline): the protected rendition's own ``SegmentEncoder`` (libx264 into fMP4 segment
  files), which every camera pays with or without viewers.

Figures are per frame, median of the run; the rendition runs at 5 fps, so ``fmp4_ms * 5 / 1000`` is a
viewer's share of a core. Last line, JSON: {"frames": ..., "publish_us_0": ..., "publish_us_16": ...,
"dropped_16": ..., "fmp4_ms": ..., "jpeg_ms": ..., "rendition_ms": ...}

Usage: python benchmarks/live_stream.py [--frames 300] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from watchkeeper.domain import CameraId
from watchkeeper.privacy.encoder import EncoderSettings, SegmentEncoder
from watchkeeper.privacy.live_encode import Fmp4LiveEncoder, JpegEncoder
from watchkeeper.privacy.live_feed import LiveFeed, LiveFrame

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CAM = CameraId("bench")
WIDTH, HEIGHT = 640, 360


def frames(count: int) -> list[NDArray[np.uint8]]:
    """``count`` frames of a gradient moving 4 px a frame, with light noise."""
    rng = np.random.default_rng(1)
    x = np.arange(WIDTH, dtype=np.int32)
    out = []
    for index in range(count):
        row = ((x + 4 * index) % 256).astype(np.uint8)
        frame = np.broadcast_to(row[None, :, None], (HEIGHT, WIDTH, 3)).copy()
        frame += rng.integers(0, 8, size=frame.shape, dtype=np.uint8)
        out.append(frame)
    return out


def per_frame_ms(work: Callable[[int], object], count: int) -> float:
    """Median milliseconds of ``work(index)`` over ``count`` calls."""
    times = []
    for index in range(count):
        start = time.perf_counter()
        work(index)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def publish_us(pictures: list[NDArray[np.uint8]], viewers: int) -> tuple[float, int]:
    """Median publish time (µs) with ``viewers`` viewers that never read, and the frames they dropped."""

    async def run() -> tuple[float, int]:
        feed = LiveFeed(max_viewers=max(1, viewers))
        subs = [feed.subscribe(CAM) for _ in range(viewers)]
        at = [T0 + timedelta(milliseconds=200 * i) for i in range(len(pictures))]
        median = per_frame_ms(lambda i: feed.publish(CAM, pictures[i], at[i]), len(pictures)) * 1000
        dropped = sum(sub.dropped for sub in subs)
        for sub in subs:
            sub.close()
        return median, dropped

    return asyncio.run(run())


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="Frames per measurement (default 300).")
    parser.add_argument("--quick", action="store_true", help="30 frames: a smoke run.")
    args = parser.parse_args()
    count = 30 if args.quick else args.frames
    pictures = frames(count)
    at = [T0 + timedelta(milliseconds=200 * i) for i in range(count)]
    publish_0, _ = publish_us(pictures, 0)
    publish_16, dropped_16 = publish_us(pictures, 16)
    fmp4 = Fmp4LiveEncoder()
    fmp4_ms = per_frame_ms(lambda i: fmp4.encode(LiveFrame(pictures[i], at[i], i)), count)
    fmp4.close()
    jpeg = JpegEncoder()
    jpeg_ms = per_frame_ms(lambda i: jpeg.encode(pictures[i]), count)
    with tempfile.TemporaryDirectory() as folder:
        rendition = SegmentEncoder(EncoderSettings(Path(folder), CAM, segment_seconds=10.0, fps=5.0))
        rendition_ms = per_frame_ms(lambda i: rendition.write(pictures[i], at[i]), count)
        rendition.finish()
    result = {
        "frames": count,
        "size": f"{WIDTH}x{HEIGHT}",
        "publish_us_0": round(publish_0, 2),
        "publish_us_16": round(publish_16, 2),
        "dropped_16": dropped_16,
        "fmp4_ms": round(fmp4_ms, 2),
        "jpeg_ms": round(jpeg_ms, 2),
        "rendition_ms": round(rendition_ms, 2),
    }
    print(f"{'stage':<28}{'per frame':>12}")
    print(f"{'publish, no viewer':<28}{publish_0:>9.2f} µs")
    print(f"{'publish, 16 slow viewers':<28}{publish_16:>9.2f} µs  ({dropped_16} frames dropped by them)")
    print(f"{'MSE viewer (fMP4 encode)':<28}{fmp4_ms:>9.2f} ms")
    print(f"{'MJPEG viewer (JPEG encode)':<28}{jpeg_ms:>9.2f} ms")
    print(f"{'rendition encoder (baseline)':<28}{rendition_ms:>9.2f} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
