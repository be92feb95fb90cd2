"""latest.jpg: written by the analysis chain's frame tap, served without caching."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PlaybackSetup
from tests.recorder.playback_footage import T0, source_clip
from watchkeeper.analyzers.sampler import FrameSampler, SamplerSettings
from watchkeeper.analyzers.snapshot import SnapshotWriter, snapshot_path
from watchkeeper.domain import CameraId
from watchkeeper.sources import PyAVSource, ReceivedPacket, SourceSpec


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return source_clip(tmp_path_factory.mktemp("snap"), 3.0)


def _run_sampler(footage: Path, writer: SnapshotWriter) -> list[np.ndarray]:
    """Feed 3 s of footage (30 frames at 10 fps) through a 5 fps sampler with the writer as a tap."""
    greys: list[np.ndarray] = []
    sampler = FrameSampler(SamplerSettings(fps=5, width=160), lambda grey, at: greys.append(grey), [writer])
    with PyAVSource(SourceSpec(url=str(footage), redacted_url="clip.mp4")).open() as opened:
        sampler.begin(opened)
        packets = [p for p in opened._container.demux(opened.video) if p.size > 0]  # unpaced
        for index, packet in enumerate(packets):
            sampler.write(ReceivedPacket(packet=packet, received_at=T0 + timedelta(seconds=index / 10)))
        sampler.finish()
    return greys


def _decode_jpeg(data: bytes) -> np.ndarray:
    assert data[:2] == b"\xff\xd8"
    with av.open(io.BytesIO(data), format="mjpeg") as container:
        frame = next(container.decode(video=0))
    return frame.to_ndarray(format="rgb24")


def test_sampler_taps_write_a_colour_snapshot_about_once_a_second(footage: Path, tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path / "cam1" / "latest.jpg", interval_s=1.0)
    greys = _run_sampler(footage, writer)
    assert len(greys) == 15  # the analyser still gets 5 frames a second
    assert writer.written == 3  # at 0, 1 and 2 s
    picture = _decode_jpeg(writer.path.read_bytes())
    assert picture.shape == (180, 320, 3)  # detect-stream size, colour
    assert np.abs(picture[..., 0].astype(int) - picture[..., 2].astype(int)).max() > 20
    assert [p.name for p in writer.path.parent.iterdir()] == ["latest.jpg"]  # no temp file left


def test_writer_rate_limit_and_bad_settings(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path / "latest.jpg", interval_s=1.0)
    assert writer.due(T0)
    writer.take(av.VideoFrame(64, 48, "yuv420p"), T0)
    assert not writer.due(T0 + timedelta(seconds=0.5))
    assert writer.due(T0 + timedelta(seconds=1))
    assert writer.due(T0 - timedelta(hours=1))  # the wall clock stepped back
    with pytest.raises(ValueError, match="interval_s"):
        SnapshotWriter(tmp_path / "x.jpg", interval_s=0)
    with pytest.raises(ValueError, match="quality"):
        SnapshotWriter(tmp_path / "x.jpg", quality=1)


def test_an_unwritable_snapshot_folder_is_logged_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "cam1"
    blocker.write_text("a file where the camera folder should be")
    writer = SnapshotWriter(blocker / "latest.jpg")
    writer.take(av.VideoFrame(64, 48, "yuv420p"), T0)
    assert writer.written == 0


def test_latest_jpg_is_served_uncached_after_the_first_frame(
    client: TestClient, playback_setup: PlaybackSetup, footage: Path
) -> None:
    path = snapshot_path(playback_setup.context.media_root, CameraId("cam2"))
    response = client.get("/api/cameras/cam2/latest.jpg")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_snapshot"
    _run_sampler(footage, SnapshotWriter(path))
    response = client.get("/api/cameras/cam2/latest.jpg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "no-store"
    assert _decode_jpeg(response.content).shape == (180, 320, 3)
