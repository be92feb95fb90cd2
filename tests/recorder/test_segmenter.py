"""The segmenter remuxes real H.264 (PyAV) into fMP4 segments cut on keyframes."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest

from tests.conftest import TEST_FOOTAGE
from watchkeeper.domain import CameraId, Segment
from watchkeeper.recorder.segmenter import Segmenter, SegmenterSettings, recover_partials, segment_path
from watchkeeper.simulator import write_mp4
from watchkeeper.sources import PyAVSource, ReceivedPacket, SourceSpec

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mp4(replace(TEST_FOOTAGE, duration_s=4.0), tmp_path_factory.mktemp("clip") / "clip.mp4")


def _record(clip: Path, root: Path, target_s: float, clock: list[datetime] | None = None) -> list[Segment]:
    """Feed the whole file (unpaced) with a synthetic receipt clock of 10 packets/s."""
    segments: list[Segment] = []
    segmenter = Segmenter(SegmenterSettings(root, CameraId("cam1"), target_s), segments.append)
    source = PyAVSource(SourceSpec(url=str(clip), redacted_url="clip.mp4"))
    opened = source.open()
    with opened:
        segmenter.begin(opened)
        demux = opened._container.demux(opened.video)  # unpaced: the test supplies the clock
        for index, packet in enumerate(demux):
            if packet.size == 0:
                continue
            at = clock[index] if clock is not None else T0 + timedelta(seconds=index / 10)
            segmenter.write(ReceivedPacket(packet=packet, received_at=at))
        segmenter.finish()
    return segments


def test_segments_are_cut_on_keyframes_at_the_target_length(clip_file: Path, tmp_path: Path) -> None:
    segments = _record(clip_file, tmp_path, target_s=1.0)
    assert len(segments) == 4
    for segment in segments:
        assert segment.keyframes >= 1
        assert segment.duration_s == pytest.approx(1.0, abs=0.11)
        with av.open(str(tmp_path / segment.path)) as container:
            frames = list(container.decode(video=0))
        assert frames[0].key_frame
        assert len(frames) == 10
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    for earlier, later in itertools.pairwise(segments):
        assert earlier.end <= later.start


def test_segment_paths_follow_the_utc_layout(clip_file: Path, tmp_path: Path) -> None:
    segments = _record(clip_file, tmp_path, target_s=2.0)
    assert segments[0].path == "cam1/2026/11/25/12/00.00.mp4"
    assert segments[1].path == "cam1/2026/11/25/12/00.02.mp4"
    assert segment_path(tmp_path, CameraId("c"), T0) == tmp_path / "c/2026/11/25/12/00.00.mp4"
    assert not list(tmp_path.rglob("*.part"))
    assert segments[0].size_bytes == (tmp_path / segments[0].path).stat().st_size
    assert (segments[0].video_codec, segments[0].width, segments[0].height) == ("h264", 320, 180)


def test_a_clock_that_jumps_backwards_never_gives_overlap_or_negative_duration(
    clip_file: Path, tmp_path: Path
) -> None:
    clock = [T0 + timedelta(seconds=i / 10) for i in range(40)]
    clock[20:] = [t - timedelta(hours=1) for t in clock[20:]]  # wall clock stepped back an hour
    segments = _record(clip_file, tmp_path, target_s=1.0, clock=clock)
    assert all(s.end >= s.start for s in segments)
    assert len({s.path for s in segments}) == len(segments)


def test_recover_partials_quarantines_leftovers(tmp_path: Path) -> None:
    leftover = tmp_path / "cam1/2026/11/25/12/.00.00.mp4.part"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a segment")
    moved = recover_partials(tmp_path)
    assert not leftover.exists()
    assert len(moved) == 1
    assert moved[0].parent == tmp_path / ".quarantine"
    assert moved[0].read_bytes() == b"half a segment"
    assert recover_partials(tmp_path) == []
