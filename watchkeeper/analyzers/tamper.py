"""Camera health analytics: covered, too dark, moved or refocused, sudden large scene change.

Works on the small grey analysis frames. Each frame is reduced to a few figures: mean brightness, contrast
(standard deviation), edge energy (mean absolute gradient, a sharpness measure) and a coarse 16x9 thumbnail.
A slow **reference** (exponential average of healthy frames, time constant ``reference_s``) holds what the
scene normally looks like. Conditions:

- ``dark``: mean brightness under ``dark_level`` (night without light, or a cap over the lens).
- ``covered``: the image is nearly uniform (contrast under ``covered_contrast``) but not dark, while the
  reference is not: a hand, a cloth, spray paint.
- ``defocused``: edge energy fell under ``defocus_ratio`` of the reference's while contrast stayed.
- ``moved``: the thumbnail's structure no longer matches the reference (normalized correlation under
  ``moved_correlation``): the camera was turned, or the scene changed suddenly and largely.

A condition must hold for ``raise_s`` seconds to raise and be clear for ``clear_s`` seconds to end
(hysteresis), so a bus passing by or a light switching does not flap. While any condition is active the
reference is frozen; a ``moved`` condition that lasts ``relearn_s`` adopts the new view as the reference
(the camera was re-aimed on purpose) and ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

_THUMB = (9, 16)


class TamperCondition(StrEnum):
    """What is wrong with the camera's picture."""

    COVERED = "covered"
    DARK = "dark"
    DEFOCUSED = "defocused"
    MOVED = "moved"

    @property
    def description(self) -> str:
        """A short human description."""
        return {
            "covered": "camera covered",
            "dark": "image too dark",
            "defocused": "camera out of focus",
            "moved": "camera moved or scene changed",
        }[self.value]


@dataclass(frozen=True, slots=True)
class TamperSettings:
    """Thresholds and timing of tamper detection (see the module docstring)."""

    dark_level: float = 25.0
    covered_contrast: float = 8.0
    defocus_ratio: float = 0.35
    moved_correlation: float = 0.5
    raise_s: float = 3.0
    clear_s: float = 3.0
    reference_s: float = 60.0
    relearn_s: float = 120.0
    warmup_s: float = 2.0

    def __post_init__(self) -> None:
        """Check the values."""
        if not 0 < self.defocus_ratio < 1 or not -1 < self.moved_correlation < 1:
            raise ValueError("need 0 < defocus_ratio < 1 and -1 < moved_correlation < 1")
        if min(self.raise_s, self.clear_s, self.warmup_s) < 0 or min(self.reference_s, self.relearn_s) <= 0:
            raise ValueError("times must be >= 0 (reference_s and relearn_s > 0)")


