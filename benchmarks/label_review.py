"""Labelling aid for benchmarks/data/vtest_labels.json (not run by CI; needs Pillow: pip install pillow).

draft:  python benchmarks/label_review.py draft OUT.json   -> detector boxes (score >= 0.25) as a draft
render: python benchmarks/label_review.py render LABELS.json OUT_DIR [--draft DRAFT.json]
        -> one PNG per labelled frame: labels in green (numbered), draft boxes in red, a 50-px grid with
           coordinates, so each box can be checked and corrected by eye.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import numpy as np

from watchkeeper.analyzers.detect import build_detector
from watchkeeper.config.detectors import DetectorConfig

ROOT = Path(__file__).resolve().parents[1]
VTEST = ROOT / "var" / "cache" / "footage" / "vtest.avi"
FRAMES = tuple(range(0, 795, 40))
KEEP = {"person": "person", "car": "vehicle", "truck": "vehicle", "bus": "vehicle", "motorcycle": "vehicle",
        "bicycle": "vehicle"}  # fmt: skip


def frames(indexes: tuple[int, ...]) -> dict[int, np.ndarray]:
    out = {}
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in indexes:
                out[index] = frame.to_ndarray(format="rgb24")
    return out


def draft(path: Path) -> None:
    detector = build_detector(DetectorConfig(score_threshold=0.25))
    result = {}
    for index, image in frames(FRAMES).items():
        dets = detector.detect(image)
        boxes = []
        for box, score, cls in zip(dets.xyxy, dets.confidence, dets.class_id, strict=True):
            name = detector.class_names[cls]
            if name in KEEP:
                boxes.append(
                    {"class": KEEP[name], "xyxy": [round(float(v)) for v in box], "score": float(score)}
                )
        result[str(index)] = boxes
    path.write_text(json.dumps(result, indent=1))


def render(labels_path: Path, out_dir: Path, draft_path: Path | None) -> None:
    from PIL import Image, ImageDraw

    labels = json.loads(labels_path.read_text())["frames"]
    drafts = json.loads(draft_path.read_text()) if draft_path else {}
    out_dir.mkdir(parents=True, exist_ok=True)
    images = frames(tuple(int(key) for key in labels))
    for key, boxes in labels.items():
        image = Image.fromarray(images[int(key)])
        pen = ImageDraw.Draw(image)
        for x in range(0, image.width, 50):
            pen.line([(x, 0), (x, image.height)], fill=(90, 90, 255), width=1)
            pen.text((x + 2, 2), str(x), fill=(255, 255, 0))
        for y in range(0, image.height, 50):
            pen.line([(0, y), (image.width, y)], fill=(90, 90, 255), width=1)
            pen.text((2, y + 2), str(y), fill=(255, 255, 0))
        for number, box in enumerate(drafts.get(key, [])):
            pen.rectangle(box["xyxy"], outline=(255, 0, 0), width=1)
            pen.text((box["xyxy"][0] + 2, box["xyxy"][3] - 12), f"d{number}", fill=(255, 80, 80))
        for number, box in enumerate(boxes):
            colour = (0, 255, 0) if box["class"] == "person" else (0, 255, 255)
            pen.rectangle(box["xyxy"], outline=colour, width=2)
            pen.text((box["xyxy"][0] + 2, box["xyxy"][1] + 2), str(number), fill=colour)
        image = image.resize((image.width * 3 // 2, image.height * 3 // 2))
        image.save(out_dir / f"frame{int(key):03d}.png")


if __name__ == "__main__":
    if sys.argv[1] == "draft":
        draft(Path(sys.argv[2]))
    else:
        render(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[5]) if len(sys.argv) > 5 else None)
