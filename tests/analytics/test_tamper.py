"""Tamper detection on synthetic frames: covered, dark, defocused, moved; hysteresis; passers-by ignored."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.analytics.conftest import T0
from watchkeeper.analyzers.tamper import TamperCondition, TamperDetector, TamperSettings
from watchkeeper.privacy import box_blur

SETTINGS = TamperSettings(raise_s=2.0, clear_s=1.0, warmup_s=1.0, relearn_s=30.0)


def scene(seed: int = 1) -> NDArray[np.uint8]:
    """A textured 160x90 scene: blocks of different greys (buildings, road) plus fine texture."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(40, 220, size=(9, 16)).repeat(10, axis=0).repeat(10, axis=1)
    texture = rng.integers(-20, 20, size=(90, 160))
    return np.clip(blocks + texture, 0, 255).astype(np.uint8)


def run(
    detector: TamperDetector, frames: list[NDArray[np.uint8]], start_s: float = 0.0
) -> list[tuple[str, bool, float]]:
    """Feed frames at 5 fps; return (condition, started?, seconds) for every change."""
    out = []
    for index, frame in enumerate(frames):
        at = T0 + timedelta(seconds=start_s + index / 5)
        for change in detector.update(frame, at):
            out.append((change.condition.value, change.active, (change.at - T0).total_seconds()))
    return out


@pytest.mark.parametrize(
    ("tampered", "condition"),
    [
        (np.full((90, 160), 128, np.uint8), TamperCondition.COVERED),
        ((scene() * 0.08).astype(np.uint8), TamperCondition.DARK),
        (box_blur(scene(), 6), TamperCondition.DEFOCUSED),
        (scene(seed=7), TamperCondition.MOVED),
        (np.roll(scene(), 40, axis=1), TamperCondition.MOVED),
    ],
    ids=["covered", "dark", "defocused", "replaced", "panned"],
)
def test_condition_raises_after_hold_time_and_clears_after_clear_time(
    tampered: NDArray[np.uint8], condition: TamperCondition
) -> None:
    detector = TamperDetector(SETTINGS)
    healthy = scene()
    changes = run(detector, [healthy] * 15)  # 3 s: reference learned
    assert changes == []
    changes = run(detector, [tampered] * 15, start_s=3)  # 3 s tampered
    assert [(name, active) for name, active, _ in changes] == [(condition.value, True)]
    assert changes[0][2] >= 3 + SETTINGS.raise_s - 0.01
    assert detector.active == {condition}
    changes = run(detector, [healthy] * 10, start_s=6)  # 2 s healthy again
    assert [(name, active) for name, active, _ in changes] == [(condition.value, False)]
    assert detector.active == frozenset()


def test_a_brief_occlusion_and_a_passer_by_raise_nothing() -> None:
    detector = TamperDetector(SETTINGS)
    healthy = scene()
    walker = healthy.copy()
    walker[20:80, 70:85] = 10
    frames = [healthy] * 10 + [np.full((90, 160), 128, np.uint8)] * 5 + [walker] * 20 + [healthy] * 10
    assert run(detector, frames) == []


def test_a_lasting_move_is_relearned_as_the_new_view() -> None:
    detector = TamperDetector(TamperSettings(raise_s=1.0, clear_s=1.0, warmup_s=1.0, relearn_s=5.0))
    changes = run(detector, [scene()] * 10 + [scene(seed=3)] * 60)
    assert [(name, active) for name, active, _ in changes] == [("moved", True), ("moved", False)]
    assert detector.active == frozenset()


def test_close_ends_active_conditions() -> None:
    detector = TamperDetector(SETTINGS)
    run(detector, [scene()] * 10 + [np.full((90, 160), 200, np.uint8)] * 15)
    ended = detector.close(T0 + timedelta(seconds=10))
    assert [(c.condition, c.active) for c in ended] == [(TamperCondition.COVERED, False)]


def test_bad_frames_and_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="2-D grey frame"):
        TamperDetector().update(np.zeros((4, 4), np.uint8), T0)
    with pytest.raises(ValueError, match="defocus_ratio"):
        TamperSettings(defocus_ratio=1.5)
