"""Redaction: person boxes with margin, predicted boxes that grow with time, motion, static masks, faces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from numpy.typing import NDArray

from watchkeeper.analyzers.track import ByteTracker
from watchkeeper.domain.detections import Detections
from watchkeeper.privacy.redaction import (
    MASK_FILL,
    PrivacyRedactor,
    PrivacyScene,
    RedactionSettings,
    polygon_mask,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H, W = 120, 160


def noise(seed: int = 1) -> NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def changed(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> NDArray[np.bool_]:
    return np.asarray((a != b).any(axis=2))


def scene(boxes: list[list[float]], ages: list[float], **kw: object) -> PrivacyScene:
    return PrivacyScene(
        people=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        ages_s=np.array(ages, dtype=np.float32),
        **kw,  # type: ignore[arg-type]
    )


def test_person_box_and_its_margin_are_blurred_the_rest_untouched() -> None:
    frame = noise()
    redactor = PrivacyRedactor(RedactionSettings(margin=0.2, blur_motion="stale"))
    out = redactor.redact(frame, scene([[40, 30, 60, 70]], [0.0], detection_age_s=0.0))
    diff = changed(frame, out)
    assert diff[30:70, 40:60].mean() > 0.95  # the box itself
    assert diff[24:30, 36:64].mean() > 0.9  # the margin (20 % of 40 px = 8 px above)
    assert not diff[:, 100:].any()
    assert not diff[90:, :].any()
    assert out.std() > 0
    assert np.array_equal(frame, noise())


def test_predicted_boxes_grow_with_time_since_the_last_detection() -> None:
    tracker = ByteTracker()
    for step in range(5):  # a person walking right, 4 px per 0.2 s, confirmed by the tracker
        x = 20 + 4 * step
        dets = Detections(np.array([[x, 30, x + 20, 80]]), np.array([0.9]), np.array([0]))
        tracker.update(dets, T0 + timedelta(seconds=0.2 * step))
    redactor = PrivacyRedactor(RedactionSettings(margin=0.1, grow_per_s=0.5))
    areas = []
    for later in (0.2, 1.0, 2.0):
        predicted = tracker.predict(T0 + timedelta(seconds=0.8 + later))
        assert len(predicted) == 1
        box = predicted.xyxy[0]
        assert box[0] > 36  # the mask follows the track forward, not the last detection
        rect = redactor.regions(scene([box.tolist()], [later], detection_age_s=later), H, W)[0]
        assert rect[0] <= box[0]
        assert rect[2] >= box[2]
        assert rect[1] <= box[1]
        assert rect[3] >= box[3]
        areas.append(int((rect[2] - rect[0]) * (rect[3] - rect[1])))
    assert areas[0] < areas[1] < areas[2]


def test_moving_regions_are_blurred_when_no_detection_is_fresh() -> None:
    frame = noise()
    motion = np.zeros((30, 40), dtype=np.bool_)
    motion[20:24, 30:34] = True  # bottom right in a quarter-size mask
    stale_only = PrivacyRedactor(RedactionSettings(fresh_s=1.0, blur_motion="stale"))
    fresh = stale_only.redact(frame, PrivacyScene(motion=motion, detection_age_s=0.2))
    assert np.array_equal(fresh, frame)  # a fresh result vouches for the frame
    for age in (5.0, None):
        out = stale_only.redact(frame, PrivacyScene(motion=motion, detection_age_s=age))
        assert changed(frame, out)[80:96, 120:136].mean() > 0.9
        assert not changed(frame, out)[:40, :80].any()
    always = PrivacyRedactor(RedactionSettings(blur_motion="always"))
    assert changed(frame, always.redact(frame, PrivacyScene(motion=motion, detection_age_s=0.0)))[
        80:96, 120:136
    ].all()


def test_a_blind_frame_is_hidden_whole() -> None:
    frame = noise()
    out = PrivacyRedactor().redact(frame, PrivacyScene(blind=True))
    assert changed(frame, out).mean() > 0.95


def test_static_mask_pixels_are_destroyed() -> None:
    square = [[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]]
    redactor = PrivacyRedactor(masks=[square])
    out = redactor.redact(noise(), PrivacyScene(detection_age_s=0.0))
    assert (out[60:, 80:] == MASK_FILL).all()
    assert np.array_equal(out[:60], noise()[:60])
    assert np.array_equal(redactor.redact(noise(2), PrivacyScene())[60:, 80:], out[60:, 80:])  # nothing left


def test_polygon_mask_matches_a_triangle() -> None:
    mask = polygon_mask([[0, 0], [1, 0], [0, 1]], 100, 100)
    assert mask[5, 5]
    assert not mask[95, 95]
    assert abs(mask.mean() - 0.5) < 0.02


def test_faces_are_blurred_and_pixelate_style_works() -> None:
    frame = noise()
    faces = np.array([[10, 10, 30, 30]], dtype=np.float32)
    for style in ("blur", "pixelate"):
        redactor = PrivacyRedactor(RedactionSettings(style=style, margin=0.0))  # type: ignore[arg-type]
        out = redactor.redact(frame, PrivacyScene(faces=faces, detection_age_s=0.0))
        assert changed(frame, out)[10:30, 10:30].mean() > 0.9
        assert not changed(frame, out)[40:].any()


def test_redactor_protocol_apply_hides_people_only_of_person_classes() -> None:
    frame = noise()
    dets = Detections(
        np.array([[10, 10, 40, 60], [100, 10, 140, 60]]), np.array([0.9, 0.9]), np.array([0, 2])
    )
    out = PrivacyRedactor(RedactionSettings(margin=0.0)).apply(frame, dets)
    assert changed(frame, out)[10:60, 10:40].mean() > 0.9
    assert not changed(frame, out)[:, 90:].any()


def test_bad_settings_and_frames_are_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        RedactionSettings(margin=-1)
    with pytest.raises(ValueError, match="uint8"):
        PrivacyRedactor().redact(np.zeros((4, 4), dtype=np.uint8), PrivacyScene())
    with pytest.raises(ValueError, match="ages"):
        PrivacyScene(people=np.zeros((1, 4), dtype=np.float32))
