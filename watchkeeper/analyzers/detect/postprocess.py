"""Model-independent post-processing: candidate boxes, per-class non-maximum suppression, top-k."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from watchkeeper.domain.detections import Detections


@dataclass(frozen=True, slots=True)
class Candidates:
    """Boxes a decoder found above the score threshold, in model-input pixels, before NMS.

    Attributes:
        boxes: ``(N, 4)`` float32 xyxy boxes.
        scores: ``(N,)`` float32 scores.
        class_ids: ``(N,)`` int64 class indexes.
    """

    boxes: NDArray[np.float32]
    scores: NDArray[np.float32]
    class_ids: NDArray[np.int64]

    @classmethod
    def empty(cls) -> Candidates:
        """Return no candidates."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def select(self, keep: NDArray[np.bool_] | NDArray[np.intp]) -> Candidates:
        """Return the rows chosen by a mask or index array."""
        return Candidates(self.boxes[keep], self.scores[keep], self.class_ids[keep])


def box_iou(box: NDArray[np.float32], boxes: NDArray[np.float32]) -> NDArray[np.float32]:
    """IoU of one xyxy box against ``(N, 4)`` boxes.

    Args:
        box: ``(4,)`` box.
        boxes: ``(N, 4)`` boxes.

    Returns:
        ``(N,)`` intersection over union values in [0, 1].
    """
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def nms(
    boxes: NDArray[np.float32], scores: NDArray[np.float32], iou_threshold: float, limit: int
) -> NDArray[np.intp]:
    """Greedy non-maximum suppression.

    Args:
        boxes: ``(N, 4)`` xyxy boxes.
        scores: ``(N,)`` scores.
        iou_threshold: A box overlapping a kept, higher-scoring box by more than this is dropped.
        limit: Most boxes to keep.

    Returns:
        Indexes of the kept boxes, best first.
    """
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < limit:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        order = rest[box_iou(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


def finish(candidates: Candidates, iou_threshold: float, limit: int) -> Candidates:
    """Per-class NMS (boxes of different classes never suppress each other), best first, at most ``limit``.

    Args:
        candidates: Decoded boxes above the score threshold.
        iou_threshold: NMS overlap threshold; ``>= 1`` keeps every box.
        limit: Most boxes to keep.

    Returns:
        The surviving candidates.
    """
    if not len(candidates.scores):
        return candidates
    if iou_threshold >= 1:
        order = np.argsort(-candidates.scores, kind="stable")[:limit]
        return candidates.select(order)
    span = float(np.max(candidates.boxes) - min(float(np.min(candidates.boxes)), 0.0)) + 1.0
    shifted = candidates.boxes + (candidates.class_ids.astype(np.float32) * span)[:, np.newaxis]
    return candidates.select(nms(shifted, candidates.scores, iou_threshold, limit))


def to_detections(candidates: Candidates, boxes: NDArray[np.float32]) -> Detections:
    """Build ``Detections`` from candidates and their boxes mapped to frame pixels.

    Args:
        candidates: The final candidates.
        boxes: Their boxes in frame pixels.

    Returns:
        The detections.
    """
    return Detections(
        xyxy=boxes,
        confidence=np.clip(candidates.scores, 0.0, 1.0),
        class_id=candidates.class_ids.astype(np.int32),
    )
