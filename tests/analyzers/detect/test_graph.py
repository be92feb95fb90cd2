"""Folding zero pads into convolutions: same outputs, fewer nodes; pads that are not zero stay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from watchkeeper.analyzers.detect import OnnxDetector
from watchkeeper.analyzers.detect.graph import fold_pool_pads, fold_zero_pads
from watchkeeper.config.detectors import DetectorConfig


def _pad_conv_model(
    pads: list[int], value: float | None = 0.0, mode: str = "constant", auto_pad: str = "VALID"
) -> onnx.ModelProto:
    """Input (1, 2, 9, 9) -> Pad -> Conv 3x3 stride 2 -> output, with seeded random weights."""
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(np.array(pads, dtype=np.int64), "pads"),
        numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "w"),
    ]
    pad_inputs = ["x", "pads"]
    if value is not None:
        inits.append(numpy_helper.from_array(np.array(value, dtype=np.float32), "value"))
        pad_inputs.append("value")
    nodes = [
        helper.make_node("Pad", pad_inputs, ["padded"], mode=mode),
        helper.make_node(
            "Conv", ["padded", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2], auto_pad=auto_pad
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "pad-conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 9, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _run(model: onnx.ModelProto, x: NDArray[np.float32]) -> NDArray[np.float32]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


@pytest.mark.parametrize(
    ("pads", "value", "mode", "folds"),
    [
        ([0, 0, 0, 0, 0, 0, 1, 1], 0.0, "constant", 1),  # TF "SAME" for stride 2: bottom/right only
        ([0, 0, 1, 1, 0, 0, 1, 1], None, "constant", 1),  # no value input means zero
        ([0, 0, 1, 2, 0, 0, 2, 1], 0.0, "constant", 1),  # asymmetric
        ([0, 0, 1, 1, 0, 0, 1, 1], 1.0, "constant", 0),  # padding with ones is not a convolution's pads
        ([0, 0, 1, 1, 0, 0, 1, 1], 0.0, "reflect", 0),
        ([1, 0, 1, 1, 0, 0, 1, 1], 0.0, "constant", 0),  # batch padding
    ],
)
def test_only_zero_spatial_pads_fold_and_the_output_is_unchanged(
    pads: list[int], value: float | None, mode: str, folds: int
) -> None:
    model = _pad_conv_model(pads, value, mode)
    x = np.random.default_rng(1).standard_normal((1, 2, 9, 9)).astype(np.float32)
    expected = _run(model, x)
    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    assert fold_zero_pads(folded) == folds
    assert sum(node.op_type == "Pad" for node in folded.graph.node) == 1 - folds
    np.testing.assert_allclose(_run(folded, x), expected, rtol=1e-5, atol=1e-5)


def test_a_same_padded_convolution_is_left_alone() -> None:
    model = _pad_conv_model([0, 0, 0, 0, 0, 0, 1, 1], auto_pad="SAME_UPPER")
    assert fold_zero_pads(model) == 0


def _pad_pool_model(value: float) -> onnx.ModelProto:
    """Input (1, 2, 9, 9) -> Pad (bottom/right, ``value``) -> MaxPool 3x3 stride 2 -> output."""
    inits = [
        numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 0, 1, 1], dtype=np.int64), "pads"),
        numpy_helper.from_array(np.array(value, dtype=np.float32), "value"),
    ]
    nodes = [
        helper.make_node("Pad", ["x", "pads", "value"], ["padded"]),
        helper.make_node("MaxPool", ["padded"], ["y"], kernel_shape=[3, 3], strides=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "pad-pool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 9, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize(("value", "folds"), [(float("-inf"), 1), (0.0, 0)])
def test_only_minus_infinity_pads_fold_into_a_max_pool(value: float, folds: int) -> None:
    model = _pad_pool_model(value)
    x = -np.abs(np.random.default_rng(2).standard_normal((1, 2, 9, 9)).astype(np.float32))  # all negative
    expected = _run(model, x)
    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    assert fold_zero_pads(folded) == 0  # a max pool is not a convolution
    assert fold_pool_pads(folded) == folds
    assert sum(node.op_type == "Pad" for node in folded.graph.node) == 1 - folds
    np.testing.assert_array_equal(_run(folded, x), expected)


def test_the_builtin_model_loses_its_pads_and_finds_the_same_objects(
    nanodet_path: Path, vtest_frame300: NDArray[np.uint8]
) -> None:
    detector = OnnxDetector(DetectorConfig(threads=1), nanodet_path)
    plain = ort.InferenceSession(str(nanodet_path), providers=["CPUExecutionProvider"])
    folded_session = detector._session  # the session the detector actually runs
    tensor = np.random.default_rng(3).random((1, 3, 416, 416), dtype=np.float32)
    name = plain.get_inputs()[0].name
    for want, got in zip(
        plain.run(None, {name: tensor}), folded_session.run(None, {name: tensor}), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    found = detector.detect(vtest_frame300)
    assert len(found) >= 5  # the pedestrians of frame 300 (see test_onnx_detector)
    original = onnx.load(str(nanodet_path))
    assert detector.folded_pads >= 20
    assert sum(node.op_type == "Pad" for node in original.graph.node) >= detector.folded_pads
