"""Build-time INT8 quantization of a float detector model (``make models`` runs it for the built-in NanoDet).

Static quantization with ONNX Runtime's own tool (``onnxruntime.quantization``), in the QDQ format: weights
int8, symmetric, one scale per output channel; activations uint8, their ranges calibrated (min/max) on real
frames prepared exactly as the detector prepares them (``Preprocessor``), whole frames and stretched region
crops alike (half and a quarter of the frame), since the analysis pipeline runs both. ONNX Runtime turns
each ``DequantizeLinear -> Conv -> QuantizeLinear`` group into an integer convolution, which uses the VNNI
instructions of the CPU when it has them.

Before calibration the float model is optimised by ONNX Runtime at the ``BASIC`` level (constants folded,
the converter's transposes removed, bias ``Add`` fused into ``Conv``; no contrib ops, which the quantizer
would not know), its zero ``Pad`` nodes are folded into the convolutions and its ``-inf`` ``Pad`` into the max
pool (``graph.py``), so the quantized graph has the shape the float one has at run time and no tensor holds
an infinity (which no int8 scale can represent).

This runs at build time (``scripts/build_models.py``), never on the analysis path.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
from numpy.typing import NDArray
from onnxruntime import quantization as ortq

from watchkeeper.analyzers.detect.errors import DetectorError
from watchkeeper.analyzers.detect.graph import fold_pool_pads, fold_zero_pads
from watchkeeper.analyzers.detect.onnx import CPU_PROVIDER, ort_errors
from watchkeeper.analyzers.detect.preprocess import Preprocessor
from watchkeeper.config.detectors import DetectorConfig

log = logging.getLogger(__name__)

CROP_SIZES = (0.5, 0.25)
"""Region crops added to the calibration set per frame: half and a quarter of the frame's width and height,
at seeded random places, stretched to the model input. Motion-region crops are upscaled that much (a
160x96 crop of a 640x360 frame is stretched 2.6-4.3x to 416x416); calibrated on whole frames and half-size
crops only, the INT8 model lost people in such crops (score 0.30 where the float model gave 0.64)."""


@dataclass(frozen=True, slots=True)
class QuantizeReport:
    """What one quantization did.

    Attributes:
        calibration_inputs: Model inputs the activation ranges were calibrated on.
        folded_pads: ``Pad`` nodes folded into convolutions and max pools before quantizing.
        quantized_convolutions: ``Conv`` nodes whose weights became int8.
        size_bytes: Size of the written model.
    """

    calibration_inputs: int
    folded_pads: int
    quantized_convolutions: int
    size_bytes: int


def calibration_inputs(frames: Sequence[NDArray[np.uint8]], config: DetectorConfig) -> list[NDArray[Any]]:
    """Model inputs for calibration: every frame whole, then crops of each (``CROP_SIZES``), stretched.

    Args:
        frames: ``(H, W, 3)`` uint8 RGB frames.
        config: The detector settings (input size, channel order, normalisation).

    Returns:
        The prepared input tensors, whole frames first; the same frames always give the same tensors.

    Raises:
        ValueError: When there are no frames or a frame is not ``(H, W, 3)`` uint8.
    """
    if not frames:
        raise ValueError("calibration needs at least one frame")
    prepare = Preprocessor(config)
    tensors = [prepare(frame)[0] for frame in frames]
    for index, frame in enumerate(frames):
        places = np.random.default_rng(index)
        height, width = frame.shape[:2]
        for size in CROP_SIZES:
            crop_h, crop_w = max(1, int(height * size)), max(1, int(width * size))
            y = int(places.integers(0, height - crop_h + 1))
            x = int(places.integers(0, width - crop_w + 1))
            tensors.append(prepare(np.ascontiguousarray(frame[y : y + crop_h, x : x + crop_w]))[0])
    return tensors


class _Inputs(ortq.CalibrationDataReader):  # type: ignore[misc]
    """Feeds the calibration tensors to ONNX Runtime's calibrator, one ``{input: tensor}`` at a time."""

    def __init__(self, name: str, tensors: Sequence[NDArray[Any]]) -> None:
        self._feeds: Iterator[dict[str, NDArray[Any]]] = iter([{name: tensor} for tensor in tensors])

    def get_next(self) -> dict[str, NDArray[Any]] | None:
        """The next input, or ``None`` when all were given."""
        return next(self._feeds, None)


