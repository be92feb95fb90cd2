"""Output formats: check a model's outputs against its configured format, and decode them into candidates.

``make_decoder`` runs once at load time and raises ``DetectorError`` naming the file and the mismatch; the
decoder it returns turns one inference's outputs into ``Candidates`` in model-input pixels.

- ``nanodet``: per stride, class scores ``[1, cells, C]`` (already sigmoid) and box bins
  ``[1, cells, 4*(R+1)]`` (distances left/top/right/bottom from the cell centre, softmax over R+1 bins,
  expected value x stride).
- ``yolo``: one ``[1, 4+C, N]`` (YOLOv8) or ``[1, N, 5+C]`` (YOLOv5, with objectness) output, either
  orientation, boxes as centre x, centre y, width, height in input pixels.
- ``ssd``: named outputs boxes ``[1, N, 4]``, scores ``[1, N]``, classes ``[1, N]`` and an optional count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from watchkeeper.analyzers.detect.errors import DetectorError
from watchkeeper.analyzers.detect.postprocess import Candidates
from watchkeeper.config.detectors import DetectorConfig

NANODET_STRIDES = (8, 16, 32, 64, 128)
"""Strides a NanoDet-style level may have; each is recognised by its cell count for the input size."""
CELL_OFFSET = 0.5
"""Cell centres sit at ``(index + CELL_OFFSET) * stride``."""


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """Name and shape of one model input or output; symbolic dimensions are ``None``."""

    name: str
    shape: tuple[int | None, ...]

    def describe(self) -> str:
        """Render as ``name [1, 2704, 80]``."""
        dims = ", ".join("?" if dim is None else str(dim) for dim in self.shape)
        return f"{self.name} [{dims}]"


class OutputDecoder(Protocol):
    """Decodes one inference's outputs (in ``output_names`` order) into candidates above a score."""

    @property
    def output_names(self) -> tuple[str, ...]:
        """The outputs to request from the model, in the order ``decode`` expects."""
        ...

    def decode(self, outputs: Sequence[NDArray[Any]], score_threshold: float) -> Candidates:
        """Return candidates in model-input pixels with score above ``score_threshold``."""
        ...


def _describe(specs: Sequence[TensorSpec]) -> str:
    return ", ".join(spec.describe() for spec in specs) or "none"


@dataclass(frozen=True, slots=True)
class NanoDetLevel:
    """One stride of a NanoDet-style head."""

    scores: str
    boxes: str
    stride: int
    grid_width: int
    bins: int


