"""Fixtures for the detector tests: the built NanoDet model, vtest.avi frames, tiny synthetic ONNX models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import onnx
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from tests.support.services import services_required
from watchkeeper.analyzers.detect import OnnxDetector, builtin_model_path
from watchkeeper.config.detectors import DetectorConfig

ROOT = Path(__file__).resolve().parents[3]
VTEST = ROOT / "var" / "cache" / "footage" / "vtest.avi"


def require_file(path: Path, what: str) -> Path:
    """Skip (or fail in CI) unless ``path`` exists; ``make models`` creates both files these tests use."""
    if path.is_file():
        return path
    message = f"{what} {path} is missing: run `make models`"
    if services_required():
        pytest.fail(f"WATCHKEEPER_REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def nanodet_path() -> Path:
    """The float built-in model."""
    return require_file(builtin_model_path(precision="fp32"), "the built-in detector model")


@pytest.fixture(scope="session")
def nanodet(nanodet_path: Path) -> OnnxDetector:
    return OnnxDetector(DetectorConfig(threads=2, precision="fp32"), nanodet_path)


@pytest.fixture(scope="session")
def nanodet_int8_path() -> Path:
    """The INT8 build of the built-in model (``make models`` quantizes it)."""
    return require_file(builtin_model_path(precision="int8"), "the built-in INT8 detector model")


@pytest.fixture(scope="session")
def nanodet_int8(nanodet_int8_path: Path) -> OnnxDetector:
    return OnnxDetector(DetectorConfig(threads=2), nanodet_int8_path)


@pytest.fixture(scope="session")
def vtest_frame300() -> NDArray[np.uint8]:
    """Frame 300 of Debian opencv-doc's vtest.avi (768x576 pedestrians), RGB."""
    require_file(VTEST, "test footage")
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == 300:
                return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    raise AssertionError("vtest.avi has fewer than 301 frames")


ModelFactory = Callable[..., Path]


@pytest.fixture
def constant_model(tmp_path: Path) -> ModelFactory:
    """Build a real ONNX model whose outputs are fixed arrays (plus 0 x the input, so the input is used).

    Call it with ``outputs={name: array}``, ``input_shape`` and optionally ``input_dtype``.
    """

    def build(
        outputs: dict[str, NDArray[np.float32]],
        input_shape: tuple[int, ...] = (1, 3, 64, 64),
        input_dtype: str = "float32",
        name: str = "model.onnx",
    ) -> Path:
        elem = TensorProto.FLOAT if input_dtype == "float32" else TensorProto.UINT8
        nodes = []
        source = "images"
        if input_dtype == "uint8":
            nodes.append(helper.make_node("Cast", ["images"], ["images_f"], to=TensorProto.FLOAT))
            source = "images_f"
        nodes.append(helper.make_node("ReduceMean", [source], ["mean"], keepdims=0))
        nodes.append(helper.make_node("Mul", ["mean", "zero"], ["nothing"]))
        inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
        infos = []
        for out_name, value in outputs.items():
            inits.append(numpy_helper.from_array(value.astype(np.float32), f"{out_name}_value"))
            nodes.append(helper.make_node("Add", [f"{out_name}_value", "nothing"], [out_name]))
            infos.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(value.shape)))
        graph = helper.make_graph(
            nodes,
            "constant",
            [helper.make_tensor_value_info("images", elem, list(input_shape))],
            infos,
            initializer=inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        path = tmp_path / name
        onnx.save_model(model, str(path))
        return path

    return build
