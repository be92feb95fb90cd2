"""ONNX Runtime detector backend: any ONNX model, described by ``DetectorConfig``.

Runs on the CPU by default and on the CUDA execution provider when ONNX Runtime has it (``device: auto``).
Everything that can be wrong with a model file (missing, not ONNX, input or outputs unlike the configured
format) is found in the constructor and raised as ``DetectorError`` naming the file, so a bad model stops
startup instead of failing on the first frame.
"""

from __future__ import annotations

import inspect
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
from numpy.typing import NDArray
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state  # type: ignore[import-untyped]

from watchkeeper.analyzers.detect.errors import DetectorError
from watchkeeper.analyzers.detect.formats import OutputDecoder, TensorSpec, make_decoder
from watchkeeper.analyzers.detect.graph import fold_zero_pads
from watchkeeper.analyzers.detect.postprocess import finish, to_detections
from watchkeeper.analyzers.detect.preprocess import Preprocessor
from watchkeeper.config.detectors import DetectorConfig
from watchkeeper.domain.detections import Detections

log = logging.getLogger(__name__)

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
_ORT_TYPES = {"float32": "tensor(float)", "uint8": "tensor(uint8)"}


def ort_errors() -> tuple[type[BaseException], ...]:
    """The exception classes ONNX Runtime raises (they derive from ``Exception`` directly)."""
    found = [
        cls
        for _, cls in inspect.getmembers(ort_state, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == ort_state.__name__
    ]
    return (*found, RuntimeError, ValueError)


def choose_providers(device: str, available: Sequence[str]) -> list[str]:
    """Pick execution providers for ``device`` (``auto``, ``cpu`` or ``cuda``) from the available ones.

    Args:
        device: The configured device.
        available: ``onnxruntime.get_available_providers()``.

    Returns:
        Providers in priority order; the CPU provider is always last.

    Raises:
        DetectorError: When ``cuda`` is asked for and ONNX Runtime has no CUDA provider.
    """
    if device == "cuda" and CUDA_PROVIDER not in available:
        raise DetectorError(
            f"device cuda asked for, but ONNX Runtime has no {CUDA_PROVIDER} (available: {list(available)}); "
            "install onnxruntime-gpu or set detection.detector.device to auto"
        )
    if device != "cpu" and CUDA_PROVIDER in available:
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


@dataclass(frozen=True, slots=True)
class _Folded:
    """A session of the model with ``pads`` zero ``Pad`` nodes folded into its convolutions."""

    session: Any
    pads: int


def _without_pads(path: Path, options: Any) -> _Folded | None:
    """A CPU session of ``path`` with its zero ``Pad`` nodes folded into convolutions (``graph.py``).

    ``None`` when nothing could be folded or the folded graph does not load (the caller then keeps the
    session of the file as it is): the fold is an optimisation, never a reason to refuse a model.
    """
    staged = ort.SessionOptions()
    staged.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    staged.intra_op_num_threads = staged.inter_op_num_threads = 1
    staged.log_severity_level = 3
    failures: tuple[type[BaseException], ...] = (*ort_errors(), OSError)
    with tempfile.TemporaryDirectory(prefix="wk-model-") as folder:
        staged.optimized_model_filepath = str(Path(folder) / "extended.onnx")
        try:
            ort.InferenceSession(str(path), sess_options=staged, providers=[CPU_PROVIDER])
            model = onnx.load(staged.optimized_model_filepath)
        except failures as err:
            log.info("detector model %s: no graph clean-up (%s)", path, err)
            return None
    folded = fold_zero_pads(model)
    if not folded:
        return None
    try:
        session = ort.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=[CPU_PROVIDER]
        )
    except ort_errors() as err:
        log.warning("detector model %s: the graph with %d pads folded does not load (%s)", path, folded, err)
        return None
    log.info("detector model %s: %d zero pads folded into convolutions", path, folded)
    return _Folded(session, folded)


def _spec(arg: Any) -> TensorSpec:
    return TensorSpec(str(arg.name), tuple(dim if isinstance(dim, int) else None for dim in arg.shape))