def prepare_float_model(source: Path) -> tuple[onnx.ModelProto, int]:
    """The float model as ONNX Runtime's ``BASIC`` optimiser leaves it, with its pads folded.

    Args:
        source: The float ONNX model.

    Returns:
        The optimised model and how many ``Pad`` nodes were folded (into convolutions and max pools).

    Raises:
        DetectorError: When ONNX Runtime cannot load ``source``.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory(prefix="wk-quantize-") as folder:
        options.optimized_model_filepath = str(Path(folder) / "basic.onnx")
        try:
            ort.InferenceSession(str(source), sess_options=options, providers=[CPU_PROVIDER])
        except ort_errors() as err:
            raise DetectorError(f"{source} is not a loadable ONNX model: {err}") from err
        model = onnx.load(options.optimized_model_filepath)
    folded = fold_zero_pads(model) + fold_pool_pads(model)
    used = {name for node in model.graph.node for name in node.input}
    for initializer in [item for item in model.graph.initializer if item.name not in used]:
        model.graph.initializer.remove(initializer)  # the folded pads' constants
    return model, folded


def quantize_model(
    source: Path, output: Path, frames: Sequence[NDArray[np.uint8]], config: DetectorConfig
) -> QuantizeReport:
    """Write an INT8 (QDQ, per-channel) copy of the float model ``source`` to ``output``.

    Args:
        source: The float ONNX model.
        output: Where to write the quantized model (its folder must exist).
        frames: ``(H, W, 3)`` uint8 RGB frames to calibrate the activation ranges on.
        config: The detector settings the model runs with (how frames become inputs).

    Returns:
        What was done.

    Raises:
        DetectorError: When ``source`` cannot be loaded or has not exactly one input.
        ValueError: When ``frames`` is empty or holds a frame that is not ``(H, W, 3)`` uint8.
    """
    model, folded = prepare_float_model(source)
    if len(model.graph.input) != 1:
        raise DetectorError(
            f"{source}: quantization expects one image input, the model has {len(model.graph.input)}"
        )
    tensors = calibration_inputs(frames, config)
    with tempfile.TemporaryDirectory(prefix="wk-quantize-") as folder:
        prepared = Path(folder) / "prepared.onnx"
        onnx.save(model, str(prepared))
        ortq.quantize_static(
            prepared,
            output,
            _Inputs(model.graph.input[0].name, tensors),
            quant_format=ortq.QuantFormat.QDQ,
            per_channel=True,
            activation_type=ortq.QuantType.QUInt8,
            weight_type=ortq.QuantType.QInt8,
            calibrate_method=ortq.CalibrationMethod.MinMax,
            extra_options={"WeightSymmetric": True},
        )
    quantized = onnx.load(str(output))
    convolutions = _quantized_convolutions(quantized)
    log.info(
        "quantized %s -> %s: %d int8 convolutions, %d inputs", source, output, convolutions, len(tensors)
    )
    return QuantizeReport(len(tensors), folded, convolutions, output.stat().st_size)


def _quantized_convolutions(model: onnx.ModelProto) -> int:
    """``Conv`` nodes whose weight input comes out of a ``DequantizeLinear`` of an int8 constant."""
    dequantized = {node.output[0] for node in model.graph.node if node.op_type == "DequantizeLinear"}
    return sum(1 for node in model.graph.node if node.op_type == "Conv" and node.input[1] in dequantized)
