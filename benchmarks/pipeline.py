"""Pipeline benchmark: N cameras recorded and analysed at once, motion-gated vs detector on every frame.

Footage: real people (the plaza of Debian's ``vtest.avi``, see ``plaza_footage.py``), in a 60 s loop that
shows the empty plaza for 54 s and people crossing it for 6 s (activity in 10 % of the frames). Each simulated
camera has a 1920x1080 15 fps main stream (recorded: remuxed into segments) and a 640x360 15 fps substream
(analysed: decoded at 5 fps -> motion -> regions -> shared NanoDet -> tracker -> an ``enter`` rule on the
plaza zone, people only -> events). Every camera's substream loop starts at a different point, so the
cameras' activity is spread over the run instead of coinciding. The simulated cameras run in a child process
so their CPU is not counted. Workers report through the production callbacks (SQLite index, event table,
local bus); Watchkeeper's CPU is this process's CPU time (all threads) over the measured window.

The run is done twice with the same cameras: motion gating on (the default pipeline), then off (the detector
on every analysed frame: the baseline). Prints a table and, as the LAST line, JSON:

  {"cameras": N, "cpu_percent": ..., "detector_ms_p50": ..., "detector_ms_p95": ..., "frame_to_event_ms_p95":
   ..., "dropped_frames_percent": ..., "dropped_segments": ..., "seconds": T, "baseline": {same keys}}

- ``cpu_percent``: of the whole machine, cores x 100 (200 on 2 cores).
- ``frame_to_event_ms_p95``: from the simulator sending the frame an object/zone event starts on (see
  ``frame_clock.py``) to that event's ``started`` message arriving on the bus (after the event row is
  written). The frame an ``enter`` event starts on is the first frame on which a *confirmed* track is inside
  the zone; ``appearance_to_event_ms`` (printed above the last line) counts instead from the first frame of
  each activity window (people appear) to the first event of that window on that camera.
- ``dropped_frames_percent``: share of the frames queued for the detector that were dropped (oldest first)
  because it was busy.
- ``dropped_segments``: holes > 1 s between consecutive recorded segments of a camera (+1 per camera with
  none).
- ``cpu_percent_by_stage`` (in the details line): the same CPU split by the thread that spent it, from
  ``/proc/self/task``: record inputs (demux + remux), detect inputs (demux, decode, motion, frame
  conversion), the detector thread (ONNX Runtime, tracker, rules, snapshots), native threads, the rest.

``--precision fp32|int8`` picks the build of the built-in NanoDet (``detection.detector.precision``; default:
the configured default).

Usage: python benchmarks/pipeline.py [--cameras 16] [--seconds 60] [--skip-baseline] [--precision int8]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from frame_clock import FrameClock
from plaza_footage import CACHE, PLAZA_ZONE, ActivityFootage, activity_footage

from watchkeeper.analyzers.detect import build_detector
from watchkeeper.analyzers.scheduler import DetectorService, SchedulerSettings
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import EventMessage
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.detectors import DetectorConfig
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.domain import Camera, CameraId, Segment, Site, SiteId
from watchkeeper.privacy import PersonBlur
from watchkeeper.runtime.camera_worker import CameraWorker, WorkerCallbacks, WorkerSettings
from watchkeeper.runtime.objects import AnalysisServices
from watchkeeper.runtime.wiring import ThreadBridge, worker_callbacks
from watchkeeper.simulator import FootageSpec, RtspServer, clip_from_file
from watchkeeper.storage.factory import open_store

SEGMENT_S = 10
WARMUP_S = 8.0
FPS = 15


def offsets(cameras: int, footage: ActivityFootage, seconds: float) -> list[float]:
    """Loop start (s) per camera so that camera i's activity begins at a different time of the window."""
    loop_s = footage.frames / FPS
    active_at = footage.active_start / FPS
    span = min(seconds, loop_s) - 8.0
    return [(active_at - (WARMUP_S + 1.0 + i * span / max(1, cameras))) % loop_s for i in range(cameras)]


def serve(cameras: int, starts: list[float], queue: Any, stop: Any) -> None:
    """Child process: serve /mainK (1080p15) and /subK (640x360 15 fps) of the plaza activity loop."""
    footage = activity_footage(fps=FPS)
    loop_s = footage.frames / FPS
    main = clip_from_file(
        footage.path,
        FootageSpec(width=1920, height=1080, fps=FPS, duration_s=loop_s, keyframe_interval=30, crf=23),
        cache_dir=CACHE,
    )
    sub_spec = FootageSpec(width=640, height=360, fps=FPS, duration_s=loop_s, keyframe_interval=30, crf=26)
    clips = {f"/main{i}": main for i in range(1, cameras + 1)}
    for i, start in enumerate(starts, start=1):
        clips[f"/sub{i}"] = clip_from_file(footage.path, sub_spec, start_s=start, cache_dir=CACHE)
    bitrates = {
        name: sum(len(nal) for unit in clips[name].access_units for nal in unit.nals) * 8 / loop_s / 1e6
        for name in ("/main1", "/sub1")
    }
    with RtspServer(clips, host="127.0.0.1", port=0) as server:
        queue.put({"port": server.port, "mbit_s": bitrates})
        stop.wait()
        queue.put({"simulator_cpu_s": time.process_time()})


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
            "zones": [{"name": "plaza", "polygon": PLAZA_ZONE}],
            "rules": [
                {"name": "person-enters-plaza", "type": "enter", "zone": "plaza", "classes": ["person"]}
            ],
        }
    )


