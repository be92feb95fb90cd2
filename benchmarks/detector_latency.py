"""Detector latency on vtest.avi: ms per frame (preprocess, inference, decode, NMS), FP32 vs INT8.

The built-in NanoDet in both precisions (``detection.detector.precision``), measured in alternating rounds
(fp32 1 thread, int8 1 thread, fp32 2 threads, int8 2 threads, and again) so that other work on a shared
machine hits both alike. Wall milliseconds and process CPU milliseconds per frame.

Prints one line per model and thread count and as its last line JSON:
  {"frame": "768x576", "cpus": 2, "rounds": 3, "loadavg_1m": {"before": ..., "after": ...},
   "fp32": {"1": {"p50_ms": ..., "p95_ms": ..., "cpu_p50_ms": ...}, "2": {...}}, "int8": {...}}

Usage: python benchmarks/detector_latency.py [--rounds 3] [--precision fp32,int8]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import av
import numpy as np

from watchkeeper.analyzers.detect import Detector, build_detector
from watchkeeper.config.detectors import DetectorConfig

ROOT = Path(__file__).resolve().parents[1]
VTEST = ROOT / "var" / "cache" / "footage" / "vtest.avi"
FRAMES = 60


def load_frames() -> list[np.ndarray]:
    frames = []
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 10 == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == FRAMES:
                break
    return frames


def measure(detector: Detector, frames: list[np.ndarray]) -> tuple[list[float], list[float]]:
    """Wall and process-CPU milliseconds of each ``detect`` call."""
    wall, cpu = [], []
    for frame in frames:
        start, start_cpu = time.perf_counter(), time.process_time()
        detector.detect(frame)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of 60 frames per model")
    parser.add_argument("--precision", default="fp32,int8", help="comma-separated precisions to measure")
    args = parser.parse_args()
    frames = load_frames()
    precisions = args.precision.split(",")
    detectors = {
        (precision, threads): build_detector(DetectorConfig(precision=precision, threads=threads))
        for threads in (1, 2)
        for precision in precisions
    }
    for detector in detectors.values():
        for frame in frames[:5]:
            detector.detect(frame)
    before = os.getloadavg()[0]
    times: dict[tuple[str, int], tuple[list[float], list[float]]] = {key: ([], []) for key in detectors}
    for _ in range(args.rounds):
        for key, detector in detectors.items():
            wall, cpu = measure(detector, frames)
            times[key][0].extend(wall)
            times[key][1].extend(cpu)
    result: dict[str, object] = {
        "frame": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
    }
    for (precision, threads), (wall, cpu) in times.items():
        figures = {
            "p50_ms": round(float(np.percentile(wall, 50)), 1),
            "p95_ms": round(float(np.percentile(wall, 95)), 1),
            "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 1),
        }
        per_model = result.setdefault(precision, {})
        assert isinstance(per_model, dict)
        per_model[str(threads)] = figures
        print(f"{precision} threads={threads}: {figures}")
    # Other work on the machine skews these figures: the 1-minute load average is printed with them.
    result["loadavg_1m"] = {"before": round(before, 2), "after": round(os.getloadavg()[0], 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
