"""Model registry: where the built-in model lives, and building a detector from its config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from watchkeeper.analyzers.detect.errors import DetectorError
from watchkeeper.analyzers.detect.onnx import OnnxDetector
from watchkeeper.analyzers.detect.protocol import Detector
from watchkeeper.config.detectors import DetectorConfig

MODEL_DIR_ENV = "WATCHKEEPER_MODEL_DIR"
"""Environment variable naming the folder of built models (default: ``var/models`` in the source tree)."""
BUILTIN_MODEL = "nanodet.onnx"
"""File name of the built-in NanoDet-m COCO model that ``make models`` writes."""


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


def builtin_model_path(environ: Mapping[str, str] | None = None) -> Path:
    """Return the path of the built-in model (``nanodet.onnx`` in ``model_dir()``).

    Args:
        environ: Environment to read (default ``os.environ``).

    Returns:
        The path (the file exists once ``make models`` ran).
    """
    return model_dir(environ) / BUILTIN_MODEL


def build_detector(config: DetectorConfig, environ: Mapping[str, str] | None = None) -> Detector:
    """Create the detector ``config`` describes (backend chosen by ``config.type``) and load its model.

    Args:
        config: The ``detection.detector`` settings; ``path`` empty means the built-in model.
        environ: Environment to read for ``$WATCHKEEPER_MODEL_DIR`` (default ``os.environ``).

    Returns:
        A loaded, validated detector.

    Raises:
        DetectorError: When the model is missing (for the built-in one: saying to run ``make models``), not
            ONNX, or does not match the configured format.
    """
    path = config.path
    if path is None:
        path = builtin_model_path(environ)
        if not path.is_file():
            raise DetectorError(
                f"built-in detector model {path} not found: run `make models` to build it "
                "(or set detection.detector.path to an ONNX model)"
            )
    return OnnxDetector(config, path)
