"""Clips remuxed from several segments: keyframe start, exact reported times, continuous timestamps."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import av
import pytest

from tests.recorder.playback_footage import T0, record, source_clip
from watchkeeper.domain import Segment
from watchkeeper.recorder.export import ClipError, ClipSource, NoFootageError, cut_clip


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[ClipSource]:
    """1 s segments over [T0, T0+6 s) and [T0+20 s, T0+26 s)."""
    folder = tmp_path_factory.mktemp("export")
    clip = source_clip(folder)
    segments = record(clip, folder, "cam1", T0) + record(clip, folder, "cam1", T0 + timedelta(seconds=20))
    return [ClipSource(segment, folder / segment.path) for segment in segments]


def _decode(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def _t(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_clip_starts_on_the_keyframe_before_start_and_ends_before_end(
    sources: list[ClipSource], tmp_path: Path
) -> None:
    result = cut_clip(sources, T0 + _t(1.5), T0 + _t(4.25), tmp_path / "clip.mp4")
    assert result.start == T0 + _t(1.0)  # the keyframe opening the 2nd segment
    assert result.end == T0 + _t(4.3)  # the frame at 4.2 s is the last to start before 4.25 s
    assert result.frames == 33
    frames = _decode(result.path)
    assert len(frames) == 33
    assert frames[0].key_frame
    times = [frame.time for frame in frames]
    assert all(b > a for a, b in itertools.pairwise(times))  # continuous across 4 segment files
    assert times[0] == pytest.approx(0.0)
    assert times[-1] - times[0] + 0.1 == pytest.approx(result.duration_s, abs=0.01)
    assert (frames[0].width, frames[0].height) == (320, 180)


def test_a_clip_over_a_gap_keeps_the_gap_and_increasing_timestamps(
    sources: list[ClipSource], tmp_path: Path
) -> None:
    result = cut_clip(sources, T0 + _t(5), T0 + _t(22), tmp_path / "gap.mp4")
    frames = _decode(result.path)
    assert (result.start, result.end) == (T0 + _t(5), T0 + _t(22))
    assert len(frames) == 10 + 20
    times = [frame.time for frame in frames]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[10] == pytest.approx(15.0)  # wall-clock position: 20 s after T0, 15 s into the clip


def test_a_range_without_footage_is_no_footage(sources: list[ClipSource], tmp_path: Path) -> None:
    with pytest.raises(NoFootageError, match="no footage"):
        cut_clip(sources, T0 + _t(8), T0 + _t(15), tmp_path / "none.mp4")
    with pytest.raises(NoFootageError):
        cut_clip([], T0, T0 + _t(1), tmp_path / "none.mp4")
    assert not (tmp_path / "none.mp4").exists()


def test_an_unreadable_segment_is_a_clip_error(sources: list[ClipSource], tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not an mp4 at all" * 10)
    segment: Segment = sources[0].segment
    with pytest.raises(ClipError, match="cannot cut"):
        cut_clip([ClipSource(segment, broken)], T0, T0 + _t(1), tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
