"""The protected rendition from a real camera worker: segments exist, align with the originals, decode,
and the static masks are destroyed in the rendition (and in the originals when the camera opts in)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import TEST_FOOTAGE, wait_for, write_test_config
from tests.runtime.test_camera_worker import Collected
from watchkeeper.config.loader import load_config
from watchkeeper.config.privacy import CameraPrivacyConfig, PrivacyConfig, PrivacyMaskConfig
from watchkeeper.domain import Rendition, Segment
from watchkeeper.privacy import PersonBlur
from watchkeeper.privacy.redaction import MASK_FILL
from watchkeeper.privacy.rendition import PrivacyServices
from watchkeeper.privacy.rendition_thread import RenditionThreadSettings
from watchkeeper.runtime.camera_worker import CameraWorker, WorkerSettings
from watchkeeper.runtime.objects import AnalysisServices
from watchkeeper.simulator import RtspServer, serve_simulated_cameras

MASK = PrivacyMaskConfig(name="window", polygon=[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]])


@pytest.fixture
def camera_server() -> Iterator[RtspServer]:
    with serve_simulated_cameras(1, TEST_FOOTAGE) as server:
        yield server


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _run(
    tmp_path: Path, url: str, mask_originals: bool, thread: RenditionThreadSettings | None
) -> tuple[Path, list[Segment]]:
    config = load_config(write_test_config(tmp_path, {"cam1": url}))
    camera = config.cameras[0].model_copy(
        update={"privacy_masks": [MASK], "privacy": CameraPrivacyConfig(mask_originals=mask_originals)}
    )
    privacy = PrivacyConfig.model_validate({"faces": {"enabled": False}, "rendition": {"width": 160}})
    services = AnalysisServices(
        None, PersonBlur(), privacy=PrivacyServices(privacy, segment_seconds=1.0, thread=thread)
    )
    settings = WorkerSettings(
        camera, config.recording, config.detection, config.storage.media_root, analysis=services
    )
    collected = Collected()
    worker = CameraWorker(settings, collected.callbacks())
    worker.start()

    def enough() -> bool:
        with collected.lock:
            kinds = [s.rendition for s in collected.segments]
        return kinds.count(Rendition.ORIGINAL) >= 3 and kinds.count(Rendition.PROTECTED) >= 3

    try:
        wait_for(enough, timeout=30, what="three original and three protected segments")
    finally:
        worker.stop()
    with collected.lock:
        return config.storage.media_root, list(collected.segments)


@pytest.mark.parametrize(
    ("mask_originals", "thread"),
    [(False, None), (True, None), (False, RenditionThreadSettings(nice=10))],
    ids=["remuxed-originals", "masked-originals", "rendition-thread"],
)
def test_rendition_segments_align_decode_and_destroy_masked_pixels(
    camera_server: RtspServer, tmp_path: Path, mask_originals: bool, thread: RenditionThreadSettings | None
) -> None:
    media, segments = _run(tmp_path, camera_server.url("/cam1"), mask_originals, thread)
    originals = [s for s in segments if s.rendition is Rendition.ORIGINAL]
    protected = [s for s in segments if s.rendition is Rendition.PROTECTED]
    # aligned: every protected boundary after the first is an original segment's boundary
    original_ends = {s.end for s in originals}
    inner = protected[:-1]  # the last one ends when the worker stops
    assert inner
    assert all(s.end in original_ends for s in inner)
    assert all(s.start in original_ends for s in protected[1:])
    starts = [o.start for o in originals]
    for segment in protected[1:]:  # an original's end is the next one's start within a frame
        assert min(abs((segment.start - start).total_seconds()) for start in starts) <= 0.15
    for segment in protected:
        path = media / segment.path
        assert path.is_file()
        assert segment.path.startswith("cam1/protected/")
        frames = _frames(path)
        assert frames, segment.path
        assert (segment.width, segment.video_codec) == (160, "h264")
        for frame in frames:  # the masked quarter is flat grey (H.264 keeps it within a few levels)
            quarter = frame[: frame.shape[0] // 2 - 8, : frame.shape[1] // 2 - 8].astype(int)
            assert abs(quarter - MASK_FILL).max() <= 12
            assert quarter.std() < 3
    original_frames = _frames(media / originals[1].path)
    quarter = original_frames[0][: TEST_FOOTAGE.height // 2 - 8, : TEST_FOOTAGE.width // 2 - 8].astype(int)
    if mask_originals:
        for frame in original_frames:
            masked = frame[: TEST_FOOTAGE.height // 2 - 8, : TEST_FOOTAGE.width // 2 - 8].astype(int)
            assert abs(masked - MASK_FILL).max() <= 12
            assert masked.std() < 3
        assert not list((media / "cam1").glob("*/*/*/*/*.mp4.part"))
    else:
        assert quarter.std() > 10  # the plain recording keeps its pixels
