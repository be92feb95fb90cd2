"""Bad and unusual streams through a real camera worker: each gives a clear state and log, never a crash.

Covers MJPEG over HTTP and HEVC over HTTP MP4 (both recorded without re-encoding), VP8 (the MP4 muxer
refuses it: streamed for detection only, reported as not recording), a truncated MP4 file (offline with
FFmpeg's reason), an RTSP camera that never sends a keyframe (stalled: nothing can be recorded) and one
that sends garbage NAL units (the worker survives).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from tests.conftest import TEST_FOOTAGE, wait_for
from tests.runtime.test_camera_worker import Collected
from tests.sources.media import HEVC_OPTIONS, MediaHttpServer, mjpeg_frames, write_video
from tests.support.workers import worker_settings
from watchkeeper.domain import CameraState
from watchkeeper.runtime.camera_worker import CameraWorker
from watchkeeper.simulator import AccessUnit, EncodedClip, RtspServer, generate_clip


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """HEVC (libx265), VP8 (libvpx) and a truncated H.264 MP4."""
    folder = tmp_path_factory.mktemp("streams")
    h264 = write_video(folder / "h264.mp4", "libx264", options={"preset": "ultrafast"})
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(h264.read_bytes()[: h264.stat().st_size // 2])
    return {
        "hevc": write_video(folder / "hevc.mp4", "libx265", options=HEVC_OPTIONS),
        "vp8": write_video(folder / "vp8.mkv", "libvpx", options={"deadline": "realtime"}),
        "truncated": truncated,
    }


@pytest.fixture
def http(files: dict[str, Path]) -> Iterator[MediaHttpServer]:
    """MJPEG camera and the files over HTTP."""
    server = MediaHttpServer(mjpeg_frames(), {"hevc.mp4": files["hevc"].read_bytes()})
    try:
        yield server
    finally:
        server.close()


def _run(tmp_path: Path, url: str, collected: Collected) -> CameraWorker:
    worker = CameraWorker(worker_settings(tmp_path, url), collected.callbacks())
    worker.start()
    return worker


def _record(tmp_path: Path, url: str, segments: int = 2) -> tuple[Collected, Path]:
    collected = Collected()
    worker = _run(tmp_path, url, collected)
    try:
        wait_for(lambda: len(collected.segments) >= segments, timeout=20, what=f"{segments} segments")
    finally:
        worker.stop()
    return collected, tmp_path / "data" / "media"


def _segment_codec_and_frames(path: Path) -> tuple[str, int]:
    with av.open(str(path)) as container:
        codec = container.streams.video[0].codec_context.name
        return codec, sum(1 for _ in container.decode(video=0))


def test_mjpeg_over_http_is_recorded_as_mjpeg_without_reencoding(
    http: MediaHttpServer, tmp_path: Path
) -> None:
    collected, media = _record(tmp_path, http.url("/mjpeg"))
    segment = collected.segments[1]
    assert segment.video_codec == "mjpeg"
    codec, frames = _segment_codec_and_frames(media / segment.path)
    assert codec == "mjpeg"
    assert abs(frames - segment.duration_s * 10) <= 2  # 10 fps, stamped by the receipt clock
    assert collected.statuses[-2].state is CameraState.STREAMING
    assert not collected.statuses[-2].reason


def test_hevc_over_http_mp4_is_recorded_as_hevc(
    http: MediaHttpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    collected, media = _record(tmp_path, http.url("/files/hevc.mp4"))
    codec, frames = _segment_codec_and_frames(media / collected.segments[0].path)
    assert (collected.segments[0].video_codec, codec) == ("hevc", "hevc")
    assert frames >= 5
    assert "recording hevc video as it is" in caplog.text


def test_a_codec_mp4_refuses_streams_for_detection_with_a_clear_state(
    files: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    collected = Collected()
    worker = _run(tmp_path, str(files["vp8"]), collected)
    try:
        wait_for(lambda: CameraState.STREAMING in collected.states(), timeout=10, what="streaming")
    finally:
        worker.stop()
    streaming = next(s for s in collected.statuses if s.state is CameraState.STREAMING)
    assert streaming.reason.startswith("not recording: video codec vp8 cannot be recorded into MP4")
    assert "vp8 cannot be recorded into MP4" in caplog.text
    assert not collected.segments
    assert worker.counters.inputs[0].frames > 0  # still demuxed (and analysed)


def test_a_truncated_mp4_is_offline_with_a_reason_and_retried(files: dict[str, Path], tmp_path: Path) -> None:
    collected = Collected()
    worker = _run(tmp_path, str(files["truncated"]), collected)
    try:
        wait_for(lambda: collected.states().count(CameraState.OFFLINE) >= 2, timeout=10, what="two attempts")
    finally:
        worker.stop()
    offline = next(s for s in collected.statuses if s.state is CameraState.OFFLINE)
    assert "invalid data" in offline.reason
    assert not collected.segments


def _garbage_clips() -> dict[str, EncodedClip]:
    """``/garbage``: slices of random bytes; ``/noidr``: the real clip without its IDR frames."""
    clip = generate_clip(dataclasses.replace(TEST_FOOTAGE, duration_s=2.0))
    rng = random.Random(7)
    units = tuple(
        AccessUnit(index=u.index, keyframe=False, nals=(bytes([0x41]) + rng.randbytes(600),))
        for u in clip.access_units
    )
    no_idr = tuple(u for u in clip.access_units if not u.keyframe)
    return {
        "/garbage": dataclasses.replace(clip, access_units=units),
        "/noidr": dataclasses.replace(clip, access_units=no_idr),
    }


def test_keyframeless_rtsp_is_stalled_with_a_reason_and_never_crashes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    threads = threading.active_count()
    with RtspServer(_garbage_clips()) as server:
        collected = Collected()
        worker = _run(tmp_path, server.url("/noidr"), collected)
        try:
            wait_for(
                lambda: collected.states().count(CameraState.STALLED) >= 2, timeout=20, what="two stalls"
            )
        finally:
            worker.stop()
    stalled = next(s for s in collected.statuses if s.state is CameraState.STALLED)
    assert "no keyframe for 3 s (nothing can be recorded)" in stalled.reason
    assert "no keyframe" in caplog.text
    assert not collected.segments
    assert worker.counters.inputs[0].stalls >= 2
    assert worker.counters.inputs[0].reconnects >= 1
    assert threading.active_count() <= threads


def test_garbage_nal_units_give_a_clear_state_and_never_crash_the_worker(tmp_path: Path) -> None:
    """Random slice data parses as frames (some even flagged as keyframes): remuxing cannot tell it from
    video, but the decoder gets no picture out of it. After 50 such packets in a row the camera is reported
    offline with the reason, and the worker reconnects (a glitching encoder often recovers on reconnect)."""
    with RtspServer(_garbage_clips()) as server:
        collected = Collected()
        worker = _run(tmp_path, server.url("/garbage"), collected)
        try:
            wait_for(
                lambda: any("cannot be decoded" in s.reason for s in collected.statuses),
                timeout=20,
                what="a corrupt-stream state",
            )
            wait_for(lambda: collected.states().count(CameraState.STREAMING) >= 2, timeout=20, what="retry")
        finally:
            worker.stop()
    corrupt = next(s for s in collected.statuses if "cannot be decoded" in s.reason)
    assert corrupt.state is CameraState.OFFLINE
    assert "50 packets in a row gave no picture" in corrupt.reason
    assert collected.states()[-1] is CameraState.OFFLINE
