"""Pipeline benchmark: N cameras recorded and analysed at once, motion-gated vs detector on every frame.

Each simulated camera has a 1080p15 main stream (recorded: remuxed into segments) and a 640x360 15 fps
substream (analysed: decoded at 5 fps -> motion -> regions -> shared NanoDet -> tracker -> zone rule ->
events). The footage (``watchkeeper.simulator``) has activity (a walker) in about 10 % of its frames. The
simulated cameras run in a child process so their CPU is not counted; Watchkeeper's CPU is this process's
CPU time (all threads) over the measured window.

The run is done twice with the same cameras: motion gating on (the default pipeline), then off (the detector
on every analysed frame: the baseline). Prints a table and, as the LAST line, JSON:

  {"cameras": N, "cpu_percent": ..., "detector_ms_p50": ..., "detector_ms_p95": ..., "frame_to_event_ms_p95":
   ..., "dropped_frames_percent": ..., "dropped_segments": ..., "seconds": T, "baseline": {same keys}}

``cpu_percent`` is of the whole machine's cores x 100 (200 on 2 cores). ``dropped_frames_percent`` is the
share of frames queued for the detector that were dropped (oldest first) because it was busy.
``frame_to_event_ms_p95`` is from a frame's arrival to the object/zone event change it caused (``null`` when
the detector raised none: NanoDet does not see the simulator's synthetic walker as a person or any other
COCO class, so on this footage it measures cost, not detection; see docs/benchmarks.md).
``dropped_segments`` counts holes between consecutive recorded segments of a camera (> 1 s).

Usage: python benchmarks/pipeline.py [--cameras 16] [--seconds 60] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from watchkeeper.analyzers.detect import build_detector
from watchkeeper.analyzers.scheduler import DetectorService, SchedulerSettings
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.domain import Segment
from watchkeeper.events.motion import EventChange
from watchkeeper.privacy import PersonBlur
from watchkeeper.runtime.camera_worker import CameraWorker, WorkerCallbacks, WorkerSettings
from watchkeeper.runtime.objects import AnalysisServices
from watchkeeper.simulator import FootageSpec, RtspServer, generate_clip

SEGMENT_S = 10
WARMUP_S = 8.0


def serve(cameras: int, loop_s: float, ready: Any, stop: Any) -> None:
    """Child process: serve /mainK (1080p15) and /subK (640x360 15 fps), activity in ~10 % of frames."""
    window = {
        "motion_start": 0.45,
        "motion_end": 0.55,
        "duration_s": loop_s,
        "fps": 15,
        "keyframe_interval": 30,
    }
    main = generate_clip(FootageSpec(width=1920, height=1080, crf=30, **window))  # type: ignore[arg-type]
    sub = generate_clip(FootageSpec(width=640, height=360, crf=28, **window))  # type: ignore[arg-type]
    clips = {f"/main{i}": main for i in range(1, cameras + 1)} | {
        f"/sub{i}": sub for i in range(1, cameras + 1)
    }
    with RtspServer(clips, host="127.0.0.1", port=0) as server:
        ready.put(server.port)
        stop.wait()


def camera(index: int, port: int) -> CameraConfig:
    base = f"rtsp://127.0.0.1:{port}"
    return CameraConfig.model_validate(
        {
            "id": f"cam{index}",
            "name": f"Camera {index}",
            "site": "bench",
            "inputs": [
                {"url": f"{base}/main{index}", "roles": ["record"]},
                {"url": f"{base}/sub{index}", "roles": ["detect"]},
            ],
            "zones": [{"name": "all", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
            "rules": [{"name": "object-enters", "type": "enter", "zone": "all"}],
        }
    )


class Probe:
    """Collects segments, event latencies and counts from every worker thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.segments: dict[str, list[Segment]] = {}
        self.latencies: list[float] = []
        self.events = 0

    def callbacks(self) -> WorkerCallbacks:
        def on_segment(segment: Segment) -> None:
            with self.lock:
                self.segments.setdefault(segment.camera_id, []).append(segment)

        def on_event(change: EventChange) -> None:
            with self.lock:
                self.events += 1

        return WorkerCallbacks(on_status=lambda status: None, on_segment=on_segment, on_event=on_event)

    def latency(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def holes(self, cameras: int) -> int:
        count = 0
        with self.lock:
            for index in range(1, cameras + 1):
                segments = sorted(self.segments.get(f"cam{index}", []), key=lambda s: s.start)
                if not segments:
                    count += 1
                count += sum((b.start - a.end).total_seconds() > 1.0 for a, b in itertools.pairwise(segments))
        return count


def run(args: argparse.Namespace, port: int, gating: bool) -> dict[str, Any]:
    detection = DetectionConfig.model_validate(
        {"fps": 5, "width": 640, "objects": {"motion_gating": gating}, "detector": {"threads": args.threads}}
    )
    service = DetectorService(build_detector(detection.detector), SchedulerSettings(queue_depth=2))
    probe = Probe()
    services = AnalysisServices(service, PersonBlur(), on_latency=probe.latency)
    recording = RecordingConfig(segment_seconds=SEGMENT_S)
    media = Path(tempfile.mkdtemp(prefix="wk-pipeline-"))
    workers = [
        CameraWorker(
            WorkerSettings(camera(i, port), recording, detection, media, analysis=services), probe.callbacks()
        )
        for i in range(1, args.cameras + 1)
    ]
    service.start()
    for worker in workers:
        worker.start()
    time.sleep(WARMUP_S)
    before = service.stats()
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(args.seconds)
    cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
    after = service.stats()
    for worker in workers:
        worker.stop()
    service.stop()
    submitted = after.submitted - before.submitted
    dropped = after.dropped - before.dropped
    times = np.array(after.detector_ms[-max(1, after.completed - before.completed) :] or [0.0])
    latencies = np.array(probe.latencies) * 1000.0
    return {
        "cameras": args.cameras,
        "cpu_percent": round(100.0 * cpu_s / wall_s, 1),
        "detector_ms_p50": round(float(np.percentile(times, 50)), 1),
        "detector_ms_p95": round(float(np.percentile(times, 95)), 1),
        "frame_to_event_ms_p95": round(float(np.percentile(latencies, 95)), 1) if len(latencies) else None,
        "dropped_frames_percent": round(100.0 * dropped / submitted, 2) if submitted else 0.0,
        "dropped_segments": probe.holes(args.cameras),
        "seconds": args.seconds,
        "detector_runs_per_s": round((after.completed - before.completed) / wall_s, 2),
        "events": probe.events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--loop-seconds", type=float, default=20.0, help="length of the served clip")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: one per core)")
    parser.add_argument("--skip-baseline", action="store_true", help="only the motion-gated run")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    child = context.Process(target=serve, args=(args.cameras, args.loop_seconds, ready, stop), daemon=True)
    child.start()
    try:
        port = ready.get(timeout=600)
        gated = run(args, port, gating=True)
        baseline = None if args.skip_baseline else run(args, port, gating=False)
    finally:
        stop.set()
        child.join(10)
    cores = os.cpu_count() or 1
    print(
        f"{args.cameras} cameras, {args.seconds:g} s measured, {cores} cores (cpu_percent of {cores * 100})"
    )
    for name, result in (("motion-gated", gated), ("every frame (baseline)", baseline)):
        if result is not None:
            print(f"{name:24s} {json.dumps(result)}")
    print(json.dumps(gated | ({"baseline": baseline} if baseline else {})))


if __name__ == "__main__":
    main()
