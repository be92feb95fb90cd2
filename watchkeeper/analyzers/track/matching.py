"""Box overlap and greedy one-to-one association."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def box_iou(a: NDArray[np.floating], b: NDArray[np.floating]) -> NDArray[np.float64]:
    """Intersection over union of every box in ``a`` ``(N, 4)`` with every box in ``b`` ``(M, 4)``.

    Returns:
        ``(N, M)`` IoU values in [0, 1]; zero-area boxes have IoU 0 with everything.
    """
    first = np.asarray(a, dtype=np.float64)[:, None, :]
    second = np.asarray(b, dtype=np.float64)[None, :, :]
    low = np.maximum(first[..., :2], second[..., :2])
    high = np.minimum(first[..., 2:], second[..., 2:])
    inter = np.prod(np.clip(high - low, 0.0, None), axis=-1)
    area_a = np.prod(first[..., 2:] - first[..., :2], axis=-1)
    area_b = np.prod(second[..., 2:] - second[..., :2], axis=-1)
    union = area_a + area_b - inter
    result: NDArray[np.float64] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return result


def greedy_match(score: NDArray[np.float64], threshold: float) -> NDArray[np.int64]:
    """Pair rows with columns one-to-one, best score first, ignoring pairs scoring below ``threshold``.

    Args:
        score: ``(N, M)`` similarity (higher is better), for example IoU.
        threshold: Minimum score of an accepted pair.

    Returns:
        ``(K, 2)`` int64 array of ``[row, column]`` pairs.
    """
    rows, cols = np.nonzero(score >= threshold)
    if rows.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    order = np.argsort(-score[rows, cols], kind="stable")
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs: list[list[int]] = []
    for row, col in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if row in used_rows or col in used_cols:
            continue
        used_rows.add(row)
        used_cols.add(col)
        pairs.append([row, col])
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
