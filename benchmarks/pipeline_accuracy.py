"""Accuracy of the full motion-gated pipeline against the same pipeline running the detector on every frame.

Plays vtest.avi (10 fps) through the real per-camera object pipeline (``runtime.objects.ObjectAnalysis``:
motion -> regions -> shared detector -> ByteTrack tracker) at 5 analysed frames per second, 640x480, once
with motion gating (default settings) and once with ``motion_gating: false``. At every hand-labelled frame
(benchmarks/data/vtest_labels.json) the boxes the rules see (confirmed tracks) are scored with the same IoU
0.5 matching as ``detection_accuracy.py``. Frame 0 is left out: no track can be confirmed on the first frame.

Prints per-mode figures and, as its last line, JSON:
  {"iou": 0.5, "frames": 19, "gated": {"person": {...}, "vehicle": {...}}, "every_frame": {...},
   "detector_runs": {"gated": ..., "every_frame": ...}, "recall_loss_points": {"person": ..., "vehicle": ...}}

``--precision fp32|int8`` picks the build of the built-in NanoDet (default: the configured default); the
JSON also holds the detector alone on the same frames (``detector_alone``, as ``detection_accuracy.py``).

Usage: python benchmarks/pipeline_accuracy.py [--precision int8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detection_accuracy import LABELS, VTEST, evaluate, load_frames

from watchkeeper.analyzers.detect import build_detector
from watchkeeper.analyzers.event_snapshots import EventSnapshotStore
from watchkeeper.analyzers.motion import RunningAverageMotion
from watchkeeper.analyzers.scheduler import DetectorService
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.detectors import DetectorConfig
from watchkeeper.domain import Detections
from watchkeeper.privacy import PersonBlur
from watchkeeper.runtime.objects import AnalysisServices, ObjectAnalysis

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WIDTH, HEIGHT = 640, 480
CAMERA = CameraConfig.model_validate(
    {
        "id": "vtest",
        "name": "vtest",
        "site": "s",
        "inputs": [{"url": "vtest.avi", "roles": ["record", "detect"]}],
    }
)


def run(gating: bool, labelled: set[int], media: Path, precision: str) -> tuple[dict[int, Detections], int]:
    """Play the clip through the pipeline; return the tracked boxes (768x576 pixels) at labelled frames."""
    config = DetectionConfig.model_validate(
        {
            "width": WIDTH,
            "detector": {"threads": 2, "precision": precision},
            "objects": {"motion_gating": gating, "classes": ["person", "car", "truck", "bus"]},
        }
    )
    service = DetectorService(build_detector(config.detector))
    analysis = ObjectAnalysis(
        CAMERA, config, AnalysisServices(service, PersonBlur()), EventSnapshotStore(media), lambda c: None
    )
    motion = RunningAverageMotion()
    out: dict[int, Detections] = {}
    last = max(labelled)
    scale = np.array([768 / WIDTH, 576 / HEIGHT] * 2, dtype=np.float32)
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index > last:
                break
            if index % 2:
                continue
            at = T0 + timedelta(seconds=index / 10)
            motion.update(frame.reformat(width=160, height=120, format="gray").to_ndarray())
            analysis.plan(motion.mask, at)
            if analysis.due(at):
                analysis.submit(frame.reformat(width=WIDTH, height=HEIGHT, format="rgb24").to_ndarray(), at)
                service.run_once()
            if index in labelled:
                tracked = analysis.tracked(at)
                out[index] = Detections(tracked.xyxy * scale, tracked.confidence, tracked.class_id)
    return out, service.stats().completed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=["fp32", "int8"], default=DetectorConfig().precision)
    args = parser.parse_args()
    labels = {key: boxes for key, boxes in json.loads(LABELS.read_text())["frames"].items() if int(key) > 0}
    labelled = {int(key) for key in labels}
    media = Path(tempfile.mkdtemp(prefix="wk-pipeline-accuracy-"))
    gated, gated_runs = run(True, labelled, media, args.precision)
    every, every_runs = run(False, labelled, media, args.precision)
    detector = build_detector(DetectorConfig(precision=args.precision, threads=2))
    names = list(detector.class_names)
    frames = load_frames(labelled)
    alone = evaluate({index: detector.detect(frame) for index, frame in frames.items()}, names, labels, 0.4)
    result_gated = evaluate(gated, names, labels, 0.0)
    result_every = evaluate(every, names, labels, 0.0)
    for name, result, runs in (
        ("gated", result_gated, gated_runs),
        ("every frame", result_every, every_runs),
    ):
        for group, figures in result.items():
            print(f"pipeline {name:12s} detector runs {runs:4d}  {group:8s} {figures}")
    loss = {
        group: round(100 * (result_every[group]["recall"] - result_gated[group]["recall"]), 2)
        for group in result_gated
    }
    print(
        json.dumps(
            {
                "iou": 0.5,
                "precision": args.precision,
                "frames": len(labels),
                "detector_alone": alone,
                "gated": result_gated,
                "every_frame": result_every,
                "detector_runs": {"gated": gated_runs, "every_frame": every_runs},
                "recall_loss_points": loss,
            }
        )
    )


if __name__ == "__main__":
    main()