@dataclass(frozen=True, slots=True)
class FrameFigures:
    """The figures tamper detection uses from one grey frame."""

    brightness: float
    contrast: float
    edges: float
    thumb: NDArray[np.float32]

    @classmethod
    def of(cls, grey: NDArray[np.uint8]) -> FrameFigures:
        """Measure ``grey`` (2-D uint8).

        Raises:
            ValueError: ``grey`` is not 2-D or smaller than 16x9.
        """
        if grey.ndim != 2 or grey.shape[0] < _THUMB[0] or grey.shape[1] < _THUMB[1]:
            raise ValueError(f"expected a 2-D grey frame of at least 16x9, got shape {grey.shape}")
        image = grey.astype(np.float32)
        edges = float(np.abs(np.diff(image, axis=1)).mean() + np.abs(np.diff(image, axis=0)).mean())
        rows, cols = _THUMB
        height, width = image.shape[0] // rows * rows, image.shape[1] // cols * cols
        thumb = image[:height, :width].reshape(rows, height // rows, cols, width // cols).mean(axis=(1, 3))
        return cls(float(image.mean()), float(image.std()), edges, thumb.astype(np.float32))


def structure_correlation(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    """Normalized correlation of two thumbnails (1 = same structure, ~0 = unrelated); 1 when both are flat."""
    da, db = a - a.mean(), b - b.mean()
    norm = float(np.sqrt((da * da).sum() * (db * db).sum()))
    if norm < 1e-6:
        return 1.0
    return float((da * db).sum() / norm)


@dataclass(frozen=True, slots=True)
class TamperChange:
    """A condition started (``active``) or ended at ``at``; ``since`` is when it first held."""

    condition: TamperCondition
    active: bool
    since: datetime
    at: datetime
    score: float


@dataclass(slots=True)
class _State:
    pending_since: datetime | None = None
    active_since: datetime | None = None
    clear_since: datetime | None = None
    peak: float = 0.0


class TamperDetector:
    """Per camera: feed grey frames with ``update``; get ``TamperChange`` values when conditions flip."""

    def __init__(self, settings: TamperSettings | None = None) -> None:
        """Create a detector with no reference yet (it learns one during ``warmup_s``)."""
        self._settings = settings or TamperSettings()
        self._reference: FrameFigures | None = None
        self._first: datetime | None = None
        self._last: datetime | None = None
        self._states = {condition: _State() for condition in TamperCondition}

    @property
    def active(self) -> frozenset[TamperCondition]:
        """The conditions raised now."""
        return frozenset(cond for cond, state in self._states.items() if state.active_since is not None)

    def update(self, grey: NDArray[np.uint8], at: datetime) -> list[TamperChange]:
        """Feed one analysis frame taken at ``at``; return the conditions that started or ended."""
        figures = FrameFigures.of(grey)
        if self._first is None or (self._last is not None and at < self._last):
            self._first, self._reference = at, figures
        elapsed = (at - self._last).total_seconds() if self._last is not None else 0.0
        self._last = at
        reference = self._reference or figures
        if (at - self._first).total_seconds() < self._settings.warmup_s:
            self._learn(figures, elapsed, fast=True)
            return []
        raw = self._evaluate(figures, reference)
        changes: list[TamperChange] = []
        for condition, score in raw.items():
            changes += self._step(condition, score, at)
        if not self.active and not any(score > 0 for score in raw.values()):
            self._learn(figures, elapsed, fast=False)
        changes += self._relearn_if_moved(figures, at)
        return changes

    def close(self, at: datetime) -> list[TamperChange]:
        """End every active condition (the camera disconnects); forget the reference."""
        changes = [
            TamperChange(cond, False, state.active_since, at, state.peak)
            for cond, state in self._states.items()
            if state.active_since is not None
        ]
        self._states = {condition: _State() for condition in TamperCondition}
        self._first = self._reference = self._last = None
        return changes

    def _evaluate(self, figures: FrameFigures, reference: FrameFigures) -> dict[TamperCondition, float]:
        s = self._settings
        dark = figures.brightness < s.dark_level
        covered = (
            not dark
            and figures.contrast < s.covered_contrast
            and reference.contrast >= 2 * s.covered_contrast
        )
        sharp_ratio = figures.edges / max(reference.edges, 1e-6)
        defocused = not covered and not dark and sharp_ratio < s.defocus_ratio and reference.edges > 1.0
        correlation = structure_correlation(figures.thumb, reference.thumb)
        moved = not covered and not dark and correlation < s.moved_correlation
        return {
            TamperCondition.COVERED: 1.0 - figures.contrast / max(reference.contrast, 1e-6)
            if covered
            else 0.0,
            TamperCondition.DARK: 1.0 - figures.brightness / max(s.dark_level, 1e-6) if dark else 0.0,
            TamperCondition.DEFOCUSED: 1.0 - sharp_ratio if defocused else 0.0,
            TamperCondition.MOVED: min(1.0, (1.0 - correlation) / 2.0 + 0.5) if moved else 0.0,
        }

    def _step(self, condition: TamperCondition, score: float, at: datetime) -> list[TamperChange]:
        s, state = self._settings, self._states[condition]
        score = float(min(max(score, 0.0), 1.0))
        if score > 0:
            state.clear_since = None
            state.pending_since = state.pending_since or at
            state.peak = max(state.peak, score)
            if state.active_since is None and (at - state.pending_since).total_seconds() >= s.raise_s:
                state.active_since = state.pending_since
                return [TamperChange(condition, True, state.active_since, at, state.peak)]
            return []
        state.pending_since = None
        if state.active_since is None:
            state.peak = 0.0
            return []
        state.clear_since = state.clear_since or at
        if (at - state.clear_since).total_seconds() < s.clear_s:
            return []
        change = TamperChange(condition, False, state.active_since, state.clear_since, state.peak)
        self._states[condition] = _State()
        return [change]

    def _relearn_if_moved(self, figures: FrameFigures, at: datetime) -> list[TamperChange]:
        state = self._states[TamperCondition.MOVED]
        since = state.active_since
        if since is None or (at - since).total_seconds() < self._settings.relearn_s:
            return []
        self._reference = figures
        self._states[TamperCondition.MOVED] = _State()
        return [TamperChange(TamperCondition.MOVED, False, since, at, state.peak)]

    def _learn(self, figures: FrameFigures, elapsed: float, *, fast: bool) -> None:
        reference = self._reference
        if reference is None:
            self._reference = figures
            return
        rate = 0.5 if fast else min(1.0, elapsed / self._settings.reference_s)
        self._reference = FrameFigures(
            brightness=reference.brightness + rate * (figures.brightness - reference.brightness),
            contrast=reference.contrast + rate * (figures.contrast - reference.contrast),
            edges=reference.edges + rate * (figures.edges - reference.edges),
            thumb=(reference.thumb + rate * (figures.thumb - reference.thumb)).astype(np.float32),
        )
