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
from watchkeeper.recorder.segmenter import (
    ReceiptClock,
    Segmenter,
    SegmenterSettings,
    SegmentTarget,
    claim_segment,
    recover_partials,
    segment_path,
)
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


def _clock_jumps(packets: list[tuple[float, float]]) -> list[int]:
    """Indices of the packets (receipt s, media s) at which ``ReceiptClock`` reports a jump."""
    clock = ReceiptClock()
    return [index for index, (received, media) in enumerate(packets) if clock.observe(received, media)]


def _steady(
    frames: int, fps: float = 10.0, start: float = 0.0, media0: float = 0.0
) -> list[tuple[float, float]]:
    return [(start + i / fps, media0 + i / fps) for i in range(frames)]


def test_a_burst_of_late_packets_is_not_a_clock_jump() -> None:
    before = _steady(50)
    # the process stalls 6 s, then 60 queued packets arrive within 0.3 s and the stream goes on in time
    burst = [(5.0 + 6.0 + i * 0.005, 5.0 + i / 10) for i in range(60)]
    after = [(11.3 + i / 10, 11.0 + i / 10) for i in range(1, 50)]
    assert _clock_jumps(before + burst + after) == []


@pytest.mark.parametrize(
    ("jump_s", "reported_at"),
    [
        (3600.0, 50),  # forward: a packet cannot arrive an hour early, so at once
        (-3600.0, 70),  # backward: the packets look an hour late; a jump once that lasts 2 s
        (-7.0, 70),
        (3.0, None),  # under MAX_TIMESTAMP_JUMP_S: an ordinary discontinuity, no cut
    ],
)
def test_a_media_clock_jump_is_reported_once(jump_s: float, reported_at: int | None) -> None:
    packets = _steady(50) + [(5.0 + i / 10, 5.0 + jump_s + i / 10) for i in range(100)]
    assert _clock_jumps(packets) == ([] if reported_at is None else [reported_at])


def test_slow_clock_drift_is_followed_without_a_jump() -> None:
    # camera clock 200 ppm slow for 12 hours at 1 packet/s: 8.6 s behind the host by the end
    packets = [(float(t), t * (1 - 200e-6)) for t in range(0, 12 * 3600, 1)]
    assert _clock_jumps(packets) == []


def test_packets_arriving_late_in_a_burst_do_not_cut_a_short_segment(clip_file: Path, tmp_path: Path) -> None:
    # 40 packets at 10/s (4 s of media); the process stalls before packet 30 (a keyframe), which arrives 6 s
    # late, and the backlog follows within milliseconds. The old rule (media time vs receipt time since the
    # segment's first packet differing by > 5 s) cut the 10 s segment there, at 3 s.
    clock = [T0 + timedelta(seconds=i / 10) for i in range(30)]
    clock += [T0 + timedelta(seconds=9.0 + (i - 30) * 0.001) for i in range(30, 40)]
    segments = _record(clip_file, tmp_path, target_s=10.0, clock=clock)
    assert len(segments) == 1
    with av.open(str(tmp_path / segments[0].path)) as container:
        assert len(list(container.decode(video=0))) == 40


def test_two_writers_of_one_second_get_their_own_files(tmp_path: Path) -> None:
    # A handover: the old and the new owner open a segment on the same keyframe, in the same second.
    final = segment_path(tmp_path, CameraId("cam1"), T0)
    first = claim_segment(final)
    second = claim_segment(final)
    assert first == SegmentTarget(final, final.with_name(".00.00.mp4.part"))
    assert second == SegmentTarget(final.with_name("00.00-1.mp4"), final.with_name(".00.00-1.mp4.part"))
    assert first.part.is_file()
    assert second.part.is_file()
    first.part.rename(first.final)
    third = claim_segment(final)  # a complete file of that name exists too
    assert third.final.name == "00.00-2.mp4"
    assert third.part.stat().st_size == 0


def test_claiming_in_a_folder_that_cannot_be_created_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "cam1"
    blocker.write_text("a file where the camera folder should be")
    with pytest.raises(OSError, match="cam1"):
        claim_segment(segment_path(tmp_path, CameraId("cam1"), T0))
