"""Blur recall of the protected rendition on hand-labelled person boxes of real footage.

Plays vtest.avi (opencv-doc 4.6, 10 fps, 768x576) through the real per-camera chain at the default settings:
``MotionAnalysis`` (motion -> ``ObjectAnalysis``: regions -> shared NanoDet detector -> ByteTrack) and the
frame taps the sampler drives (``ObjectTap`` then ``PrivacyTap``: redaction -> H.264 rendition), 5 analysed
frames a second at the analysis width (640x480). The detector job of a frame is run only after the privacy tap
has redacted that frame, so every rendition frame sees detector results at least one analysed frame
(200 ms) old: a pessimistic stand-in for real detector latency.

At each of the 20 hand-labelled frames (benchmarks/data/vtest_labels.json; ``difficult`` boxes ignored) every
person box, scaled to the rendition's pixels, gets a coverage: the share of its *textured* pixels that are
blurred. A pixel is textured when the unredacted frame's local standard deviation (grey, 5x5 window) is at
least 4 grey levels; it is blurred when the redacted frame's local standard deviation there is at most half
the unredacted one (a blur flattens detail; a flat fill does too). Pixels too flat to tell are left out
(they show no detail either way). A box counts as covered at >= 95 %.

Last line, JSON: {"person_boxes": N, "recall": <share of boxes >= 95 % covered>, "mean_coverage": ...,
"data": "vtest.avi (opencv-doc 4.6), 20 hand-labelled frames"}

Usage: python benchmarks/privacy_recall.py [always|stale]   (``privacy.blur_motion``; default: the default)
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

from watchkeeper.analyzers.detect import build_detector
from watchkeeper.analyzers.event_snapshots import EventSnapshotStore
from watchkeeper.analyzers.scheduler import DetectorService
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.privacy import PrivacyConfig
from watchkeeper.privacy import PersonBlur
from watchkeeper.privacy.faces import FaceDetector
from watchkeeper.privacy.rendition import PrivacyServices, PrivacyTap
from watchkeeper.runtime.analysis import MotionAnalysis, ObjectTap
from watchkeeper.runtime.objects import AnalysisServices, ObjectAnalysis

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "benchmarks" / "data" / "vtest_labels.json"
VTEST = ROOT / "var" / "cache" / "footage" / "vtest.avi"
FACES = ROOT / "var" / "models" / "centerface.onnx"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = 5
TEXTURE = 4.0
COVERED = 0.95
MOTION = sys.argv[1] if len(sys.argv) > 1 else PrivacyConfig().blur_motion
DATA = "vtest.avi (opencv-doc 4.6), 20 hand-labelled frames"
CAMERA = CameraConfig.model_validate(
    {
        "id": "vtest",
        "name": "vtest",
        "site": "s",
        "inputs": [{"url": "vtest.avi", "roles": ["record", "detect"]}],
    }
)


def local_std(grey: NDArray[np.float32], window: int = WINDOW) -> NDArray[np.float32]:
    """Standard deviation over a ``window`` x ``window`` neighbourhood (edges padded)."""
    pad = window // 2
    padded = np.pad(grey, pad, mode="edge")
    views = np.lib.stride_tricks.sliding_window_view(padded, (window, window))
    result: NDArray[np.float32] = views.std(axis=(2, 3)).astype(np.float32)
    return result


def coverage(raw: NDArray[np.uint8], redacted: NDArray[np.uint8], box: list[float]) -> float:
    """Share of the textured pixels of ``box`` (rendition pixels) that the redaction blurred."""
    height, width = raw.shape[:2]
    x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x2, y2 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    before = local_std(raw[y1:y2, x1:x2].mean(axis=2).astype(np.float32))
    after = local_std(redacted[y1:y2, x1:x2].mean(axis=2).astype(np.float32))
    textured = before >= TEXTURE
    if not textured.any():
        return 1.0
    return float(((after <= 0.5 * before) & textured).sum() / textured.sum())


def play(labelled: set[int], media: Path) -> dict[int, tuple[NDArray[np.uint8], NDArray[np.uint8]]]:
    """Run the rendition path over the clip; return (unredacted, redacted) frames at ``labelled``."""
    detection = DetectionConfig()
    service = DetectorService(build_detector(detection.detector.model_copy(update={"threads": 2})))
    privacy = PrivacyConfig.model_validate({"blur_motion": MOTION})
    faces = FaceDetector(FACES, privacy.faces.threshold) if FACES.is_file() else None
    services = AnalysisServices(service, PersonBlur(), privacy=PrivacyServices(privacy, faces=faces))
    objects = ObjectAnalysis(CAMERA, detection, services, EventSnapshotStore(media), lambda change: None)
    analysis = MotionAnalysis(objects.camera_id, detection, lambda change: None, objects)
    tap = PrivacyTap(CAMERA, detection, media, services.privacy, objects, lambda: analysis.motion_mask)
    seen: dict[int, tuple[NDArray[np.uint8], NDArray[np.uint8]]] = {}
    index_at: dict[datetime, int] = {}
    tap.observe(lambda raw, red, at: seen.__setitem__(index_at[at], (raw, red)) if at in index_at else None)
    taps = [ObjectTap(objects), tap]
    last = max(labelled)
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index > last:
                break
            if index % 2:  # 10 fps clip, 5 analysed frames a second
                continue
            at = T0 + timedelta(seconds=index / 10)
            if index in labelled:
                index_at[at] = index
            analysis.frame(frame.reformat(width=160, height=120, format="gray").to_ndarray(), at)
            for each in taps:
                if each.due(at):
                    each.take(frame, at)
            service.run_once()  # the result lands after this frame was redacted
    tap.finish()
    return seen


def main() -> None:
    """Run and print the figures; the last line is JSON."""
    frames = json.loads(LABELS.read_text())["frames"]
    labelled = {int(key) for key in frames}
    media = Path(tempfile.mkdtemp(prefix="wk-privacy-recall-"))
    seen = play(labelled, media)
    coverages: list[float] = []
    for key, boxes in sorted(frames.items(), key=lambda item: int(item[0])):
        raw, redacted = seen[int(key)]
        scale = np.array([raw.shape[1] / 768, raw.shape[0] / 576] * 2)
        for box in boxes:
            if box["class"] != "person" or box.get("difficult"):
                continue
            value = coverage(raw, redacted, (np.array(box["xyxy"]) * scale).tolist())
            coverages.append(value)
            if value < COVERED:
                print(f"frame {key}: person {box['xyxy']} covered {100 * value:.1f} %")
    recall = sum(value >= COVERED for value in coverages) / max(1, len(coverages))
    segments = sorted(media.rglob("*.mp4"))
    print(f"blur_motion={MOTION}: {len(coverages)} person boxes, {len(segments)} rendition segments written")
    result = {
        "person_boxes": len(coverages),
        "recall": round(recall, 4),
        "mean_coverage": round(float(np.mean(coverages)), 4),
        "data": DATA,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
