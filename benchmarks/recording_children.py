"""The two child processes of ``benchmarks/recording.py``: the simulated cameras and the recorder under test.

Both are started by ``recording.py`` itself (``--role simulator`` / ``--role recorder``), so each runs in its
own process: the simulator's CPU is not counted, and the recorder's is measured alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEGMENT_S = 10


# -- simulator process -----------------------------------------------------------------------------------


def _footage_spec(args: argparse.Namespace, crf: int) -> Any:
    from watchkeeper.simulator import FootageSpec

    return FootageSpec(
        width=args.width,
        height=args.height,
        fps=args.fps,
        duration_s=args.loop_seconds,
        keyframe_interval=max(1, round(args.keyframe_seconds * args.fps)),
        walkers=2,
        crf=crf,
    )


def _clip_bitrate(clip: Any) -> float:
    size = len(clip.sps) + len(clip.pps) + sum(unit.size for unit in clip.access_units)
    return size * 8 / clip.spec.duration_s


def tuned_clip(args: argparse.Namespace) -> tuple[Any, int]:
    """Generate the clip, searching the CRF whose bitrate is closest to ``--bitrate`` (monotone in CRF)."""
    from watchkeeper.simulator import generate_clip

    if args.crf is not None:
        return generate_clip(_footage_spec(args, args.crf)), args.crf
    target = args.bitrate * 1e6
    low, high, crf = 0, 51, 23
    best: tuple[float, Any, int] | None = None
    for _ in range(7):
        clip = generate_clip(_footage_spec(args, crf))
        rate = _clip_bitrate(clip)
        miss = abs(rate - target) / target
        if best is None or miss < best[0]:
            best = (miss, clip, crf)
        if miss <= 0.08:
            break
        if rate > target:
            low = crf + 1
        else:
            high = crf - 1
        if low > high:
            break
        crf = (low + high) // 2
    assert best is not None
    return best[1], best[2]


def run_simulator(args: argparse.Namespace) -> None:
    """Serve one clip on N paths until stdin closes; first line on stdout is a JSON ready message."""
    from watchkeeper.simulator import RtspServer

    clip, crf = tuned_clip(args)
    clips = {f"/cam{i}": clip for i in range(1, args.cameras + 1)}
    with RtspServer(clips) as server:
        ready = {
            "urls": [server.url(path) for path in server.paths],
            "bitrate_bps": _clip_bitrate(clip),
            "crf": crf,
            "keyframe_interval": clip.spec.keyframe_interval,
        }
        print(json.dumps(ready), flush=True)
        sys.stdin.read()


# -- recorder process ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Probe:
    """Collects what the workers report: segments with their index lag, state changes."""

    segments: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)


def _camera_worker(camera_id: str, url: str, media_root: Path, callbacks: Any, *, analysis: bool) -> Any:
    """The production ``CameraWorker`` of ``watchkeeper serve`` for one input with both roles.

    With ``analysis=False`` its analysis consumer is detached, so the input thread feeds only the
    recorder (codec gate, disk-full guard, segmenter, index callback): there is no configuration switch for
    a record-only camera yet, hence the reach into the worker's internals, checked so that a refactor
    fails loudly here instead of silently measuring something else.
    """
    from watchkeeper.config.cameras import CameraConfig
    from watchkeeper.config.detection import DetectionConfig
    from watchkeeper.config.recording import RecordingConfig
    from watchkeeper.runtime.camera_worker import CameraWorker, WorkerSettings

    camera = CameraConfig.model_validate(
        {
            "id": camera_id,
            "name": camera_id,
            "site": "bench",
            "inputs": [{"url": url, "roles": ["record", "detect"]}],
        }
    )
    settings = WorkerSettings(
        camera, RecordingConfig(segment_seconds=SEGMENT_S), DetectionConfig(), media_root, loop_files=False
    )
    worker = CameraWorker(settings, callbacks)
    if not analysis:
        detached = 0
        for input_worker in getattr(worker, "_workers", []):
            consumers: list[Any] = getattr(input_worker, "_consumers", [])
            kept = [c for c in consumers if type(c).__name__ != "AnalysisConsumer"]
            detached += len(consumers) - len(kept)
            consumers[:] = kept
        if detached != 1:
            raise SystemExit(
                "error: could not detach the analysis consumer from CameraWorker (its internals changed); "
                "update _camera_worker in benchmarks/recording.py"
            )
    return worker


def _open_index(workdir: Path, count: int) -> Any:
    from watchkeeper.domain import Camera, CameraId, Site, SiteId
    from watchkeeper.storage.factory import open_store

    store = open_store(f"sqlite:///{workdir / 'index.db'}")
    store.sites.upsert(Site(SiteId("bench"), "Benchmark"))
    for i in range(1, count + 1):
        store.cameras.upsert(Camera(CameraId(f"cam{i}"), f"Camera {i}", SiteId("bench")))
    return store


def _probed_callbacks(store: Any, bridge: Any, probe: Probe) -> Any:
    """The production callbacks (index write + bus publish), timed."""
    from watchkeeper.domain import utcnow
    from watchkeeper.runtime.camera_worker import WorkerCallbacks
    from watchkeeper.runtime.wiring import worker_callbacks

    real = worker_callbacks(store, bridge)

    def on_segment(segment: Any) -> None:
        real.on_segment(segment)
        indexed_at = utcnow()
        probe.segments.append(
            {
                "camera": str(segment.camera_id),
                "start": segment.start.timestamp(),
                "end": segment.end.timestamp(),
                "keyframes": segment.keyframes,
                "size": segment.size_bytes,
                "path": segment.path,
                # The segment closed on stop ends one frame after its last packet: never a negative lag.
                "lag_s": max(0.0, (indexed_at - segment.end).total_seconds()),
            }
        )

    def on_status(status: Any) -> None:
        real.on_status(status)
        probe.states.append({"camera": str(status.camera_id), "state": status.state.value, "t": time.time()})

    return WorkerCallbacks(on_status=on_status, on_segment=on_segment, on_event=real.on_event)


def run_recorder(args: argparse.Namespace) -> None:
    """Record the URLs in ``workdir/urls.json`` for T seconds; write ``workdir/recorder.json``."""
    import asyncio
    import resource
    import threading

    from watchkeeper.bus.local import LocalBus
    from watchkeeper.domain import CameraId
    from watchkeeper.runtime.wiring import ThreadBridge

    logging.basicConfig(level=logging.ERROR, format="recorder: %(levelname)s %(name)s: %(message)s")

    workdir: Path = args.workdir
    urls: list[str] = json.loads((workdir / "urls.json").read_text())
    media_root = workdir / "media"
    store = _open_index(workdir, len(urls))
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, name="bus-loop", daemon=True)
    loop_thread.start()
    bus = LocalBus()
    asyncio.run_coroutine_threadsafe(bus.start(), loop).result()
    probe = Probe()
    callbacks = _probed_callbacks(store, ThreadBridge(loop, bus), probe)

    workers = [
        _camera_worker(f"cam{i}", url, media_root, callbacks, analysis=args.mode == "camera")
        for i, url in enumerate(urls, start=1)
    ]
    cpu0, wall0 = time.process_time(), time.time()
    for worker in workers:
        worker.start()
    time.sleep(args.seconds)
    stop_at = time.time()
    for worker in workers:
        worker.stop()
    cpu1, wall1 = time.process_time(), time.time()
    indexed = sum(
        len(store.segments.list(CameraId(f"cam{i}"), limit=100_000)) for i in range(1, len(urls) + 1)
    )
    asyncio.run_coroutine_threadsafe(bus.close(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    loop_thread.join(5)
    store.close()
    result = {
        "cpu_s": cpu1 - cpu0,
        "wall_s": wall1 - wall0,
        "started_at": wall0,
        "stopped_at": stop_at,
        "indexed_rows": indexed,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "segments": probe.segments,
        "states": probe.states,
    }
    (workdir / "recorder.json").write_text(json.dumps(result))
