"""Load-time graph clean-up for CPU inference: fold zero ``Pad`` nodes into the convolutions they feed.

Models converted from TensorFlow (TF.js, tf2onnx) express ``SAME`` padding as an explicit ``Pad`` in front of
each strided convolution. ONNX Runtime's own pad fusion runs before its transpose optimizer has brought each
``Pad`` next to its ``Conv``, so the pads survive, and on the CPU every one of them also costs a layout
reorder (NCHWc) on each side. Here the model is first optimised by ONNX Runtime at the portable
``EXTENDED`` level (transposes gone, ``Conv`` + activation fused), then every constant-zero ``Pad`` on the
spatial axes whose only consumer is a convolution is folded into that convolution's ``pads``. The result
computes exactly the same values (zero padding is what a convolution's ``pads`` means), with fewer nodes.

``fold_pool_pads`` does the same for a ``-inf`` ``Pad`` in front of a ``MaxPool`` (TensorFlow's ``SAME``
max pooling): a max pool's own ``pads`` are never the maximum, which is what ``-inf`` padding means. The
INT8 build needs it: a quantizer cannot give a tensor holding ``-inf`` a finite scale.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

_CONVOLUTIONS = frozenset({"Conv", "FusedConv"})
_MAX_POOLS = frozenset({"MaxPool"})
_FOLDABLE_AUTO_PAD = frozenset({b"", b"NOTSET", b"VALID"})


@dataclass(frozen=True, slots=True)
class _PadSpec:
    """The spatial pads of a foldable ``Pad`` node: ``begin`` and ``end`` per spatial axis."""

    begin: tuple[int, ...]
    end: tuple[int, ...]


def fold_zero_pads(model: onnx.ModelProto) -> int:
    """Fold constant-zero spatial ``Pad`` nodes into the ``Conv``/``FusedConv`` that consumes them (in place).

    Args:
        model: An ONNX model (any opset with ``pads`` as an input, i.e. Pad-11 or later).

    Returns:
        How many ``Pad`` nodes were folded away.
    """
    return _fold_pads(model, 0.0, _CONVOLUTIONS)


def fold_pool_pads(model: onnx.ModelProto) -> int:
    """Fold constant ``-inf`` spatial ``Pad`` nodes into the ``MaxPool`` that consumes them (in place).

    Args:
        model: An ONNX model (any opset with ``pads`` as an input, i.e. Pad-11 or later).

    Returns:
        How many ``Pad`` nodes were folded away.
    """
    return _fold_pads(model, float("-inf"), _MAX_POOLS)


def _fold_pads(model: onnx.ModelProto, fill: float, into: frozenset[str]) -> int:
    """Fold ``Pad`` nodes padding with ``fill`` into their only consumer when its type is in ``into``."""
    graph = model.graph
    constants = {item.name: numpy_helper.to_array(item) for item in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    outputs = {item.name for item in graph.output}
    folded: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type != "Pad" or node.output[0] in outputs:
            continue
        users = consumers[node.output[0]]
        spec = _foldable(node, constants, fill)
        if spec is None or len(users) != 1 or users[0].op_type not in into:
            continue
        if _fold_into(users[0], spec, node.input[0]):
            folded.append(node)
    for node in folded:
        graph.node.remove(node)
    return len(folded)


def _foldable(node: onnx.NodeProto, constants: dict[str, np.ndarray], fill: float) -> _PadSpec | None:
    """The spatial pads of a constant-mode ``Pad`` of value ``fill`` on an NCHW tensor; else ``None``."""
    mode = next((attr.s for attr in node.attribute if attr.name == "mode"), b"constant")
    if mode != b"constant" or len(node.input) < 2 or node.input[1] not in constants:
        return None
    value = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(1)
    if value is None or value.size != 1 or float(value.ravel()[0]) != fill:
        return None
    if len(node.input) > 3 and node.input[3]:
        return None  # explicit axes: rare, not worth the bookkeeping
    pads = [int(value) for value in constants[node.input[1]].ravel().tolist()]
    rank = len(pads) // 2
    if rank < 3 or len(pads) != 2 * rank or min(pads) < 0:
        return None
    if pads[0] or pads[1] or pads[rank] or pads[rank + 1]:
        return None  # batch or channel padding is not a convolution's business
    return _PadSpec(begin=tuple(pads[2:rank]), end=tuple(pads[rank + 2 :]))


def _fold_into(conv: onnx.NodeProto, spec: _PadSpec, source: str) -> bool:
    """Add ``spec`` to ``conv``'s (or a pool's) pads and feed it from ``source``; False when it cannot."""
    attributes = {attr.name: attr for attr in conv.attribute}
    auto_pad = attributes.get("auto_pad")
    if auto_pad is not None and auto_pad.s not in _FOLDABLE_AUTO_PAD:
        return False  # SAME_UPPER/SAME_LOWER: the padding depends on the input size
    axes = len(spec.begin)
    old = list(attributes["pads"].ints) if "pads" in attributes else [0] * (2 * axes)
    if len(old) != 2 * axes:
        return False
    pads = [old[i] + spec.begin[i] for i in range(axes)] + [old[axes + i] + spec.end[i] for i in range(axes)]
    for name in ("pads", "auto_pad"):
        if name in attributes:
            conv.attribute.remove(attributes[name])
    conv.attribute.append(helper.make_attribute("pads", pads))
    conv.input[0] = source
    return True
