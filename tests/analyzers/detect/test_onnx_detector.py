"""The ONNX Runtime detector: the built-in NanoDet on real footage, YOLO/SSD formats, and load-time errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.analyzers.detect.conftest import ModelFactory
from watchkeeper.analyzers.detect import DetectorError, OnnxDetector, build_detector, builtin_model_path
from watchkeeper.analyzers.detect.onnx import choose_providers
from watchkeeper.analyzers.detect.registry import builtin_precision
from watchkeeper.config.detectors import COCO_CLASSES, DetectorConfig
from watchkeeper.domain import Detections, WatchkeeperError


def test_nanodet_finds_the_pedestrians_of_vtest_frame_300(
    nanodet: OnnxDetector, vtest_frame300: NDArray[np.uint8]
) -> None:
    dets = nanodet.detect(vtest_frame300)
    assert isinstance(dets, Detections)
    people = dets[(dets.class_id == COCO_CLASSES.index("person")) & (dets.confidence > 0.5)]
    assert len(people) >= 5
    # Boxes are in frame pixels: inside the 768x576 frame and pedestrian-shaped (taller than wide).
    assert people.xyxy[:, [0, 2]].max() <= 768
    assert people.xyxy[:, [1, 3]].max() <= 576
    widths = people.xyxy[:, 2] - people.xyxy[:, 0]
    heights = people.xyxy[:, 3] - people.xyxy[:, 1]
    assert np.all(heights > widths)
    assert nanodet.providers[-1] == "CPUExecutionProvider"
    assert nanodet.class_names[0] == "person"


def test_nanodet_finds_nothing_in_a_grey_frame(nanodet: OnnxDetector) -> None:
    assert len(nanodet.detect(np.full((360, 640, 3), 128, np.uint8))) == 0


def test_frame_of_wrong_shape_is_rejected(nanodet: OnnxDetector) -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB"):
        nanodet.detect(np.zeros((10, 10), np.uint8))


def test_build_detector_uses_the_builtin_model_in_the_configured_precision(
    nanodet_path: Path, nanodet_int8_path: Path
) -> None:
    detector = build_detector(DetectorConfig(threads=1))
    assert isinstance(detector, OnnxDetector)
    assert detector.model_path == nanodet_int8_path  # INT8 is the default on the CPU
    detector = build_detector(DetectorConfig(threads=1, precision="fp32"))
    assert isinstance(detector, OnnxDetector)
    assert detector.model_path == nanodet_path


def test_missing_builtin_model_says_make_models(tmp_path: Path) -> None:
    env = {"WATCHKEEPER_MODEL_DIR": str(tmp_path)}
    with pytest.raises(DetectorError, match="make models") as caught:
        build_detector(DetectorConfig(precision="fp32"), environ=env)
    assert str(tmp_path / "nanodet.onnx") in str(caught.value)
    assert isinstance(caught.value, WatchkeeperError)
    assert builtin_model_path(env, "fp32") == tmp_path / "nanodet.onnx"
    assert builtin_model_path(env, "int8") == tmp_path / "nanodet.int8.onnx"
    assert builtin_model_path(env) == tmp_path / "nanodet.int8.onnx"


def test_missing_int8_model_says_make_models_or_fp32(tmp_path: Path, nanodet_path: Path) -> None:
    (tmp_path / "nanodet.onnx").symlink_to(nanodet_path)  # only the float model was built
    env = {"WATCHKEEPER_MODEL_DIR": str(tmp_path)}
    with pytest.raises(
        DetectorError, match=r"nanodet\.int8\.onnx \(int8\) not found: run `make models`"
    ) as caught:
        build_detector(DetectorConfig(threads=1), environ=env)
    assert "precision to fp32" in str(caught.value)
    detector = build_detector(DetectorConfig(threads=1, precision="fp32"), environ=env)
    assert isinstance(detector, OnnxDetector)
    assert detector.model_path == tmp_path / "nanodet.onnx"


def test_the_float_model_runs_on_a_gpu_provider() -> None:
    config = DetectorConfig()
    assert builtin_precision(config, ["CPUExecutionProvider"]) == "int8"
    assert builtin_precision(config, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == "fp32"
    assert builtin_precision(DetectorConfig(precision="fp32"), ["CPUExecutionProvider"]) == "fp32"


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.onnx"
    with pytest.raises(DetectorError, match=f"{path} not found"):
        build_detector(DetectorConfig(path=path))


def test_a_file_that_is_not_onnx_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_text("this is not a model\n")
    with pytest.raises(DetectorError, match=f"{path} is not a loadable ONNX model"):
        build_detector(DetectorConfig(path=path))


def test_outputs_unlike_the_format_are_rejected(nanodet_path: Path) -> None:
    with pytest.raises(
        DetectorError, match=r"format yolo expects one output .* Identity \[1, 2704, 80\]"
    ) as err:
        OnnxDetector(DetectorConfig(output_format="yolo"), nanodet_path)
    assert str(nanodet_path) in str(err.value)


def test_class_count_unlike_the_model_is_rejected(nanodet_path: Path) -> None:
    with pytest.raises(DetectorError, match=r"class scores \[1, cells, 3\]"):
        OnnxDetector(DetectorConfig(class_names=["a", "b", "c"]), nanodet_path)


def test_input_size_unlike_the_model_is_rejected(nanodet_path: Path) -> None:
    with pytest.raises(
        DetectorError, match=r"input input_1 \[1, 3, 416, 416\] does not match .*\[1, 3, 320, 320\]"
    ):
        OnnxDetector(DetectorConfig(input_width=320, input_height=320), nanodet_path)


def test_yolov8_output_is_decoded_and_mapped_to_the_frame(constant_model: ModelFactory) -> None:
    rows = np.zeros((3, 4 + 2), np.float32)  # [cx, cy, w, h, class0, class1]
    rows[0] = [32, 16, 8, 8, 0.9, 0.1]
    rows[1] = [33, 16, 8, 8, 0.8, 0.1]  # overlaps row 0, same class: suppressed
    rows[2] = [10, 40, 4, 6, 0.1, 0.7]
    path = constant_model({"output0": rows.T[np.newaxis]})
    config = DetectorConfig(
        path=path,
        output_format="yolo",
        input_width=64,
        input_height=64,
        class_names=["person", "car"],
        channel_order="rgb",
        mean=(0, 0, 0),
        std=(255, 255, 255),
    )
    dets = build_detector(config).detect(np.zeros((128, 256, 3), np.uint8))
    assert dets.class_id.tolist() == [0, 1]
    np.testing.assert_allclose(dets.confidence, [0.9, 0.7], rtol=1e-6)
    # stretch: x scaled by 256/64 = 4, y by 128/64 = 2
    np.testing.assert_allclose(dets.xyxy[0], [112, 24, 144, 40])
    np.testing.assert_allclose(dets.xyxy[1], [32, 74, 48, 86])


def test_yolov5_objectness_and_letterbox(constant_model: ModelFactory) -> None:
    rows = np.array([[32, 32, 16, 16, 0.5, 0.9]], np.float32)  # objectness 0.5 x class 0.9 = 0.45
    path = constant_model({"output": rows[np.newaxis]})
    config = DetectorConfig(
        path=path,
        output_format="yolo",
        input_width=64,
        input_height=64,
        class_names=["person"],
        resize="letterbox",
        score_threshold=0.3,
    )
    dets = build_detector(config).detect(np.zeros((64, 128, 3), np.uint8))
    np.testing.assert_allclose(dets.confidence, [0.45], rtol=1e-6)
    # letterbox: scale 0.5, 16 px padding on top: box 24..40 in model pixels -> x 48..80, y (24-16)/0.5=16..48
    np.testing.assert_allclose(dets.xyxy[0], [48, 16, 80, 48])


def test_ssd_outputs_with_count_and_class_offset(constant_model: ModelFactory) -> None:
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0], [0.3, 0.3, 0.4, 0.4]]], np.float32)
    scores = np.array([[0.9, 0.2, 0.95]], np.float32)
    classes = np.array([[1, 1, 2]], np.float32)
    count = np.array([2], np.float32)  # the third row is padding
    path = constant_model(
        {
            "detection_boxes": boxes,
            "detection_scores": scores,
            "detection_classes": classes,
            "num_detections": count,
        },
        input_shape=(1, 300, 300, 3),
        input_dtype="uint8",
    )
    config = DetectorConfig(
        path=path,
        output_format="ssd",
        input_width=300,
        input_height=300,
        input_layout="nhwc",
        input_dtype="uint8",
        channel_order="rgb",
        class_names=["person", "car"],
        class_offset=1,
    )
    dets = build_detector(config).detect(np.zeros((100, 200, 3), np.uint8))
    assert dets.class_id.tolist() == [0]
    np.testing.assert_allclose(dets.xyxy[0], [40, 10, 120, 50], rtol=1e-5)  # yxyx normalised -> xyxy pixels


def test_ssd_missing_outputs_are_named(constant_model: ModelFactory) -> None:
    path = constant_model({"boxes": np.zeros((1, 5, 4), np.float32)})
    with pytest.raises(
        DetectorError, match=r"missing \['detection_boxes', .*model has outputs boxes \[1, 5, 4\]"
    ):
        build_detector(DetectorConfig(path=path, output_format="ssd", input_width=64, input_height=64))


def test_input_type_unlike_the_config_is_rejected(constant_model: ModelFactory) -> None:
    path = constant_model({"output": np.zeros((1, 3, 85), np.float32)}, input_dtype="uint8")
    config = DetectorConfig(path=path, output_format="yolo", input_width=64, input_height=64)
    with pytest.raises(DetectorError, match=r"has type tensor\(uint8\), the config says float32"):
        build_detector(config)


def test_provider_choice() -> None:
    assert choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    both = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("auto", both) == both
    assert choose_providers("cpu", both) == ["CPUExecutionProvider"]
    with pytest.raises(DetectorError, match="no CUDAExecutionProvider"):
        choose_providers("cuda", ["CPUExecutionProvider"])
