"""Stall and missing-keyframe detection on a real RTSP camera that hangs or never sends an IDR."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import TEST_FOOTAGE
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.simulator import RtspServer, generate_clip
from watchkeeper.sources import (
    NoKeyframeError,
    OpenedStream,
    PyAVSource,
    SourceSpec,
    StreamStalledError,
)


@pytest.fixture
def hang_camera() -> Iterator[RtspServer]:
    """Two paths of one clip so that two clients can hang at the same moment."""
    clip = generate_clip(TEST_FOOTAGE)
    with RtspServer({"/a": clip, "/b": clip}) as server:
        yield server


def _time_to_stall(spec: SourceSpec, stalled_at: list[float], results: dict[str, float]) -> None:
    """Stream until the input stalls; record how long after the camera hung that was detected."""
    with PyAVSource(spec).open() as stream:
        try:
            for _ in stream.packets():
                pass
        except StreamStalledError:
            results[spec.redacted_url] = time.monotonic() - stalled_at[0]


def _measure(server: RtspServer, specs: list[SourceSpec]) -> dict[str, float]:
    results: dict[str, float] = {}
    stalled_at: list[float] = []
    threads = [threading.Thread(target=_time_to_stall, args=(spec, stalled_at, results)) for spec in specs]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    stalled_at.append(time.monotonic())
    for path in server.paths:
        server.stall(path)
    for thread in threads:
        thread.join(30)
    return results


def _drain(stream: OpenedStream) -> None:
    for item in stream.packets():
        assert not item.packet.is_keyframe


def _drain_all(stream: OpenedStream) -> None:
    for _ in stream.packets():
        pass


def test_default_stall_timeout_is_ten_seconds() -> None:
    assert RecordingConfig().stall_timeout_s == 10
    assert SourceSpec(url="x", redacted_url="x").stall_timeout_s == 10


@pytest.mark.slow
def test_stall_is_detected_after_the_default_and_a_configured_timeout(hang_camera: RtspServer) -> None:
    specs = [
        SourceSpec(url=hang_camera.url("/a"), redacted_url="/a"),  # default: 10 s
        SourceSpec(url=hang_camera.url("/b"), redacted_url="/b", stall_timeout_s=2.0),
    ]
    measured = _measure(hang_camera, specs)
    print(
        f"stall detected after {measured['/a']:.2f} s (default 10 s), {measured['/b']:.2f} s (configured 2 s)"
    )
    assert 9.5 <= measured["/a"] <= 11.0
    assert 1.8 <= measured["/b"] <= 3.0


def test_stall_raises_with_a_reason(hang_camera: RtspServer) -> None:
    spec = SourceSpec(url=hang_camera.url("/a"), redacted_url="rtsp://camera/a", stall_timeout_s=1.5)
    with PyAVSource(spec).open() as stream:
        hang_camera.stall("/a")
        with pytest.raises(StreamStalledError, match=r"rtsp://camera/a: no data for 1.5 s"):
            _drain_all(stream)


def test_a_camera_that_never_sends_a_keyframe_is_reported(hang_camera: RtspServer) -> None:
    clip = generate_clip(dataclasses.replace(TEST_FOOTAGE, duration_s=2.0))
    no_idr = dataclasses.replace(clip, access_units=tuple(u for u in clip.access_units if not u.keyframe))
    with RtspServer({"/noidr": no_idr}) as server:
        spec = SourceSpec(url=server.url("/noidr"), redacted_url="/noidr", keyframe_timeout_s=1.5)
        started = time.monotonic()
        with (
            PyAVSource(spec).open() as stream,
            pytest.raises(NoKeyframeError, match=r"no keyframe for 1\.5 s"),
        ):
            _drain(stream)
        assert time.monotonic() - started < 5


def test_a_long_gop_within_the_keyframe_timeout_is_not_a_stall() -> None:
    spec_footage = dataclasses.replace(TEST_FOOTAGE, duration_s=4.0, keyframe_interval=25)  # 2.5 s GOP
    with RtspServer({"/gop": generate_clip(spec_footage)}) as server:
        spec = SourceSpec(url=server.url("/gop"), redacted_url="/gop", keyframe_timeout_s=3.0)
        with PyAVSource(spec).open() as stream:
            keyframes = 0
            for count, item in enumerate(stream.packets()):
                keyframes += item.packet.is_keyframe
                if count == 30:
                    break
    assert keyframes >= 2