@dataclass(frozen=True, slots=True)
class NanoDetDecoder:
    """Decoder for NanoDet / GFL-style heads (per-stride scores and distance distributions)."""

    levels: tuple[NanoDetLevel, ...]

    @property
    def output_names(self) -> tuple[str, ...]:
        """Scores then boxes, level by level."""
        return tuple(name for level in self.levels for name in (level.scores, level.boxes))

    def decode(self, outputs: Sequence[NDArray[Any]], score_threshold: float) -> Candidates:
        """Decode every level and concatenate the candidates."""
        parts = [
            self._level(level, outputs[2 * index][0], outputs[2 * index + 1][0], score_threshold)
            for index, level in enumerate(self.levels)
        ]
        return Candidates(
            np.concatenate([part.boxes for part in parts]),
            np.concatenate([part.scores for part in parts]),
            np.concatenate([part.class_ids for part in parts]),
        )

    @staticmethod
    def _level(level: NanoDetLevel, scores: NDArray[Any], bins: NDArray[Any], threshold: float) -> Candidates:
        best = scores.max(axis=1)
        cells = np.nonzero(best > threshold)[0]
        if not cells.size:
            return Candidates.empty()
        logits = bins[cells].reshape(-1, 4, level.bins).astype(np.float32)
        logits -= logits.max(axis=2, keepdims=True)
        weights = np.exp(logits)
        weights /= weights.sum(axis=2, keepdims=True)
        distances = (weights @ np.arange(level.bins, dtype=np.float32)) * level.stride
        centre_x = (cells % level.grid_width + CELL_OFFSET) * level.stride
        centre_y = (cells // level.grid_width + CELL_OFFSET) * level.stride
        boxes = np.stack(
            [
                centre_x - distances[:, 0],
                centre_y - distances[:, 1],
                centre_x + distances[:, 2],
                centre_y + distances[:, 3],
            ],
            axis=1,
        ).astype(np.float32)
        return Candidates(
            boxes, best[cells].astype(np.float32), scores[cells].argmax(axis=1).astype(np.int64)
        )


def _nanodet(config: DetectorConfig, outputs: Sequence[TensorSpec], source: Path) -> NanoDetDecoder:
    classes = len(config.class_names)
    expected = (
        f"format nanodet expects per-stride pairs of class scores [1, cells, {classes}] and box bins "
        f"[1, cells, 4*(R+1)] for input {config.input_width}x{config.input_height}"
    )
    scores = [spec for spec in outputs if len(spec.shape) == 3 and spec.shape[2] == classes]
    boxes = [spec for spec in outputs if len(spec.shape) == 3 and spec not in scores and _divisible(spec, 4)]
    cells = sorted(_cells(spec) for spec in scores)
    if not scores or len(scores) != len(boxes) or cells != sorted(_cells(spec) for spec in boxes):
        raise DetectorError(f"{source}: {expected}; the model has outputs {_describe(outputs)}")
    levels = []
    for score_spec in sorted(scores, key=_cells, reverse=True):
        box_spec = next(spec for spec in boxes if _cells(spec) == _cells(score_spec))
        stride = next(
            (s for s in NANODET_STRIDES if _grid(config, s)[0] * _grid(config, s)[1] == _cells(score_spec)),
            None,
        )
        if stride is None:
            raise DetectorError(
                f"{source}: {expected}; output {score_spec.describe()} matches no stride of "
                f"{list(NANODET_STRIDES)} (is input_width/input_height right?)"
            )
        bins = int(box_spec.shape[2] or 0) // 4
        levels.append(NanoDetLevel(score_spec.name, box_spec.name, stride, _grid(config, stride)[0], bins))
    return NanoDetDecoder(tuple(levels))


def _cells(spec: TensorSpec) -> int:
    return -1 if spec.shape[1] is None else int(spec.shape[1])


def _divisible(spec: TensorSpec, by: int) -> bool:
    return spec.shape[2] is not None and spec.shape[2] > 0 and spec.shape[2] % by == 0


def _grid(config: DetectorConfig, stride: int) -> tuple[int, int]:
    return -(-config.input_width // stride), -(-config.input_height // stride)


@dataclass(frozen=True, slots=True)
class YoloDecoder:
    """Decoder for YOLOv5/YOLOv8-style single outputs with centre-size boxes."""

    name: str
    channels_first: bool
    objectness: bool

    @property
    def output_names(self) -> tuple[str, ...]:
        """The one prediction output."""
        return (self.name,)

    def decode(self, outputs: Sequence[NDArray[Any]], score_threshold: float) -> Candidates:
        """Best class per row, times objectness for YOLOv5-style outputs."""
        rows = outputs[0][0].T if self.channels_first else outputs[0][0]
        first_class = 5 if self.objectness else 4
        class_scores = rows[:, first_class:]
        class_ids = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(rows)), class_ids]
        if self.objectness:
            scores = scores * rows[:, 4]
        keep = np.nonzero(scores > score_threshold)[0]
        centre_x, centre_y, width, height = (rows[keep, axis] for axis in range(4))
        half_w, half_h = np.abs(width) / 2, np.abs(height) / 2
        boxes = np.stack([centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h], axis=1)
        return Candidates(
            boxes.astype(np.float32), scores[keep].astype(np.float32), class_ids[keep].astype(np.int64)
        )


