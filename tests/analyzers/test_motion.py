import numpy as np
import pytest

from watchkeeper.analyzers.motion import RunningAverageMotion


def _frame(value: int = 100) -> np.ndarray:
    return np.full((90, 160), value, dtype=np.uint8)


def test_still_scene_is_not_motion_and_a_moving_block_is() -> None:
    detector = RunningAverageMotion(threshold=25, min_area=0.01)
    assert not detector.update(_frame()).moving  # first frame only seeds the background
    assert not detector.update(_frame()).moving
    moved = _frame()
    moved[20:50, 40:80] = 250  # 1200 of 14400 pixels = 8.3 %
    result = detector.update(moved)
    assert result.moving
    assert result.fraction == pytest.approx(1200 / 14400)


def test_small_changes_and_noise_below_threshold_are_ignored() -> None:
    detector = RunningAverageMotion(threshold=25, min_area=0.01)
    detector.update(_frame())
    rng = np.random.default_rng(0)
    noisy = (_frame().astype(np.int16) + rng.integers(-10, 10, size=(90, 160))).astype(np.uint8)
    assert detector.update(noisy).fraction == 0.0
    tiny = _frame()
    tiny[0:5, 0:5] = 255  # 25 pixels, below 1 %
    result = detector.update(tiny)
    assert 0 < result.fraction < 0.01
    assert not result.moving


def test_background_absorbs_a_lasting_change() -> None:
    detector = RunningAverageMotion(threshold=25, min_area=0.01, alpha=0.5)
    detector.update(_frame(100))
    fractions = [detector.update(_frame(160)).fraction for _ in range(8)]
    assert fractions[0] == 1.0
    assert fractions[-1] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 0}, "threshold"),
        ({"min_area": 1.5}, "min_area"),
        ({"alpha": 0.0}, "alpha"),
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RunningAverageMotion(**kwargs)  # type: ignore[arg-type]


def test_colour_frames_are_rejected_with_the_expected_shape() -> None:
    with pytest.raises(ValueError, match=r"2-D grey frame \(H, W\)"):
        RunningAverageMotion().update(np.zeros((10, 10, 3), dtype=np.uint8))


def test_absorb_learns_a_region_into_the_background_at_once() -> None:
    detector = RunningAverageMotion(threshold=25, min_area=0.01)
    with_object = _frame()
    with_object[20:50, 40:80] = 250
    detector.update(with_object)  # the background holds an object...
    left = _frame()
    left[60:80, 120:150] = 250  # ...which left, while something else moves elsewhere
    assert detector.update(left).fraction == pytest.approx((1200 + 600) / 14400)
    detector.absorb(40, 20, 80, 50)  # the detector found nothing where the object was
    mask = detector.mask
    assert mask is not None
    assert not mask[20:50, 40:80].any()
    assert mask[60:80, 120:150].all()
    assert detector.update(left).fraction == pytest.approx(600 / 14400), "no ghost; the mover still moves"


def test_absorb_before_the_first_frame_does_nothing() -> None:
    detector = RunningAverageMotion()
    detector.absorb(0, 0, 10, 10)
    assert detector.mask is None
