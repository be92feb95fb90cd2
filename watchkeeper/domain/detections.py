"""``Detections``: the one structure-of-arrays type that flows from detector to tracker, zones and events.

Boxes are ``xyxy`` in pixels of the frame the detector saw (``x1, y1`` top left, ``x2, y2`` bottom right).
Arrays are copied on construction, cast to canonical dtypes and made read-only, so a ``Detections`` value is
immutable like every other domain type. Index it with a boolean mask, an integer array or a slice:
``dets[dets.confidence > 0.5]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

_SCORE_SLACK = 1e-4


def _frozen(values: Any, dtype: type[np.generic], name: str) -> NDArray[Any]:
    try:
        array = np.array(values, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"Detections.{name} must be numeric, got {type(values).__name__}") from err
    array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True, eq=False)
class Detections:
    """N detected objects in one frame, as parallel arrays.

    Attributes:
        xyxy: ``(N, 4)`` float32 boxes in pixels, ``x2 >= x1`` and ``y2 >= y1``.
        confidence: ``(N,)`` float32 scores in ``[0, 1]``.
        class_id: ``(N,)`` int32 class indexes (into the detector's ``class_names``), ``>= 0``.
        tracker_id: ``(N,)`` int64 track ids within one camera, or ``None`` before tracking.
    """

    xyxy: NDArray[np.float32]
    confidence: NDArray[np.float32]
    class_id: NDArray[np.int32]
    tracker_id: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        xyxy = _frozen(self.xyxy, np.float32, "xyxy")
        if xyxy.size == 0:
            xyxy = xyxy.reshape(0, 4)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise ValueError(f"Detections.xyxy must have shape (N, 4), got {xyxy.shape}")
        count = xyxy.shape[0]
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", self._column(self.confidence, np.float32, "confidence", count))
        object.__setattr__(self, "class_id", self._column(self.class_id, np.int32, "class_id", count))
        if self.tracker_id is not None:
            tracker_id = self._column(self.tracker_id, np.int64, "tracker_id", count)
            object.__setattr__(self, "tracker_id", tracker_id)
        self._check_values()

    @staticmethod
    def _column(values: Any, dtype: type[np.generic], name: str, count: int) -> NDArray[Any]:
        array = _frozen(values, dtype, name)
        if array.shape != (count,):
            raise ValueError(
                f"Detections.{name} must have shape ({count},) to match xyxy (N={count}), got {array.shape}"
            )
        return array

    def _check_values(self) -> None:
        if not np.all(np.isfinite(self.xyxy)):
            raise ValueError("Detections.xyxy must be finite (no NaN or infinity)")
        if np.any(self.xyxy[:, 2] < self.xyxy[:, 0]) or np.any(self.xyxy[:, 3] < self.xyxy[:, 1]):
            raise ValueError("Detections.xyxy boxes must have x2 >= x1 and y2 >= y1")
        if np.any(~np.isfinite(self.confidence)) or np.any(
            (self.confidence < -_SCORE_SLACK) | (self.confidence > 1 + _SCORE_SLACK)
        ):
            raise ValueError("Detections.confidence must be within [0, 1]")
        if np.any(self.class_id < 0):
            raise ValueError("Detections.class_id must be >= 0")

    @classmethod
    def empty(cls) -> Detections:
        """Return zero detections (the result for a frame with nothing in it)."""
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros(0, np.float32),
            class_id=np.zeros(0, np.int32),
        )

    @classmethod
    def merge(cls, parts: Sequence[Detections]) -> Detections:
        """Concatenate several ``Detections`` (for example from regions of one frame).

        Args:
            parts: The pieces; either all or none of them carry ``tracker_id``.

        Returns:
            One ``Detections`` with the rows of every part in order.

        Raises:
            ValueError: When some parts have tracker ids and others do not.
        """
        if not parts:
            return cls.empty()
        tracked = [part.tracker_id is not None for part in parts]
        if any(tracked) and not all(tracked):
            raise ValueError("Detections.merge needs tracker_id on all parts or on none")
        tracker_ids = [part.tracker_id for part in parts if part.tracker_id is not None]
        return cls(
            xyxy=np.concatenate([part.xyxy for part in parts]),
            confidence=np.concatenate([part.confidence for part in parts]),
            class_id=np.concatenate([part.class_id for part in parts]),
            tracker_id=np.concatenate(tracker_ids) if all(tracked) else None,
        )

    def __len__(self) -> int:
        """Return the number of detections."""
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: NDArray[np.bool_] | NDArray[np.integer[Any]] | slice | int) -> Detections:
        """Select rows by boolean mask, integer index array, slice or single integer.

        Args:
            index: A boolean mask of length N, integer indexes, a slice or one integer.

        Returns:
            A new ``Detections`` with the selected rows (a single integer keeps one row).

        Raises:
            IndexError: When a boolean mask does not have length N.
        """
        if isinstance(index, int):
            index = np.array([index])
        elif isinstance(index, np.ndarray) and index.dtype == np.bool_ and index.shape != (len(self),):
            raise IndexError(f"boolean mask must have shape ({len(self)},), got {index.shape}")
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
        )

    @property
    def area(self) -> NDArray[np.float32]:
        """Box areas in square pixels, shape ``(N,)``."""
        widths = self.xyxy[:, 2] - self.xyxy[:, 0]
        heights = self.xyxy[:, 3] - self.xyxy[:, 1]
        return (widths * heights).astype(np.float32)

    def with_tracker_id(self, tracker_id: NDArray[np.int64]) -> Detections:
        """Return the same detections carrying track ids (what a tracker returns).

        Args:
            tracker_id: ``(N,)`` track ids, one per row.

        Returns:
            A new ``Detections`` with ``tracker_id`` set.
        """
        return Detections(self.xyxy, self.confidence, self.class_id, tracker_id)