def _yolo(config: DetectorConfig, outputs: Sequence[TensorSpec], source: Path) -> YoloDecoder:
    classes = len(config.class_names)
    widths = (4 + classes, 5 + classes)
    for spec in outputs:
        if len(spec.shape) != 3:
            continue
        if spec.shape[1] in widths and spec.shape[2] not in widths:
            return YoloDecoder(spec.name, channels_first=True, objectness=spec.shape[1] == 5 + classes)
        if spec.shape[2] in widths:
            return YoloDecoder(spec.name, channels_first=False, objectness=spec.shape[2] == 5 + classes)
    raise DetectorError(
        f"{source}: format yolo expects one output [1, {widths[0]} or {widths[1]}, N] or "
        f"[1, N, {widths[0]} or {widths[1]}] for {classes} class names; "
        f"the model has outputs {_describe(outputs)}"
    )


@dataclass(frozen=True, slots=True)
class SsdDecoder:
    """Decoder for SSD-style models that output final boxes, scores and classes (NMS usually inside)."""

    names: tuple[str, ...]
    normalized: bool
    yxyx: bool
    class_offset: int
    input_width: int
    input_height: int

    @property
    def output_names(self) -> tuple[str, ...]:
        """Boxes, scores, classes and (when configured) the count."""
        return self.names

    def decode(self, outputs: Sequence[NDArray[Any]], score_threshold: float) -> Candidates:
        """Keep the first ``count`` rows above the score, mapped to input pixels in xyxy order."""
        boxes, scores, classes = (np.asarray(output).reshape(-1, *output.shape[2:]) for output in outputs[:3])
        count = int(np.asarray(outputs[3]).reshape(-1)[0]) if len(outputs) > 3 else len(scores)
        boxes, scores, classes = boxes[:count], scores[:count], classes[:count]
        class_ids = np.rint(classes).astype(np.int64) - self.class_offset
        keep = np.nonzero((scores > score_threshold) & (class_ids >= 0))[0]
        picked = boxes[keep].astype(np.float32)
        if self.yxyx:
            picked = picked[:, [1, 0, 3, 2]]
        if self.normalized:
            picked = picked * np.array([self.input_width, self.input_height] * 2, dtype=np.float32)
        ordered = np.concatenate(
            [np.minimum(picked[:, :2], picked[:, 2:]), np.maximum(picked[:, :2], picked[:, 2:])], axis=1
        )
        return Candidates(ordered, scores[keep].astype(np.float32), class_ids[keep])


def _ssd(config: DetectorConfig, outputs: Sequence[TensorSpec], source: Path) -> SsdDecoder:
    names = config.ssd_outputs
    wanted = [names.boxes, names.scores, names.classes] + ([names.count] if names.count else [])
    by_name = {spec.name: spec for spec in outputs}
    missing = [name for name in wanted if name not in by_name]
    if missing:
        raise DetectorError(
            f"{source}: format ssd expects outputs {wanted}; missing {missing}; the model has outputs "
            f"{_describe(outputs)} (set detection.detector.ssd_outputs)"
        )
    boxes = by_name[names.boxes]
    if not boxes.shape or boxes.shape[-1] != 4:
        raise DetectorError(f"{source}: format ssd expects boxes [1, N, 4]; got {boxes.describe()}")
    return SsdDecoder(
        tuple(wanted),
        normalized=config.boxes_normalized,
        yxyx=config.box_order == "yxyx",
        class_offset=config.class_offset,
        input_width=config.input_width,
        input_height=config.input_height,
    )


def make_decoder(config: DetectorConfig, outputs: Sequence[TensorSpec], source: Path) -> OutputDecoder:
    """Check ``outputs`` against ``config.output_format`` and return the matching decoder.

    Args:
        config: The detector settings (format, class names, input size).
        outputs: The model's outputs.
        source: The model file, for error messages.

    Returns:
        A decoder for this model.

    Raises:
        DetectorError: When the outputs do not match the configured format (the message lists them).
    """
    if config.output_format == "nanodet":
        return _nanodet(config, outputs, source)
    if config.output_format == "yolo":
        return _yolo(config, outputs, source)
    return _ssd(config, outputs, source)
