"""INT8 quantization: a real (small) convolution model is quantized and still computes nearly the same thing;
the built INT8 NanoDet finds the same pedestrians as the float one; bad inputs are refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from watchkeeper.analyzers.detect import DetectorError, OnnxDetector
from watchkeeper.analyzers.detect.postprocess import box_iou
from watchkeeper.analyzers.detect.quantize import calibration_inputs, quantize_model
from watchkeeper.config.detectors import COCO_CLASSES, DetectorConfig

SIZE = 32
CONFIG = DetectorConfig(input_width=SIZE, input_height=SIZE)


def _conv_model(path: Path) -> Path:
    """(1, 3, 32, 32) -> Conv 3x3 (+bias) -> LeakyRelu -> -inf Pad -> MaxPool 3x3 s2 -> Conv 1x1 -> output.

    The ``-inf`` pad in front of the max pool is TensorFlow's ``SAME`` pooling as NanoDet's conversion has it.
    """
    rng = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3, "w1"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32) * 0.1, "b1"),
        numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 0, 1, 1], dtype=np.int64), "pads"),
        numpy_helper.from_array(np.array(-np.inf, dtype=np.float32), "minus_inf"),
        numpy_helper.from_array(rng.standard_normal((4, 8, 1, 1)).astype(np.float32) * 0.3, "w2"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1),
        helper.make_node("Pad", ["a1", "pads", "minus_inf"], ["padded"]),
        helper.make_node("MaxPool", ["padded"], ["pooled"], kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("Conv", ["pooled", "w2"], ["y"], kernel_shape=[1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv-pool-conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, SIZE // 2, SIZE // 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _frames(count: int) -> list[NDArray[np.uint8]]:
    """Smooth gradient frames with a bright block (structured, not noise), 48x64 RGB."""
    rng = np.random.default_rng(5)
    frames = []
    for _ in range(count):
        y, x = np.mgrid[0:48, 0:64]
        base = (x * rng.uniform(1, 4) + y * rng.uniform(1, 4)) % 256
        frame = np.stack([base, 255 - base, np.full_like(base, rng.integers(0, 256))], axis=2)
        top, left = rng.integers(0, 30), rng.integers(0, 40)
        frame[top : top + 16, left : left + 20] = 250
        frames.append(frame.astype(np.uint8))
    return frames


def _run(path: Path, tensor: NDArray[np.float32]) -> NDArray[np.float32]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": tensor})[0])


def test_calibration_inputs_are_whole_frames_then_crops() -> None:
    frames = _frames(3)
    tensors = calibration_inputs(frames, CONFIG)
    assert all(tensor.shape == (1, 3, SIZE, SIZE) and tensor.dtype == np.float32 for tensor in tensors)
    assert len(tensors) == 9
    assert not np.array_equal(tensors[0], tensors[3])  # the crops of frame 0 are not frame 0
    again = calibration_inputs(frames, CONFIG)
    assert all(np.array_equal(a, b) for a, b in zip(tensors, again, strict=True))  # seeded places


def test_calibration_needs_frames() -> None:
    with pytest.raises(ValueError, match="at least one frame"):
        calibration_inputs([], CONFIG)


def test_a_small_model_is_quantized_per_channel_and_still_agrees(tmp_path: Path) -> None:
    source = _conv_model(tmp_path / "float.onnx")
    output = tmp_path / "int8.onnx"
    frames = _frames(6)
    report = quantize_model(source, output, frames, CONFIG)
    assert report.calibration_inputs == 18
    assert report.folded_pads == 1
    assert report.quantized_convolutions == 2
    assert report.size_bytes == output.stat().st_size
    model = onnx.load(str(output))
    ops = [node.op_type for node in model.graph.node]
    assert "Pad" not in ops  # folded into the max pool: a tensor holding -inf has no finite int8 scale
    assert ops.count("QuantizeLinear") >= 2
    assert ops.count("DequantizeLinear") >= 4
    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    int8_weights = [value for value in weights.values() if value.dtype == np.int8 and value.ndim == 4]
    assert len(int8_weights) == 2
    # per channel: one scale per output channel of each convolution
    assert all(np.isfinite(value).all() for value in weights.values() if value.dtype == np.float32)
    scale_sizes = sorted(
        value.size for name, value in weights.items() if name.startswith("w") and "scale" in name
    )
    assert scale_sizes == [4, 8]
    for tensor in calibration_inputs(frames[:2], CONFIG):
        expected, got = _run(source, tensor), _run(output, tensor)
        assert got.shape == expected.shape
        spread = float(expected.max() - expected.min())
        error = np.abs(got - expected)
        assert float(error.max()) < 0.1 * spread  # a few uint8 steps of the calibrated range
        assert float(error.mean()) < 0.02 * spread


def test_a_file_that_is_not_onnx_is_refused_by_name(tmp_path: Path) -> None:
    source = tmp_path / "broken.onnx"
    source.write_text("not a model\n")
    with pytest.raises(DetectorError, match=f"{source} is not a loadable ONNX model"):
        quantize_model(source, tmp_path / "out.onnx", _frames(1), CONFIG)
    assert not (tmp_path / "out.onnx").exists()


def test_builtin_int8_model_finds_the_pedestrians_the_float_model_finds(
    nanodet: OnnxDetector, nanodet_int8: OnnxDetector, vtest_frame300: NDArray[np.uint8]
) -> None:
    person = COCO_CLASSES.index("person")
    float_dets, int8_dets = nanodet.detect(vtest_frame300), nanodet_int8.detect(vtest_frame300)
    float_people = float_dets[(float_dets.class_id == person) & (float_dets.confidence > 0.5)]
    int8_people = int8_dets[(int8_dets.class_id == person) & (int8_dets.confidence > 0.4)]
    assert len(float_people) >= 5
    matched = [float(box_iou(box, int8_people.xyxy).max(initial=0.0)) for box in float_people.xyxy]
    assert sum(iou >= 0.7 for iou in matched) >= len(float_people) - 1, matched
    assert len(nanodet_int8.detect(np.full((360, 640, 3), 128, np.uint8))) == 0