class OnnxDetector:
    """A ``Detector`` running one ONNX model with ONNX Runtime.

    ``detect`` is thread-safe (ONNX Runtime sessions may run concurrently), so one instance can serve
    several cameras.
    """

    def __init__(self, config: DetectorConfig, model_path: Path) -> None:
        """Load and validate the model.

        Args:
            config: The detector settings (``config.path`` is ignored; pass the resolved ``model_path``).
            model_path: The ONNX file to load.

        Raises:
            DetectorError: When the file is missing, is not a loadable ONNX model, or its input or outputs do
                not match ``config``; the message names the file.
        """
        self._config = config
        self._path = model_path
        self._class_names = tuple(config.class_names)
        self.folded_pads = 0
        """Zero ``Pad`` nodes folded into convolutions at load (CPU only; see ``graph.py``)."""
        self._session = self._open(config, model_path)
        inputs = [_spec(arg) for arg in self._session.get_inputs()]
        self._input_name = self._check_input(inputs, self._session.get_inputs())
        outputs = [_spec(arg) for arg in self._session.get_outputs()]
        self._decoder: OutputDecoder = make_decoder(config, outputs, model_path)
        self._preprocess = Preprocessor(config)
        log.info(
            "detector %s loaded (%s, %d classes) on %s",
            model_path,
            config.output_format,
            len(self._class_names),
            ", ".join(self.providers),
        )

    def _open(self, config: DetectorConfig, path: Path) -> Any:
        """Create the ONNX Runtime session (``threads: 0`` picks a count for this machine)."""
        if not path.is_file():
            raise DetectorError(f"detector model {path} not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.threads or default_threads(os.cpu_count())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = choose_providers(config.device, ort.get_available_providers())
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except ort_errors() as err:
            raise DetectorError(f"detector model {path} is not a loadable ONNX model: {err}") from err
        if providers != [CPU_PROVIDER]:
            return session
        folded = _without_pads(path, options)
        if folded is None:
            return session
        self.folded_pads = folded.pads
        return folded.session

    def _check_input(self, inputs: list[TensorSpec], args: Sequence[Any]) -> str:
        config, path = self._config, self._path
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise DetectorError(
                f"{path}: expected one image input of rank 4, the model has inputs "
                f"{', '.join(spec.describe() for spec in inputs) or 'none'}"
            )
        spec = inputs[0]
        height, width = config.input_height, config.input_width
        expected = (3, height, width) if config.input_layout == "nchw" else (height, width, 3)
        if any(dim is not None and dim != want for dim, want in zip(spec.shape[1:], expected, strict=True)):
            raise DetectorError(
                f"{path}: input {spec.describe()} does not match the configured {config.input_layout} input "
                f"[1, {', '.join(map(str, expected))}] (check input_width, input_height, input_layout)"
            )
        if args[0].type != _ORT_TYPES[config.input_dtype]:
            raise DetectorError(
                f"{path}: input {spec.name} has type {args[0].type}, the config says {config.input_dtype}"
            )
        return spec.name

    @property
    def class_names(self) -> Sequence[str]:
        """Class names by index."""
        return self._class_names

    @property
    def model_path(self) -> Path:
        """The loaded ONNX file."""
        return self._path

    @property
    def providers(self) -> list[str]:
        """Execution providers the session actually uses, in priority order."""
        return list(self._session.get_providers())

    def detect(self, frame: NDArray[np.uint8]) -> Detections:
        """Detect objects in one ``(H, W, 3)`` uint8 **RGB** frame.

        Args:
            frame: The frame (PyAV ``to_ndarray(format="rgb24")``).

        Returns:
            Detections above the score threshold after per-class NMS, boxes in frame pixels.

        Raises:
            ValueError: When ``frame`` is not an ``(H, W, 3)`` uint8 array.
            DetectorError: When ONNX Runtime fails to run the model.
        """
        tensor, transform = self._preprocess(frame)
        try:
            outputs = self._session.run(list(self._decoder.output_names), {self._input_name: tensor})
        except ort_errors() as err:
            raise DetectorError(f"detector model {self._path} failed to run: {err}") from err
        candidates = self._decoder.decode(outputs, self._config.score_threshold)
        candidates = candidates.select(candidates.class_ids < len(self._class_names))
        candidates = finish(candidates, self._config.nms_iou, self._config.max_detections)
        return to_detections(candidates, transform.to_frame(candidates.boxes))


def default_threads(cpu_count: int | None) -> int:
    """ONNX Runtime threads when the config says 0.

    On a small box (2 cores or fewer) one thread is faster overall: the detector shares the cores with
    the camera threads, and a second spinning intra-op thread only steals from them (measured on the
    2-core machine: 93 % CPU instead of 112 % for the same 16-camera run, with shorter detector latency).
    Larger machines use half their cores, leaving the rest to decoding.
    """
    cores = cpu_count or 1
    return 1 if cores <= 2 else max(1, cores // 2)
