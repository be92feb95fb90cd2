"""The live feed fans redacted frames out without back-pressure; the live encoders make playable bytes."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import av
import numpy as np
import pytest

from watchkeeper.domain import CameraId
from watchkeeper.privacy.live_encode import (
    FALLBACK_CODEC,
    Fmp4LiveEncoder,
    JpegEncoder,
    LiveEncodeError,
    avc_codec_string,
)
from watchkeeper.privacy.live_feed import LiveFeed, LiveFrame, TooManyViewersError

CAM = CameraId("cam1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _frame(value: int, width: int = 64, height: int = 48) -> np.ndarray:
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[:, : width // 2] = value
    return rgb


def test_a_viewer_that_never_reads_drops_frames_and_the_camera_never_waits() -> None:
    async def scenario() -> tuple[int, int, int, int]:
        feed = LiveFeed()
        slow = feed.subscribe(CAM)
        observe = feed.observer(CAM)
        for index in range(100):
            observe(_frame(255), _frame(index), T0 + timedelta(milliseconds=200 * index))
        newest = await slow.next(1.0)
        assert newest is not None
        slow.close()
        return slow.dropped, slow.delivered, int(newest.rgb[0, 0, 0]), feed.viewers(CAM)

    dropped, delivered, value, viewers = asyncio.run(scenario())
    assert (dropped, delivered) == (99, 1)
    assert value == 99  # the newest frame, and the redacted one (the unredacted frame was 255)
    assert viewers == 0


def test_each_viewer_gets_every_frame_it_keeps_up_with() -> None:
    async def scenario() -> list[int]:
        feed = LiveFeed()
        viewer = feed.subscribe(CAM)
        other = feed.subscribe(CameraId("cam2"))
        seen = []
        for index in range(3):
            feed.publish(CAM, _frame(index), T0)
            frame = await viewer.next(1.0)
            assert frame is not None
            seen.append(frame.seq)
        assert await other.next(0.05) is None  # another camera's frames never reach it
        return seen

    assert asyncio.run(scenario()) == [1, 2, 3]


def test_the_viewer_limit_is_enforced_and_closing_frees_a_place() -> None:
    async def scenario() -> None:
        feed = LiveFeed(max_viewers=1)
        first = feed.subscribe(CAM)
        with pytest.raises(TooManyViewersError, match="already serves 1"):
            feed.subscribe(CAM)
        first.close()
        first.close()  # idempotent
        feed.subscribe(CAM).close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("rgb", "error"),
    [(np.zeros((4, 4), dtype=np.uint8), "expected an \\(H, W, 3\\) uint8"), (np.zeros((4, 4, 3)), "uint8")],
)
def test_a_live_frame_checks_its_shape(rgb: np.ndarray, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        LiveFrame(rgb, T0, 1)


def test_jpeg_encoder_makes_a_decodable_picture_and_refuses_tiny_frames() -> None:
    data = JpegEncoder().encode(_frame(200, 65, 49))
    assert data[:2] == b"\xff\xd8"
    with av.open(io.BytesIO(data)) as container:
        picture = next(container.decode(video=0))
    assert (picture.width, picture.height) == (64, 48)
    with pytest.raises(LiveEncodeError, match="too small"):
        JpegEncoder().encode(np.zeros((1, 1, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="quality"):
        JpegEncoder(quality=1)


def test_fmp4_encoder_streams_an_init_segment_then_one_fragment_per_frame() -> None:
    encoder = Fmp4LiveEncoder()
    chunks = [
        encoder.encode(LiveFrame(_frame(i * 20), T0 + timedelta(milliseconds=200 * i), i)) for i in range(6)
    ]
    encoder.close()
    assert chunks[0][4:8] == b"ftyp"
    assert all(chunk[4:8] == b"moof" for chunk in chunks[1:])
    assert encoder.codec is not None
    assert encoder.codec.startswith("avc1.42")
    with av.open(io.BytesIO(b"".join(chunks))) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 5  # the last frame's fragment closes with the next frame
    assert [round(float(f.time or 0), 1) for f in frames] == [0.0, 0.2, 0.4, 0.6, 0.8]


@pytest.mark.parametrize(
    ("extradata", "expected"),
    [
        (bytes.fromhex("000000016742c00b"), "avc1.42C00B"),
        (bytes.fromhex("0164001fffe1"), "avc1.64001F"),
        (b"", FALLBACK_CODEC),
        (None, FALLBACK_CODEC),
        (bytes.fromhex("0000000168ce"), FALLBACK_CODEC),
    ],
)
def test_codec_string_from_extradata(extradata: bytes | None, expected: str) -> None:
    assert avc_codec_string(extradata) == expected
