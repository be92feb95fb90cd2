"""Live originals from a real privacy tap: kept in memory only while wanted, unredacted but for the
static privacy masks, and JPEG-encoded on demand."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import av
import numpy as np

from tests.custody.conftest import CAM, T0
from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.privacy import PrivacyConfig
from watchkeeper.privacy.live import LiveOriginals
from watchkeeper.privacy.live_encode import JpegEncoder
from watchkeeper.privacy.redaction import MASK_FILL
from watchkeeper.privacy.rendition import PrivacyServices, PrivacyTap


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_frames_are_kept_only_while_wanted_and_keep_the_static_masks(tmp_path: Path, clip_file: Path) -> None:
    camera = CameraConfig.model_validate(
        {
            "id": CAM,
            "name": "Cam 1",
            "site": "s",
            "inputs": [{"url": "clip.mp4", "roles": ["record", "detect"]}],
            "privacy_masks": [{"name": "window", "polygon": [[0, 0], [0.25, 0], [0.25, 0.25], [0, 0.25]]}],
        }
    )
    privacy = PrivacyConfig.model_validate({"faces": {"enabled": False}, "rendition": {"enabled": False}})
    clock = Clock()
    live = LiveOriginals(clock)
    tap = PrivacyTap(camera, DetectionConfig(), tmp_path, PrivacyServices(privacy, live=live))
    with av.open(str(clip_file)) as container:
        frames = [frame for _, frame in zip(range(12), container.decode(video=0), strict=False)]

    tap.take(frames[0], T0)
    assert live.latest(CAM, None, 0) is None  # nobody watches: nothing kept
    live.want(CAM, 5.0)
    tap.take(frames[1], T0 + timedelta(seconds=0.2))
    kept = live.latest(CAM, None, 0)
    assert kept is not None
    assert kept.at == T0 + timedelta(seconds=0.2)
    height, width = kept.rgb.shape[:2]
    original = frames[1].reformat(width=width, height=height, format="rgb24").to_ndarray()
    corner = (slice(0, height // 4), slice(0, width // 4))
    assert (kept.rgb[corner] == MASK_FILL).all()  # the static mask is destroyed even here
    rest = (slice(height // 2, None), slice(width // 2, None))
    assert np.array_equal(kept.rgb[rest], original[rest])  # everything else unredacted
    assert live.latest(CAM, kept.at, 0) is None  # nothing newer yet

    jpeg = JpegEncoder().encode(kept.rgb)
    with av.open(io.BytesIO(jpeg)) as image:
        decoded = next(image.decode(video=0))
    assert (decoded.width, decoded.height) == (width // 2 * 2, height // 2 * 2)

    clock.now += 6.0  # the viewer stopped renewing
    tap.take(frames[2], T0 + timedelta(seconds=0.4))
    assert live.latest(CAM, None, 0) is None  # dropped from memory
    assert not live.wanted(CAM)
