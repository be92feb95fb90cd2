"""NMS and the detector config section (defaults, bounds, relative model paths)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from watchkeeper.analyzers.detect.postprocess import Candidates, box_iou, finish, nms
from watchkeeper.config import DetectionConfig
from watchkeeper.config.detectors import COCO_CLASSES, DetectorConfig
from watchkeeper.config.root import WatchkeeperConfig

BOXES = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
SCORES = np.array([0.9, 0.8, 0.7, 0.6], np.float32)


def test_iou() -> None:
    np.testing.assert_allclose(box_iou(BOXES[0], BOXES), [1.0, 81 / 119, 0.0, 1.0], rtol=1e-6)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    assert nms(BOXES, SCORES, 0.5, 100).tolist() == [0, 2]
    assert nms(BOXES, SCORES, 0.9, 100).tolist() == [0, 1, 2]
    assert nms(BOXES, SCORES, 0.5, 1).tolist() == [0]


def test_finish_is_per_class_and_ordered() -> None:
    candidates = Candidates(BOXES, SCORES, np.array([0, 0, 0, 1]))
    kept = finish(candidates, 0.5, 100)
    assert kept.scores.tolist() == pytest.approx([0.9, 0.7, 0.6])  # the class-1 box survives its twin
    assert kept.class_ids.tolist() == [0, 0, 1]
    assert len(finish(candidates, 1.0, 2).scores) == 2
    assert len(finish(Candidates.empty(), 0.5, 10).scores) == 0


def test_detector_defaults_are_the_builtin_nanodet() -> None:
    config = DetectionConfig().detector
    assert config.type == "onnx"
    assert config.path is None
    assert config.output_format == "nanodet"
    assert (config.input_width, config.input_height) == (416, 416)
    assert config.class_names == list(COCO_CLASSES)
    assert len(COCO_CLASSES) == 80
    assert config.channel_order == "bgr"
    assert config.precision == "int8"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "tensorrt"}, "type"),
        ({"score_threshold": 1.5}, "score_threshold"),
        ({"std": (1.0, 0.0, 1.0)}, "std values must be > 0"),
        ({"class_names": []}, "class_names"),
        ({"output_format": "centernet"}, "output_format"),
        ({"precision": "int4"}, "precision"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_detector_settings_are_rejected(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DetectorConfig.model_validate(fields)


def test_relative_model_path_resolves_against_the_config_folder(tmp_path: Path) -> None:
    config = WatchkeeperConfig.model_validate({"detection": {"detector": {"path": "models/yolo.onnx"}}})
    resolved = config.with_base_dir(tmp_path)
    assert resolved.detection.detector.path == tmp_path / "models" / "yolo.onnx"
    absolute = DetectorConfig(path=Path("/opt/m.onnx"))
    assert absolute.resolved(tmp_path).path == Path("/opt/m.onnx")
    assert DetectorConfig().resolved(tmp_path).path is None
