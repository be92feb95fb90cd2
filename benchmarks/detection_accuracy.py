"""Detection accuracy on hand-labelled frames of vtest.avi: precision and recall at IoU 0.5.

Labels: benchmarks/data/vtest_labels.json (20 frames, how they were made is written in the file).
Footage: var/cache/footage/vtest.avi (`make models` fetches it from Debian's opencv-doc).

The built-in NanoDet in each asked precision (``detection.detector.precision``: fp32, int8).

Prints one line per model, class and score threshold, and as its last line JSON:
  {"iou": 0.5, "frames": 20, "score_threshold": 0.4, "detector": {"fp32":
   {"person": {"precision": ..., "recall": ..., "tp": ..., "fp": ..., "fn": ...}, "vehicle": {...}},
   "int8": {...}}}

Usage: python benchmarks/detection_accuracy.py [--threshold 0.4] [--sweep] [--precision fp32,int8]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from watchkeeper.analyzers.detect import build_detector
from watchkeeper.analyzers.detect.postprocess import box_iou
from watchkeeper.config.detectors import DetectorConfig
from watchkeeper.domain import Detections

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "benchmarks" / "data" / "vtest_labels.json"
VTEST = ROOT / "var" / "cache" / "footage" / "vtest.avi"
IOU = 0.5
GROUPS = {
    "person": {"person"},
    "vehicle": {"car", "truck", "bus", "motorcycle", "bicycle"},
}


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def as_dict(self) -> dict[str, float | int]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        return {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def load_frames(indexes: set[int]) -> dict[int, np.ndarray]:
    frames = {}
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in indexes:
                frames[index] = frame.to_ndarray(format="rgb24")
            if index >= max(indexes):
                break
    return frames


def match(pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, difficult: np.ndarray) -> Counts:
    """Greedy matching, best score first; a prediction on a 'difficult' box counts as neither TP nor FP."""
    counts = Counts()
    taken = np.zeros(len(truth), bool)
    for index in np.argsort(-scores):
        if len(truth):
            ious = box_iou(pred[index].astype(np.float32), truth.astype(np.float32))
            ious[taken] = -1
            best = int(np.argmax(ious))
            if ious[best] >= IOU:
                taken[best] = True
                if not difficult[best]:
                    counts.tp += 1
                continue
        counts.fp += 1
    counts.fn = int(np.sum(~taken & ~difficult))
    return counts


def evaluate(predictions: dict[int, Detections], names: list[str], labels: dict, threshold: float) -> dict:
    """Precision/recall per class group over all labelled frames, for detections scoring >= ``threshold``."""
    result = {}
    for group, members in GROUPS.items():
        total = Counts()
        for key, boxes in labels.items():
            dets = predictions[int(key)]
            keep = np.array([names[c] in members for c in dets.class_id], bool) & (
                dets.confidence >= threshold
            )
            truth = [box for box in boxes if box["class"] == group]
            counts = match(
                dets.xyxy[keep],
                dets.confidence[keep],
                np.array([box["xyxy"] for box in truth], np.float32).reshape(-1, 4),
                np.array([bool(box.get("difficult")) for box in truth], bool),
            )
            total.tp, total.fp, total.fn = total.tp + counts.tp, total.fp + counts.fp, total.fn + counts.fn
        result[group] = total.as_dict()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=DetectorConfig().score_threshold)
    parser.add_argument("--sweep", action="store_true", help="also print 0.3 ... 0.7")
    parser.add_argument("--precision", default="fp32,int8", help="comma-separated built-in model precisions")
    args = parser.parse_args()
    labels = json.loads(LABELS.read_text())["frames"]
    frames = load_frames({int(key) for key in labels})
    thresholds = [0.3, 0.4, 0.5, 0.6, 0.7] if args.sweep else [args.threshold]
    results = {}
    for precision in args.precision.split(","):
        detector = build_detector(DetectorConfig(score_threshold=0.05, threads=2, precision=precision))
        predictions = {index: detector.detect(frame) for index, frame in frames.items()}
        names = list(detector.class_names)
        for threshold in thresholds:
            for group, figures in evaluate(predictions, names, labels, threshold).items():
                print(f"detector alone {precision}  score>={threshold:.2f}  {group:8s} {figures}")
        results[precision] = evaluate(predictions, names, labels, args.threshold)
    print(
        json.dumps(
            {"iou": IOU, "frames": len(labels), "score_threshold": args.threshold, "detector": results}
        )
    )


if __name__ == "__main__":
    main()
