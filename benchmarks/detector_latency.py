"""Detector latency on vtest.avi: ms per frame (preprocess, inference, decode, NMS) at 1 and 2 threads.

Prints one line per thread count and as its last line JSON:
  {"model": "nanodet.onnx", "frame": "768x576", "threads": {"1": {"p50_ms": ..., "p95_ms": ...}, "2": {...}}}
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import av
import numpy as np

from watchkeeper.analyzers.detect import build_detector
from watchkeeper.config.detectors import DetectorConfig

ROOT = Path(__file__).resolve().parents[1]
VTEST = ROOT / "var" / "cache" / "footage" / "vtest.avi"
FRAMES = 60


def main() -> None:
    frames = []
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 10 == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == FRAMES:
                break
    result = {
        "model": "nanodet.onnx",
        "frame": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "cpus": os.cpu_count(),
    }
    by_threads = {}
    for threads in (1, 2):
        detector = build_detector(DetectorConfig(threads=threads))
        for frame in frames[:5]:
            detector.detect(frame)
        times = []
        for frame in frames:
            start = time.perf_counter()
            detector.detect(frame)
            times.append((time.perf_counter() - start) * 1000)
        figures = {
            "p50_ms": round(float(np.percentile(times, 50)), 1),
            "p95_ms": round(float(np.percentile(times, 95)), 1),
        }
        by_threads[str(threads)] = figures
        print(f"threads={threads}: {figures}")
    # Other work on the machine skews these figures: the 1-minute load average is printed with them.
    print(json.dumps({**result, "threads": by_threads, "loadavg_1m": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
