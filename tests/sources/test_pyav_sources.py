"""PyAV sources against real inputs: RTSP (TCP, UDP), HTTP MJPEG, HTTP MP4 and local files."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Literal

import av
import pytest

from tests.sources.media import MediaHttpServer
from watchkeeper.simulator import RtspServer
from watchkeeper.sources import (
    OpenedStream,
    PyAVSource,
    ReceivedPacket,
    SourceSpec,
    SourceUnavailableError,
    mp4_unrecordable_reason,
)


def _spec(url: str, *, transport: Literal["tcp", "udp"] = "tcp", loop_files: bool = False) -> SourceSpec:
    return SourceSpec(url=url, redacted_url=url, transport=transport, loop_files=loop_files)


def _take(stream: OpenedStream, count: int) -> list[ReceivedPacket]:
    items: list[ReceivedPacket] = []
    for item in stream.packets():
        items.append(item)
        if len(items) == count:
            break
    return items


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_opens_over_tcp_and_udp_and_the_first_packet_comes_fast(
    sim_cameras: RtspServer, transport: Literal["tcp", "udp"]
) -> None:
    started = time.monotonic()
    with PyAVSource(_spec(sim_cameras.url("/cam1"), transport=transport)).open() as stream:
        items = _take(stream, 5)
        first_packet_s = time.monotonic() - started - 0.4  # 5 packets at 10 fps after the first
        assert stream.video.codec_context.name == "h264"
        assert (stream.video.codec_context.width, stream.video.codec_context.height) == (320, 180)
    assert items[0].packet.is_keyframe
    assert first_packet_s < 1.0, f"first packet after {first_packet_s:.2f} s"


def test_short_probe_cuts_the_time_to_the_first_packet(sim_cameras: RtspServer) -> None:
    url = sim_cameras.url("/cam2")
    started = time.monotonic()
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=(10, 10)) as container:
        next(container.demux(container.streams.video[0]))
    ffmpeg_default_s = time.monotonic() - started
    started = time.monotonic()
    with PyAVSource(_spec(url)).open() as stream:
        _take(stream, 1)
    tuned_s = time.monotonic() - started
    print(
        f"time to first packet, 10 fps RTSP: FFmpeg defaults {ffmpeg_default_s:.2f} s, tuned {tuned_s:.2f} s"
    )
    assert tuned_s < 1.0
    assert tuned_s < ffmpeg_default_s / 3


def test_http_mjpeg_camera_is_stamped_with_the_receipt_clock(media_server: MediaHttpServer) -> None:
    with PyAVSource(_spec(media_server.url("/mjpeg"))).open() as stream:
        items = _take(stream, 11)
        assert stream.video.codec_context.name == "mjpeg"
        assert stream.video.codec_context.width == 320
    assert all(item.packet.is_keyframe for item in items)
    stamps = [item.packet.pts for item in items]
    assert all(b is not None and a is not None and b > a for a, b in itertools.pairwise(stamps))
    first, last, time_base = stamps[0], stamps[-1], items[0].packet.time_base
    assert first is not None
    assert last is not None
    assert time_base is not None
    span_s = float((last - first) * time_base)
    assert 0.7 < span_s < 1.5  # ten frames of a 10 fps camera, not FFmpeg's invented 25 fps


@pytest.mark.parametrize("name", ["h264", "hevc"])
def test_http_mp4_is_paced_like_a_camera(media_server: MediaHttpServer, name: str) -> None:
    with PyAVSource(_spec(media_server.url(f"/files/{name}"))).open() as stream:
        started = time.monotonic()
        items = _take(stream, 11)
        elapsed = time.monotonic() - started
        assert stream.video.codec_context.name == name
    assert items[0].packet.is_keyframe
    assert 0.8 < elapsed < 2.0


def test_local_files_open_by_path_and_file_url_and_loop(media_files: dict[str, Path]) -> None:
    path = media_files["h264"]
    with PyAVSource(_spec(f"file://{path}")).open() as stream:
        assert _take(stream, 1)[0].packet.is_keyframe
    with PyAVSource(_spec(str(path), loop_files=True)).open() as stream:
        items = _take(stream, 33)  # the file holds 30 frames: three come from the second loop
    dts = [item.packet.dts for item in items]
    assert all(b is not None and a is not None and b > a for a, b in itertools.pairwise(dts))


def test_missing_and_refused_inputs_raise_with_a_reason_and_no_password(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="no such file"):
        PyAVSource(_spec(str(tmp_path / "nope.mp4"))).open()
    spec = SourceSpec(url="rtsp://u:hunter2@127.0.0.1:9/x", redacted_url="rtsp://u:***@127.0.0.1:9/x")
    with pytest.raises(SourceUnavailableError, match="refused") as caught:
        PyAVSource(spec).open()
    assert "hunter2" not in str(caught.value)


def test_truncated_mp4_is_refused_with_a_clear_reason(media_files: dict[str, Path], tmp_path: Path) -> None:
    data = media_files["h264"].read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])  # the moov box is at the end: it is cut off
    with pytest.raises(SourceUnavailableError, match="invalid data"):
        PyAVSource(_spec(str(truncated))).open()


def test_mp4_recordability_of_codecs(media_files: dict[str, Path], media_server: MediaHttpServer) -> None:
    for name in ("h264", "hevc"):
        with PyAVSource(_spec(str(media_files[name]))).open() as stream:
            assert mp4_unrecordable_reason(stream.video) is None
    with PyAVSource(_spec(media_server.url("/mjpeg"))).open() as stream:
        assert mp4_unrecordable_reason(stream.video) is None
    with PyAVSource(_spec(str(media_files["vp8"]))).open() as stream:
        reason = mp4_unrecordable_reason(stream.video)
    assert reason is not None
    assert "vp8 cannot be recorded into MP4" in reason
