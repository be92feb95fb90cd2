"""Model registry: where the built-in model lives, and building a detector from its config."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import onnxruntime as ort  # type: ignore[import-untyped]

from watchkeeper.analyzers.detect.errors import DetectorError
from watchkeeper.analyzers.detect.onnx import CPU_PROVIDER, OnnxDetector, choose_providers
from watchkeeper.analyzers.detect.protocol import Detector
from watchkeeper.config.detectors import DetectorConfig, Precision

log = logging.getLogger(__name__)

MODEL_DIR_ENV = "WATCHKEEPER_MODEL_DIR"
"""Environment variable naming the folder of built models (default: ``var/models`` in the source tree)."""
BUILTIN_MODEL = "nanodet.onnx"
"""File name of the built-in NanoDet-m COCO model (float) that ``make models`` writes."""
BUILTIN_INT8_MODEL = "nanodet.int8.onnx"
"""File name of its INT8 quantized build (``make models``, ``detect/quantize.py``)."""
BUILTIN_FACE_MODEL = "centerface.onnx"
"""File name of the CenterFace model (faces to blur only) that ``make models`` extracts."""


def model_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return the folder of built models: ``$WATCHKEEPER_MODEL_DIR`` or ``var/models`` in the source tree.

    Args:
        environ: Environment to read (default ``os.environ``).

    Returns:
        The folder (it may not exist yet).
    """
    env = os.environ if environ is None else environ
    if env.get(MODEL_DIR_ENV):
        return Path(env[MODEL_DIR_ENV])
    return Path(__file__).resolve().parents[3] / "var" / "models"


def builtin_model_path(environ: Mapping[str, str] | None = None, precision: Precision | None = None) -> Path:
    """Return the path of the built-in model of ``precision`` in ``model_dir()``.

    Args:
        environ: Environment to read (default ``os.environ``).
        precision: ``fp32`` (``nanodet.onnx``) or ``int8`` (``nanodet.int8.onnx``); default: the configured
            default (``DetectorConfig().precision``).

    Returns:
        The path (the file exists once ``make models`` ran).
    """
    chosen = DetectorConfig().precision if precision is None else precision
    return model_dir(environ) / (BUILTIN_INT8_MODEL if chosen == "int8" else BUILTIN_MODEL)


def builtin_precision(config: DetectorConfig, providers: list[str]) -> Precision:
    """The precision of the built-in model to run: the configured one, but float on a GPU provider.

    The INT8 model is made for the CPU (integer convolutions); on the CUDA provider its quantize/dequantize
    pairs would only add work, so the float model runs there.

    Args:
        config: The detector settings.
        providers: The execution providers the session will use (``choose_providers``).

    Returns:
        ``int8`` or ``fp32``.
    """
    return config.precision if providers == [CPU_PROVIDER] else "fp32"


def build_detector(config: DetectorConfig, environ: Mapping[str, str] | None = None) -> Detector:
    """Create the detector ``config`` describes (backend chosen by ``config.type``) and load its model.

    Args:
        config: The ``detection.detector`` settings; ``path`` empty means the built-in model, in
            ``config.precision``.
        environ: Environment to read for ``$WATCHKEEPER_MODEL_DIR`` (default ``os.environ``).

    Returns:
        A loaded, validated detector.

    Raises:
        DetectorError: When the model is missing (for the built-in one: saying to run ``make models``), not
            ONNX, or does not match the configured format.
    """
    path = config.path
    if path is None:
        precision = builtin_precision(config, choose_providers(config.device, ort.get_available_providers()))
        path = builtin_model_path(environ, precision)
        if not path.is_file():
            other = "" if precision == "fp32" else ", or set detection.detector.precision to fp32"
            raise DetectorError(
                f"built-in detector model {path} ({precision}) not found: run `make models` to build it "
                f"(or set detection.detector.path to an ONNX model{other})"
            )
        if precision != config.precision:
            log.info("detector: the %s built-in model runs on %s (INT8 is for the CPU)", precision, path)
    return OnnxDetector(config, path)