class Probe:
    """Segments (from the worker threads) and event arrivals (on the bus loop)."""

    def __init__(self, footage: ActivityFootage, starts: list[float]) -> None:
        self.lock = threading.Lock()
        self.footage = footage
        self.starts = starts
        self.segments: dict[str, list[Segment]] = {}
        self.clocks: dict[str, FrameClock] = {}
        self.latencies: list[float] = []
        self.appearance: dict[tuple[str, int], float] = {}
        self.events = 0
        self.unmatched = 0
        self.outside_activity = 0
        self.window: tuple[float, float] = (float("inf"), float("inf"))

    def callbacks(self, real: WorkerCallbacks) -> WorkerCallbacks:
        def on_segment(segment: Segment) -> None:
            real.on_segment(segment)
            with self.lock:
                self.segments.setdefault(segment.camera_id, []).append(segment)

        return WorkerCallbacks(on_status=real.on_status, on_segment=on_segment, on_event=real.on_event)

    def arrived(self, message: EventMessage, at: float) -> None:
        """An event message reached the bus subscriber at ``at`` (wall clock)."""
        if message.event_state != "started" or message.kind == "motion":
            return
        start = message.start.timestamp()
        if not self.window[0] <= start < self.window[1]:
            return
        self.events += 1
        camera_id = str(message.camera_id)
        sent = self.clocks[camera_id].frame(message.start)
        if sent is None:
            self.unmatched += 1
            return
        self.latencies.append(at - sent.sent)
        footage = self.footage
        offset = round(self.starts[int(camera_id.removeprefix("cam")) - 1] * FPS)
        position = (sent.index + offset) % footage.frames
        if position < footage.active_start:
            self.outside_activity += 1
            return
        appeared = sent.index - (position - footage.active_start)
        origin = sent.sent - sent.index / FPS
        self.appearance.setdefault((camera_id, appeared), at - (origin + appeared / FPS))

    def holes(self, cameras: int) -> int:
        count = 0
        with self.lock:
            for index in range(1, cameras + 1):
                segments = sorted(self.segments.get(f"cam{index}", []), key=lambda s: s.start)
                if not segments:
                    count += 1
                count += sum((b.start - a.end).total_seconds() > 1.0 for a, b in itertools.pairwise(segments))
        return count


async def listen(bus: LocalBus, probe: Probe) -> None:
    subscription = await bus.subscribe("wk.events.>")
    async for message in subscription:
        if isinstance(message, EventMessage):
            probe.arrived(message, time.time())


def open_index(folder: Path, cameras: int) -> Any:
    store = open_store(f"sqlite:///{folder / 'index.db'}")
    store.sites.upsert(Site(SiteId("bench"), "Benchmark"))
    for i in range(1, cameras + 1):
        store.cameras.upsert(Camera(CameraId(f"cam{i}"), f"Camera {i}", SiteId("bench")))
    return store


STAGES = {
    "0": "record input (demux + remux)",
    "1": "detect input (demux, decode, motion, frame conversion)",
}


def stage_of(name: str) -> str:
    """The pipeline stage a thread of this process works for, from its Python thread name."""
    if name.startswith("camera-"):
        return STAGES.get(name.rsplit("-", 1)[-1], "camera input")
    if name.startswith("detector-"):
        return "detector (ONNX Runtime, tracker, rules, snapshots)"
    if name == "native":
        return "native threads (ONNX Runtime pool, FFmpeg)"
    return "other (bus, SQLite writer, benchmark)"


def cpu_by_stage() -> dict[str, float]:
    """CPU seconds (user + system) of this process's live threads, summed per pipeline stage."""
    ticks = os.sysconf("SC_CLK_TCK")
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    totals: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        stage = stage_of(names.get(int(task.name), "native"))
        totals[stage] = totals.get(stage, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return totals


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.array(values) * 1000.0, q)), 1) if values else None


