"""CPU per unit of work of the pipeline: the same footage as ``pipeline.py``, replayed as fast as it goes.

``pipeline.py`` runs in real time, so on a loaded machine the process is starved: it gets less CPU than it
asks for, the shared detector drops frames and the CPU it reports is a cap, not the cost. This script does
the same work without a clock to keep up with: each camera's 60 s substream loop (640x360 15 fps, people in
10 % of the frames; the clips ``pipeline.py`` encodes into ``var/cache/bench``, so run that once first) goes
packet by packet through the production consumer (``runtime.analysis.build_analysis_consumer``: decode,
motion, tamper, regions, ``latest.jpg``, the shared ``DetectorService``, tracker, rules, event snapshots),
and every queued detector job runs before the next packet, so nothing is dropped. The main stream (1080p15)
is remuxed by the production ``Segmenter``. Packets get a synthetic receipt clock at 15 fps.

CPU seconds spent / seconds of footage = the share of the machine that N cameras need in real time,
whatever else the machine is doing (contention still costs some cache misses). Not included: RTSP receive
and demux (about 6-8 % of 200 for 16 cameras' two streams, see docs/benchmarks.md). Prints per stage and,
as the last line, JSON:

  {"cameras": N, "footage_s": 60, "cpu_percent": ..., "by_stage": {...}, "detector_runs": ...}

``--precision fp32|int8`` picks the build of the built-in NanoDet (default: the configured default).

Usage: python benchmarks/pipeline_work.py [--cameras 16] [--precision int8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import FPS, camera
from plaza_footage import CACHE

from watchkeeper.analyzers.detect import build_detector
from watchkeeper.analyzers.scheduler import DetectorService
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.detectors import DetectorConfig
from watchkeeper.domain import CameraId
from watchkeeper.privacy import PersonBlur
from watchkeeper.recorder.segmenter import Segmenter, SegmenterSettings
from watchkeeper.runtime.analysis import build_analysis_consumer
from watchkeeper.runtime.objects import AnalysisServices
from watchkeeper.sources import OpenedStream, ReceivedPacket, SourceSpec

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MAIN_BYTES = 5_000_000
"""Cached 60 s clips above this size are the 1080p main stream, below it the 640x360 substreams."""


def clips() -> tuple[Path, list[Path]]:
    """The cached main clip and the substream clips ``pipeline.py`` encoded."""
    files = sorted(CACHE.glob("plaza-activity-*.h264"))
    mains = [path for path in files if path.stat().st_size > MAIN_BYTES]
    subs = [path for path in files if path.stat().st_size <= MAIN_BYTES]
    if not mains or not subs:
        raise SystemExit(f"no cached clips in {CACHE}: run benchmarks/pipeline.py once first")
    return mains[0], subs


def opened(path: Path) -> OpenedStream:
    url = str(path)
    return OpenedStream(av.open(url, format="h264"), SourceSpec(url=url, redacted_url=path.name))


def analyse(
    index: int, path: Path, service: DetectorService, detection: DetectionConfig, media: Path
) -> tuple[float, float]:
    """Replay one camera's substream through its analysis chain; CPU seconds in all and in detector jobs."""
    consumer = build_analysis_consumer(
        CameraId(f"cam{index}"),
        detection,
        media,
        lambda change: None,
        camera=camera(index, 554),
        services=AnalysisServices(service, PersonBlur()),
    )
    started, jobs_s = time.process_time(), 0.0
    with opened(path) as stream:
        consumer.begin(stream)
        for count, packet in enumerate(stream._container.demux(stream.video)):
            if packet.size == 0:
                continue
            consumer.write(ReceivedPacket(packet, T0 + timedelta(seconds=count / FPS)))
            before = time.thread_time()  # one ONNX Runtime thread: the job runs on this thread
            while service.run_once():
                pass
            jobs_s += time.thread_time() - before
        consumer.finish()
    return time.process_time() - started, jobs_s


def record(path: Path, media: Path) -> float:
    """Remux one main stream loop into 10 s segments; return the CPU seconds it took."""
    segmenter = Segmenter(SegmenterSettings(media, CameraId("main"), 10.0), lambda segment: None)
    started = time.process_time()
    with opened(path) as stream:
        segmenter.begin(stream)
        for count, packet in enumerate(stream._container.demux(stream.video)):
            if packet.size:
                segmenter.write(ReceivedPacket(packet, T0 + timedelta(seconds=count / FPS)))
        segmenter.finish()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--precision", choices=["fp32", "int8"], default=DetectorConfig().precision)
    args = parser.parse_args()
    main_clip, subs = clips()
    media = Path(tempfile.mkdtemp(prefix="wk-pipeline-work-"))
    detection = DetectionConfig.model_validate(
        {"fps": 5, "width": 640, "detector": {"threads": 1, "precision": args.precision}}
    )
    service = DetectorService(build_detector(detection.detector))
    load = Path("/proc/loadavg").read_text().split()[:3]
    spent = [
        analyse(index, subs[(index - 1) % len(subs)], service, detection, media)
        for index in range(1, args.cameras + 1)
    ]
    analysis_s, detector_s = sum(total for total, _ in spent), sum(jobs for _, jobs in spent)
    record_s = record(main_clip, media) * args.cameras
    stats = service.stats()
    footage_s = 60.0
    by_stage = {
        "detect stream (decode, motion, tamper, regions, latest.jpg, frame conversion)": round(
            100 * (analysis_s - detector_s) / footage_s, 1
        ),
        "detector jobs (ONNX Runtime, crops/packing, tracker, rules, event snapshots)": round(
            100 * detector_s / footage_s, 1
        ),
        "record (remux into fMP4)": round(100 * record_s / footage_s, 1),
    }
    total = round(100 * (analysis_s + record_s) / footage_s, 1)
    cores = os.cpu_count() or 1
    print(
        f"{args.cameras} cameras x {footage_s:g} s of footage; load average before {load}, "
        f"after {Path('/proc/loadavg').read_text().split()[:3]}; cpu_percent of {cores * 100}"
    )
    for stage, value in by_stage.items():
        print(f"  {value:6.1f} %  {stage}")
    print(f"detector jobs {stats.completed} ({stats.completed / args.cameras:.1f} per camera-minute)")
    print(
        json.dumps(
            {
                "cameras": args.cameras,
                "precision": args.precision,
                "footage_s": footage_s,
                "cpu_percent": total,
                "by_stage": by_stage,
                "detector_jobs": stats.completed,
            }
        )
    )


if __name__ == "__main__":
    main()
