"""A constant-velocity Kalman filter over many boxes at once (numpy, batched).

The state of one box is ``[cx, cy, w, h, vcx, vcy, vw, vh]``: centre, size and their rates of change.
Rates are expressed per *reference step* (``ref_dt`` seconds) so the noise weights keep the meaning they
have in ByteTrack's per-frame filter whatever the analysis rate and whatever gaps there are between frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_STATE = 8
_MEASURE = 4
_H = np.hstack([np.eye(_MEASURE), np.zeros((_MEASURE, _MEASURE))])


@dataclass(frozen=True, slots=True)
class KalmanSettings:
    """Noise weights, as fractions of the box size, and the reference step the rates are expressed in.

    Attributes:
        position_weight: Standard deviation of position noise per step, as a fraction of the box size.
        velocity_weight: Standard deviation of velocity noise per step, as a fraction of the box size.
        ref_dt: Seconds of one reference step (0.2 s is one frame at the default 5 fps).
    """

    position_weight: float = 1.0 / 20.0
    velocity_weight: float = 1.0 / 160.0
    ref_dt: float = 0.2


def xyxy_to_measurement(xyxy: NDArray[np.floating]) -> FloatArray:
    """Convert ``(N, 4)`` corner boxes to ``(N, 4)`` ``[cx, cy, w, h]`` measurements."""
    boxes = np.asarray(xyxy, dtype=np.float64)
    size = boxes[:, 2:] - boxes[:, :2]
    return np.hstack([boxes[:, :2] + size / 2.0, size])


def state_to_xyxy(mean: FloatArray) -> NDArray[np.float32]:
    """Convert ``(N, 8)`` states to ``(N, 4)`` float32 corner boxes (sizes clipped at zero)."""
    centre = mean[:, :2]
    half = np.maximum(mean[:, 2:4], 0.0) / 2.0
    return np.hstack([centre - half, centre + half]).astype(np.float32)


def _size_scale(mean: FloatArray) -> FloatArray:
    """``(N, 4)`` per-coordinate size used to scale noise: width for x and w, height for y and h."""
    width = np.maximum(mean[:, 2], 1.0)
    height = np.maximum(mean[:, 3], 1.0)
    return np.stack([width, height, width, height], axis=1)


class BoxKalman:
    """Batched constant-velocity Kalman filter: the caller owns the arrays, this object owns the maths."""

    def __init__(self, settings: KalmanSettings | None = None) -> None:
        """Create the filter with ``settings`` (defaults when omitted)."""
        self._settings = settings or KalmanSettings()

    def initiate(self, measurement: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Start states from ``(N, 4)`` measurements with zero velocity and a wide velocity uncertainty.

        Returns:
            ``(N, 8)`` means and ``(N, 8, 8)`` covariances.
        """
        count = measurement.shape[0]
        mean = np.hstack([measurement, np.zeros((count, _MEASURE))])
        scale = _size_scale(mean)
        std = np.hstack(
            [2 * self._settings.position_weight * scale, 10 * self._settings.velocity_weight * scale]
        )
        covariance = np.zeros((count, _STATE, _STATE))
        covariance[:, np.arange(_STATE), np.arange(_STATE)] = std**2
        return mean, covariance

    def predict(self, mean: FloatArray, covariance: FloatArray, dt: float) -> tuple[FloatArray, FloatArray]:
        """Advance every state by ``dt`` seconds (pure: returns new arrays)."""
        steps = max(dt, 0.0) / self._settings.ref_dt
        transition = np.eye(_STATE)
        transition[np.arange(_MEASURE), np.arange(_MEASURE) + _MEASURE] = steps
        new_mean = mean @ transition.T
        scale = _size_scale(mean)
        variance = np.hstack(
            [(self._settings.position_weight * scale) ** 2, (self._settings.velocity_weight * scale) ** 2]
        ) * max(steps, 1e-3)
        new_cov = transition @ covariance @ transition.T
        new_cov[:, np.arange(_STATE), np.arange(_STATE)] += variance
        return new_mean, new_cov

    def update(
        self, mean: FloatArray, covariance: FloatArray, measurement: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Correct ``(N, 8)`` states with ``(N, 4)`` measurements (pure: returns new arrays)."""
        scale = _size_scale(mean)
        noise = np.zeros((mean.shape[0], _MEASURE, _MEASURE))
        noise[:, np.arange(_MEASURE), np.arange(_MEASURE)] = (self._settings.position_weight * scale) ** 2
        projected_cov = _H @ covariance @ _H.T + noise
        cross = covariance @ _H.T
        gain = np.linalg.solve(projected_cov, cross.transpose(0, 2, 1)).transpose(0, 2, 1)
        innovation = measurement - mean[:, :_MEASURE]
        new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        new_cov = covariance - gain @ projected_cov @ gain.transpose(0, 2, 1)
        return new_mean, new_cov