def run(args: argparse.Namespace, port: int, footage: ActivityFootage, gating: bool) -> dict[str, Any]:
    detector = {"threads": args.threads, "precision": args.precision}
    detection = DetectionConfig.model_validate(
        {"fps": 5, "width": 640, "objects": {"motion_gating": gating}, "detector": detector}
    )
    service = DetectorService(
        build_detector(detection.detector), SchedulerSettings(queue_depth=detection.objects.queue_depth)
    )
    folder = Path(tempfile.mkdtemp(prefix="wk-pipeline-"))
    store = open_index(folder, args.cameras)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="bus-loop", daemon=True).start()
    bus = LocalBus()
    asyncio.run_coroutine_threadsafe(bus.start(), loop).result()
    probe = Probe(footage, args.starts)
    listener = asyncio.run_coroutine_threadsafe(listen(bus, probe), loop)
    callbacks = probe.callbacks(worker_callbacks(store, ThreadBridge(loop, bus)))
    services = AnalysisServices(service, PersonBlur())
    recording = RecordingConfig(segment_seconds=SEGMENT_S)
    workers = []
    for i in range(1, args.cameras + 1):
        worker = CameraWorker(
            WorkerSettings(camera(i, port), recording, detection, folder / "media", analysis=services),
            callbacks,
        )
        clock = probe.clocks[f"cam{i}"] = FrameClock(FPS)
        worker._workers[1]._consumers.append(clock)  # the detect input: note each packet's pts and arrival
        workers.append(worker)
    service.start()
    for worker in workers:
        worker.start()
    time.sleep(WARMUP_S)
    before = service.stats()
    stages0 = cpu_by_stage()
    cpu0, wall0 = time.process_time(), time.monotonic()
    probe.window = (time.time(), float("inf"))
    time.sleep(args.seconds)
    probe.window = (probe.window[0], time.time())
    cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
    stages1 = cpu_by_stage()
    after = service.stats()
    time.sleep(2.0)  # events on frames of the window still in the pipeline
    for worker in workers:
        worker.stop()
    service.stop()
    listener.cancel()
    asyncio.run_coroutine_threadsafe(bus.close(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    store.close()
    submitted = after.submitted - before.submitted
    dropped = after.dropped - before.dropped
    times = list(after.detector_ms[-max(1, after.completed - before.completed) :] or [0.0])
    lags = [lag for clock in probe.clocks.values() for lag in clock.lags()]
    result = {
        "cameras": args.cameras,
        "precision": args.precision,
        "cpu_percent": round(100.0 * cpu_s / wall_s, 1),
        "detector_ms_p50": round(float(np.percentile(times, 50)), 1),
        "detector_ms_p95": round(float(np.percentile(times, 95)), 1),
        "frame_to_event_ms_p95": percentile(probe.latencies, 95),
        "dropped_frames_percent": round(100.0 * dropped / submitted, 2) if submitted else 0.0,
        "dropped_segments": probe.holes(args.cameras),
        "seconds": args.seconds,
    }
    details = {
        "frame_to_event_ms_p50": percentile(probe.latencies, 50),
        "appearance_to_event_ms_p50": percentile(list(probe.appearance.values()), 50),
        "appearance_to_event_ms_p95": percentile(list(probe.appearance.values()), 95),
        "activity_windows_with_event": len(probe.appearance),
        "object_events": probe.events,
        "events_outside_activity": probe.outside_activity,
        "events_unmatched": probe.unmatched,
        "receive_lag_ms_p50": percentile(lags, 50),
        "receive_lag_ms_p95": percentile(lags, 95),
        "detector_runs_per_s": round((after.completed - before.completed) / wall_s, 2),
        "cpu_percent_by_stage": {
            stage: round(100.0 * (stages1[stage] - stages0.get(stage, 0.0)) / wall_s, 1)
            for stage in sorted(stages1)
        },
    }
    return result | {"details": details}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: one per core)")
    parser.add_argument("--skip-baseline", action="store_true", help="only the motion-gated run")
    parser.add_argument("--precision", choices=["fp32", "int8"], default=DetectorConfig().precision)
    args = parser.parse_args()
    footage = activity_footage(fps=FPS)
    args.starts = offsets(args.cameras, footage, args.seconds)
    context = multiprocessing.get_context("spawn")
    queue, stop = context.Queue(), context.Event()
    child = context.Process(target=serve, args=(args.cameras, args.starts, queue, stop), daemon=True)
    load0 = Path("/proc/loadavg").read_text().split()[:3]
    child.start()
    try:
        served = queue.get(timeout=900)
        load1 = Path("/proc/loadavg").read_text().split()[:3]
        gated = run(args, served["port"], footage, gating=True)
        load2 = Path("/proc/loadavg").read_text().split()[:3]
        baseline = None if args.skip_baseline else run(args, served["port"], footage, gating=False)
        load3 = Path("/proc/loadavg").read_text().split()[:3]
    finally:
        stop.set()
        simulator = queue.get(timeout=30) if child.is_alive() else {}
        child.join(10)
    cores = os.cpu_count() or 1
    print(
        f"{args.cameras} cameras, {args.seconds:g} s measured, {cores} cores (cpu_percent of {cores * 100}); "
        f"activity in {footage.active_fraction:.0%} of frames; main/sub Mbit/s {served['mbit_s']}; "
        f"simulator CPU {simulator.get('simulator_cpu_s', float('nan')):.1f} s in all"
    )
    print(f"load average before encode {load0}, before runs {load1}, between {load2}, after {load3}")
    for name, result in (("motion-gated", gated), ("every frame (baseline)", baseline)):
        if result is not None:
            print(f"{name:24s} {json.dumps(result)}")
    summary = {key: value for key, value in gated.items() if key != "details"}
    if baseline is not None:
        summary["baseline"] = {key: value for key, value in baseline.items() if key != "details"}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
