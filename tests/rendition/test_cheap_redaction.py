"""The cheaper rendition path: one downscaled blur per frame, merged motion cells, gated face detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.privacy import PrivacyConfig
from watchkeeper.privacy.blur import box_blur, scaled_blur
from watchkeeper.privacy.faces import FaceDetector
from watchkeeper.privacy.redaction import (
    PrivacyRedactor,
    PrivacyScene,
    cell_rectangles,
    motion_boxes,
    motion_cells,
)
from watchkeeper.privacy.rendition import PrivacyServices, PrivacyTap

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FACES = Path(__file__).resolve().parents[2] / "var" / "models" / "centerface.onnx"


def local_std(image: NDArray[np.uint8]) -> float:
    """Mean 5x5 standard deviation of the grey image (detail left)."""
    grey = image.astype(np.float32).mean(axis=2)
    windows = np.lib.stride_tricks.sliding_window_view(grey, (5, 5))
    return float(windows.std(axis=(2, 3)).mean())


@pytest.mark.parametrize("radius", [2, 6, 9, 20, 45])
def test_scaled_blur_removes_as_much_detail_as_the_full_box_blur(radius: int) -> None:
    image = np.random.default_rng(radius).integers(0, 256, (150, 210, 3), dtype=np.uint8)
    fast, full = scaled_blur(image, radius), box_blur(image, radius)
    assert fast.shape == image.shape
    assert fast.dtype == np.uint8
    assert local_std(fast) <= max(1.0, 1.5 * local_std(full))
    assert local_std(fast) < 0.1 * local_std(image)
    assert abs(float(fast.mean()) - float(image.mean())) < 3.0  # blurred, not blanked


@pytest.mark.parametrize(
    ("shape", "radius", "message"),
    [((10, 10, 3), 0, "radius"), ((10, 10), 4, r"\(H, W, 3\)"), ((10, 10, 4), 4, r"\(H, W, 3\)")],
)
def test_scaled_blur_rejects_bad_input(shape: tuple[int, ...], radius: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scaled_blur(np.zeros(shape, dtype=np.uint8), radius)


@pytest.mark.parametrize("seed", range(6))
def test_cell_rectangles_cover_exactly_the_moving_cells(seed: int) -> None:
    cells = np.random.default_rng(seed).random((15, 20)) < 0.3
    cells[3:9, 4:12] = True  # a blob, merged into few rectangles
    rects = cell_rectangles(cells)
    covered = np.zeros((15, 20), dtype=np.int32)
    for x0, y0, x1, y1 in rects.tolist():
        covered[y0:y1, x0:x1] += 1
    assert np.array_equal(covered > 0, cells)
    assert covered.max() == 1  # no overlaps
    assert len(rects) < int(cells.sum())


def test_cell_rectangles_of_nothing_and_everything() -> None:
    assert cell_rectangles(np.zeros((4, 5), dtype=np.bool_)).shape == (0, 4)
    assert cell_rectangles(np.ones((4, 5), dtype=np.bool_)).tolist() == [[0, 0, 5, 4]]


def test_motion_boxes_scale_cells_to_the_frame() -> None:
    motion = np.zeros((120, 160), dtype=np.bool_)
    motion[10:20, 30:50] = True
    assert motion_cells(motion).sum() == 2 * 4  # rows 1-2, columns 3-6 of 8-pixel cells
    boxes = motion_boxes(motion, 480, 640)
    assert boxes.tolist() == [[96.0, 32.0, 224.0, 96.0]]  # one rectangle, mask pixels x 4


def test_every_region_is_blurred_at_least_as_strongly_as_alone() -> None:
    frame = np.random.default_rng(7).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    people = np.array([[20, 20, 80, 200], [200, 100, 215, 130]], dtype=np.float32)
    scene = PrivacyScene(people=people, ages_s=np.zeros(2, dtype=np.float32), detection_age_s=0.0)
    redactor = PrivacyRedactor()
    out = redactor.redact(frame, scene)
    for x0, y0, x1, y1 in redactor.regions(scene, 240, 320).tolist():
        alone = box_blur(frame[y0:y1, x0:x1], max(2, int(min(x1 - x0, y1 - y0) * 0.2)))
        assert local_std(out[y0:y1, x0:x1]) <= max(1.0, 1.5 * local_std(alone))
    untouched = np.ones((240, 320), dtype=np.bool_)
    for x0, y0, x1, y1 in redactor.regions(scene, 240, 320).tolist():
        untouched[y0:y1, x0:x1] = False
    assert np.array_equal(out[untouched], frame[untouched])  # nothing outside the regions changes


class CountingFaces(FaceDetector):
    """The real CenterFace detector, counting its runs."""

    runs = 0

    def detect(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        self.runs += 1
        return super().detect(rgb)


@pytest.mark.skipif(not FACES.is_file(), reason="var/models/centerface.onnx not built (make models)")
def test_face_detection_runs_often_only_while_the_scene_changes(tmp_path: Path) -> None:
    camera = CameraConfig.model_validate(
        {"id": "c", "name": "c", "site": "s", "inputs": [{"url": "x.mp4", "roles": ["record", "detect"]}]}
    )
    privacy = PrivacyConfig.model_validate(
        {"faces": {"interval_s": 1.0, "idle_interval_s": 5.0}, "rendition": {"enabled": False}}
    )
    faces = CountingFaces(FACES)
    moving = np.zeros((30, 40), dtype=np.bool_)
    motion: list[NDArray[np.bool_] | None] = [None]
    tap = PrivacyTap(
        camera, DetectionConfig(), tmp_path, PrivacyServices(privacy, faces=faces), None, lambda: motion[0]
    )
    rgb = np.full((60, 80, 3), 90, dtype=np.uint8)
    for tick in range(50):  # 10 s of a still, empty scene at 5 fps
        tap.scene(rgb, T0 + timedelta(seconds=tick / 5))
    assert faces.runs == 2  # at 0 s and 5 s (idle interval)
    moving[5:10, 5:10] = True
    motion[0] = moving
    for tick in range(50, 100):  # 10 s with motion
        tap.scene(rgb, T0 + timedelta(seconds=tick / 5))
    assert faces.runs == 2 + 10  # once a second
