"""Tracker micro-benchmark: ``ByteTracker.update`` with 50 moving objects against a naive tracker.

The scene: N objects (default 50) move in straight lines across a 1280x720 frame with a little box noise;
each detection is dropped with probability ``--drop`` (short occlusions) and objects cross each other's
paths. Both trackers see the same frames, one run after the other, in the same process:

- ``ByteTracker`` (watchkeeper.analyzers.track): batched numpy Kalman filter + two-stage IoU association.
- the baseline: a naive tracker as often written first, pure-Python pairwise IoU against each track's last
  box, greedy matching, no motion model.

Printed: per-update time (p50, p95, mean, milliseconds) and identity switches (a ground-truth object seen
under more than one id, counted per extra id) for both, and as the LAST line one JSON object::

    {"objects": 50, "frames": ..., "update_ms_p50": ..., "update_ms_p95": ..., "baseline_update_ms_p50": ...,
     "baseline_update_ms_p95": ..., "id_switches": ..., "baseline_id_switches": ...}

Run ``python benchmarks/tracker.py --help``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from watchkeeper.analyzers.track import ByteTracker
from watchkeeper.domain.detections import Detections

STEP = 0.2


@dataclass(frozen=True, slots=True)
class Scene:
    """Frames of detections and, per frame, the ground-truth object index of every row."""

    frames: list[Detections]
    truth: list[np.ndarray]


def make_scene(objects: int, frames: int, drop: float, seed: int) -> Scene:
    rng = np.random.default_rng(seed)
    start = rng.uniform([50, 50], [1230, 670], size=(objects, 2))
    velocity = rng.uniform(-15, 15, size=(objects, 2))
    size = rng.uniform([20, 40], [60, 120], size=(objects, 2))
    out, truth = [], []
    for frame in range(frames):
        centre = start + velocity * frame
        centre = np.abs(np.mod(centre, 2 * np.array([1280, 720])) - np.array([1280, 720]))  # bounce
        keep = rng.random(objects) >= drop
        noisy = centre[keep] + rng.normal(0, 1.0, size=(int(keep.sum()), 2))
        half = size[keep] / 2
        out.append(
            Detections(
                xyxy=np.hstack([noisy - half, noisy + half]),
                confidence=rng.uniform(0.55, 0.95, size=int(keep.sum())),
                class_id=np.zeros(int(keep.sum()), dtype=np.int32),
            )
        )
        truth.append(np.flatnonzero(keep))
    return Scene(out, truth)


class NaiveTracker:
    """Pure-Python greedy IoU on last boxes: the baseline."""

    def __init__(self, max_missed: int = 15) -> None:
        self._boxes: dict[int, list[float]] = {}
        self._missed: dict[int, int] = {}
        self._next = 1
        self._max_missed = max_missed

    def update(self, dets: Detections, at: float) -> Detections:
        del at
        assigned = []
        used: set[int] = set()
        for box in dets.xyxy.tolist():
            best, best_iou = 0, 0.3
            for track, last in self._boxes.items():
                if track not in used and (value := _iou(box, last)) > best_iou:
                    best, best_iou = track, value
            if best == 0:
                best, self._next = self._next, self._next + 1
            used.add(best)
            self._boxes[best] = box
            self._missed[best] = 0
            assigned.append(best)
        for track in list(self._boxes):
            if track not in used:
                self._missed[track] += 1
                if self._missed[track] > self._max_missed:
                    del self._boxes[track], self._missed[track]
        return dets.with_tracker_id(np.asarray(assigned, dtype=np.int64))


def _iou(a: list[float], b: list[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def measure(update: Callable[[Detections, float], Detections], scene: Scene) -> tuple[np.ndarray, int]:
    times = []
    ids: dict[int, set[int]] = {}
    for index, (dets, truth) in enumerate(zip(scene.frames, scene.truth, strict=True)):
        begin = time.perf_counter()
        out = update(dets, index * STEP)
        times.append(time.perf_counter() - begin)
        if out.tracker_id is None:
            continue
        # Map output rows back to input rows by their (unchanged) boxes.
        rows = {tuple(box): position for position, box in enumerate(dets.xyxy.tolist())}
        for box, track in zip(out.xyxy.tolist(), out.tracker_id.tolist(), strict=True):
            ids.setdefault(int(truth[rows[tuple(box)]]), set()).add(track)
    switches = sum(len(tracks) - 1 for tracks in ids.values())
    return np.asarray(times) * 1000, switches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--drop", type=float, default=0.05, help="probability a detection is missing")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    scene = make_scene(args.objects, args.frames, args.drop, args.seed)
    tracker_ms, tracker_switches = measure(ByteTracker().update, scene)
    naive_ms, naive_switches = measure(NaiveTracker().update, scene)
    for name, ms, switches in (
        ("ByteTracker", tracker_ms, tracker_switches),
        ("naive", naive_ms, naive_switches),
    ):
        print(
            f"{name:12s} p50 {np.percentile(ms, 50):7.3f} ms  p95 {np.percentile(ms, 95):7.3f} ms  "
            f"mean {ms.mean():7.3f} ms  id switches {switches}"
        )
    result = {
        "objects": args.objects,
        "frames": args.frames,
        "update_ms_p50": round(float(np.percentile(tracker_ms, 50)), 3),
        "update_ms_p95": round(float(np.percentile(tracker_ms, 95)), 3),
        "baseline_update_ms_p50": round(float(np.percentile(naive_ms, 50)), 3),
        "baseline_update_ms_p95": round(float(np.percentile(naive_ms, 95)), 3),
        "id_switches": tracker_switches,
        "baseline_id_switches": naive_switches,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
