"""The protected rendition's own thread: in order, bounded (the input thread waits, nothing is dropped),
at a lower CPU priority, surviving a failing frame, and rendering exactly what the input thread would."""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.frame import VideoFrame
from numpy.typing import NDArray

from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.detection import DetectionConfig
from watchkeeper.config.privacy import PrivacyConfig
from watchkeeper.domain import Segment
from watchkeeper.privacy.rendition import PrivacyServices, PrivacyTap
from watchkeeper.privacy.rendition_thread import RenditionThread, RenditionThreadSettings

T0 = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


def test_jobs_run_in_order_on_one_thread_and_drain_waits_for_all() -> None:
    done: list[int] = []
    names: set[str] = set()

    def handle(job: int) -> None:
        names.add(threading.current_thread().name)
        done.append(job)

    worker: RenditionThread[int] = RenditionThread("rendition-t", handle, RenditionThreadSettings(depth=64))
    for job in range(50):
        worker.put(job)
    worker.drain()
    assert done == list(range(50))
    assert names == {"rendition-t"}
    assert worker.stats.jobs == 50
    worker.put(50)  # a new connection: a new thread
    worker.drain()
    assert done[-1] == 50
    worker.drain()  # nothing running: a no-op


def test_a_full_queue_drops_its_oldest_frame_and_the_input_thread_never_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate, busy = threading.Event(), threading.Event()
    done: list[int] = []

    def handle(job: int) -> None:
        busy.set()
        gate.wait(10)
        done.append(job)

    worker: RenditionThread[int] = RenditionThread("rendition-t", handle, RenditionThreadSettings(depth=2))
    worker.put(0)
    assert busy.wait(10)  # 0 is being rendered (blocked) ...
    worker.put(1)
    worker.put(2)  # ... and 1 and 2 fill the queue
    assert worker.stats.dropped == 0
    began = time.monotonic()
    worker.put(3)  # full: 1 (the oldest queued) goes
    worker.put(4)  # full: 2 goes
    assert time.monotonic() - began < 0.5
    assert worker.stats.dropped == 2
    assert caplog.text.count("dropping its oldest frames") == 1  # once per connection
    gate.set()
    worker.drain()
    assert done == [0, 3, 4]


def test_a_failing_frame_is_logged_and_the_thread_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    done: list[int] = []

    def handle(job: int) -> None:
        if job == 1:
            raise ValueError("broken frame")
        done.append(job)

    worker: RenditionThread[int] = RenditionThread("rendition-t", handle)
    for job in range(3):
        worker.put(job)
    worker.drain()
    assert done == [0, 2]
    assert worker.stats.failed == 1
    assert "rendition-t: a rendition frame failed" in caplog.text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_thread_runs_at_a_higher_nice_value_than_its_creator() -> None:
    seen: list[int] = []
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def handle(job: int) -> None:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    worker: RenditionThread[int] = RenditionThread("rendition-t", handle, RenditionThreadSettings(nice=5))
    worker.put(0)
    worker.drain()
    assert seen == [min(19, mine + 5)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # the caller keeps its own


@pytest.mark.parametrize(("nice", "depth"), [(-1, 10), (20, 10), (10, 0)])
def test_settings_out_of_range_are_refused(nice: int, depth: int) -> None:
    with pytest.raises(ValueError, match="need 0 <= nice <= 19 and depth >= 1"):
        RenditionThreadSettings(nice=nice, depth=depth)


def _frames(count: int) -> list[VideoFrame]:
    rng = np.random.default_rng(7)
    frames = []
    for index in range(count):
        rgb = rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
        rgb[20:60, 10 + 4 * index : 50 + 4 * index] = 255  # something moving
        frames.append(VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"))
    return frames


def _render(folder: Path, thread: RenditionThreadSettings | None) -> tuple[list[NDArray[np.uint8]], bytes]:
    """Ten frames through a tap whose motion mask changes (and is changed in place after each take)."""
    camera = CameraConfig.model_validate(
        {"id": "c", "name": "c", "site": "s", "inputs": [{"url": "x.mp4", "roles": ["record", "detect"]}]}
    )
    privacy = PrivacyConfig.model_validate({"faces": {"enabled": False}})
    mask = np.zeros((30, 40), dtype=np.bool_)
    tap = PrivacyTap(
        camera, DetectionConfig(), folder, PrivacyServices(privacy, thread=thread), None, lambda: mask
    )
    segments: list[Segment] = []
    tap.attach(segments.append)
    for index, frame in enumerate(_frames(10)):
        mask[5:15, 2 + index : 12 + index] = True
        tap.take(frame, T0 + timedelta(seconds=index / 5))
        mask[:] = False  # as the motion detector's absorb does, on the input thread
    tap.finish()
    assert len(segments) == 1
    with av.open(str(folder / segments[0].path)) as container:
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return decoded, (folder / "c" / "latest.jpg").read_bytes()


def test_the_thread_renders_exactly_what_the_input_thread_would(tmp_path: Path) -> None:
    inline, inline_jpeg = _render(tmp_path / "inline", None)
    threaded, threaded_jpeg = _render(tmp_path / "threaded", RenditionThreadSettings(nice=10, depth=16))
    assert len(inline) == len(threaded) == 10
    for one, other in zip(inline, threaded, strict=True):
        assert np.array_equal(one, other)
    assert inline_jpeg == threaded_jpeg
