"""Motion mask -> detection regions, and the periodic full-frame check."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.analytics.conftest import T0
from watchkeeper.analyzers.regions import (
    Region,
    RegionSelector,
    RegionSettings,
    merge_regions,
    motion_boxes,
    motion_regions,
)


def mask_with(*boxes: tuple[int, int, int, int], shape: tuple[int, int] = (90, 160)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for x1, y1, x2, y2 in boxes:
        mask[y1:y2, x1:x2] = True
    return mask


def test_two_separate_blobs_give_two_padded_regions_that_hold_them() -> None:
    mask = mask_with((10, 10, 22, 40), (120, 50, 135, 80))
    regions = motion_regions(mask, RegionSettings())
    assert len(regions) == 2
    for x1, y1, x2, y2 in ((10, 10, 22, 40), (120, 50, 135, 80)):
        assert any(
            r.contains_point(x1 / 160, y1 / 90) and r.contains_point(x2 / 160, y2 / 90) for r in regions
        )
    assert sum(r.area for r in regions) < 0.5


def test_no_motion_gives_no_region_and_single_noisy_pixels_are_ignored() -> None:
    assert motion_regions(mask_with(), RegionSettings()) == []
    noise = np.zeros((90, 160), dtype=bool)
    noise[::17, ::23] = True  # isolated pixels: under 5 % of any 8x8 cell
    assert motion_boxes(noise, RegionSettings()) == []


def test_motion_over_most_of_the_frame_becomes_one_full_frame_region() -> None:
    regions = motion_regions(mask_with((0, 0, 150, 80)), RegionSettings())
    assert regions == [Region.full()]


def test_more_blobs_than_max_regions_are_merged_cheapest_first() -> None:
    mask = mask_with((2, 2, 10, 10), (20, 2, 28, 10), (140, 70, 150, 80))
    regions = motion_regions(mask, RegionSettings(max_regions=2, min_side=0.05, padding=0.0))
    assert len(regions) == 2
    left = [r for r in regions if r.x1 < 0.1]
    assert len(left) == 1
    assert left[0].x2 >= 28 / 160  # the two close blobs were merged together, the far one kept apart


def test_merge_regions_joins_overlaps_even_under_the_limit() -> None:
    a, b = Region(0.1, 0.1, 0.4, 0.4), Region(0.3, 0.3, 0.6, 0.6)
    assert merge_regions([a, b], 4) == [Region(0.1, 0.1, 0.6, 0.6)]


def test_regions_are_widened_to_the_allowed_aspect_ratio() -> None:
    tall = Region(0.45, 0.0, 0.46, 1.0)
    shaped = tall.with_aspect(16 / 9, 2.0)
    assert shaped.width * 16 / 9 / shaped.height >= 0.5 - 1e-6


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ((0.5, 0.1, 0.4, 0.2), "x1 < x2"),
        ((-0.1, 0.0, 0.5, 0.5), "0 <= x1"),
        ((0.0, 0.0, 1.2, 0.5), "x2 <= 1"),
    ],
)
def test_invalid_regions_are_rejected(values: tuple[float, float, float, float], error: str) -> None:
    with pytest.raises(ValueError, match="region must satisfy"):
        Region(*values)
    assert error


def test_selector_checks_the_full_frame_periodically_and_otherwise_follows_motion() -> None:
    selector = RegionSelector(RegionSettings(full_frame_interval_s=10))
    still, moving = mask_with(), mask_with((10, 10, 22, 40))
    first = selector.plan(still, T0)
    assert first.full_frame_check
    assert first.regions == (Region.full(),)
    assert not selector.plan(still, T0 + timedelta(seconds=1)).detect
    plan = selector.plan(moving, T0 + timedelta(seconds=2))
    assert plan.detect
    assert not plan.full_frame_check
    assert plan.regions[0].area < 0.3
    stale = Region(0.7, 0.7, 0.8, 0.9)
    with_track = selector.plan(still, T0 + timedelta(seconds=3), [stale])
    assert with_track.detect
    assert with_track.regions[0].contains_point(0.75, 0.8)
    assert selector.plan(still, T0 + timedelta(seconds=10)).full_frame_check


def _checks(selector: RegionSelector, masks: dict[int, np.ndarray], seconds: int) -> list[int]:
    """Seconds (one frame a second) at which the selector asked for a whole-frame check."""
    still = mask_with()
    return [
        second
        for second in range(seconds)
        if selector.plan(masks.get(second, still), T0 + timedelta(seconds=second)).full_frame_check
    ]


def test_full_frame_checks_back_off_while_nothing_moves_and_come_back_with_motion() -> None:
    selector = RegionSelector(RegionSettings(full_frame_interval_s=10, idle_full_frame_interval_s=40))
    moving = mask_with((10, 10, 22, 40))
    assert _checks(selector, {}, 111) == [0, 10, 30, 70, 110]  # 10, then 20, 40, 40 s apart
    assert selector.full_frame_interval_s == 40
    later = RegionSelector(RegionSettings(full_frame_interval_s=10, idle_full_frame_interval_s=40))
    # motion at 35 s: back to every 10 s from the last check (30 s), so the next one is at 40 s
    assert _checks(later, {35: moving}, 61) == [0, 10, 30, 40, 50]
    assert later.full_frame_interval_s == 20


@pytest.mark.parametrize("idle", [0.0, 5.0, 10.0])
def test_an_idle_interval_not_above_the_base_keeps_checks_periodic(idle: float) -> None:
    selector = RegionSelector(RegionSettings(full_frame_interval_s=10, idle_full_frame_interval_s=idle))
    assert _checks(selector, {}, 41) == [0, 10, 20, 30, 40]


def test_negative_idle_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match="idle_full_frame_interval_s"):
        RegionSettings(idle_full_frame_interval_s=-1)


def test_motion_mask_must_be_two_dimensional() -> None:
    with pytest.raises(ValueError, match="2-D motion mask"):
        motion_regions(np.zeros((4, 4, 3), dtype=bool), RegionSettings())
