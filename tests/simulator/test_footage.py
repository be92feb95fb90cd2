from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from tests.simulator.conftest import SMALL_SPEC
from watchkeeper.simulator import EncodedClip, FootageSpec, SimulatorError, generate_clip, write_mp4
from watchkeeper.simulator.footage import split_annexb


def test_same_spec_gives_same_bytes(small_clip: EncodedClip) -> None:
    again = generate_clip(SMALL_SPEC)
    assert again.annexb() == small_clip.annexb()
    assert again.sps == small_clip.sps
    assert again.pps == small_clip.pps


def test_other_seed_gives_other_footage(small_clip: EncodedClip) -> None:
    other = generate_clip(dataclasses.replace(SMALL_SPEC, seed=8))
    assert other.access_units[0].nals != small_clip.access_units[0].nals


def test_keyframes_every_interval(small_clip: EncodedClip) -> None:
    assert len(small_clip.access_units) == SMALL_SPEC.frame_count == 60
    assert small_clip.keyframe_indices == (0, 10, 20, 30, 40, 50)
    for unit in small_clip.access_units:
        kinds = {nal[0] & 0x1F for nal in unit.nals}
        assert kinds == ({5} if unit.keyframe else {1})
    assert small_clip.sps[0] & 0x1F == 7
    assert small_clip.pps[0] & 0x1F == 8
    assert len(small_clip.profile_level_id) == 6
    assert small_clip.sprop_parameter_sets.count(",") == 1


def test_annexb_decodes_to_expected_frames(tmp_path: Path, small_clip: EncodedClip) -> None:
    path = tmp_path / "clip.h264"
    path.write_bytes(small_clip.annexb())
    with av.open(str(path), format="h264") as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 60
    assert (frames[0].width, frames[0].height) == (320, 180)


def _frame_diffs(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        grey = [f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)]
    return [float(np.mean(np.abs(b - a) > 25)) for a, b in itertools.pairwise(grey)]


def test_mp4_has_motion_only_in_the_motion_window(tmp_path: Path) -> None:
    spec = FootageSpec(width=320, height=180, fps=10, duration_s=4.0, motion_start=0.25, motion_end=0.75)
    path = write_mp4(spec, tmp_path / "walk.mp4")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
        assert stream.frames == 40
    diffs = _frame_diffs(path)
    moving = [i + 1 for i, d in enumerate(diffs) if d > 0.002]
    assert moving, "the walker should be visible"
    assert all(spec.has_motion(i) or spec.has_motion(i - 1) for i in moving)
    quiet = [d for i, d in enumerate(diffs) if not spec.has_motion(i) and not spec.has_motion(i + 1)]
    assert quiet
    assert max(quiet) < 0.002
    assert spec.has_motion(15)
    assert not spec.has_motion(5)
    assert not spec.has_motion(35)
    assert spec.has_motion(55)  # frame indices wrap around the loop


def test_generation_is_fast_enough() -> None:

    started = time.perf_counter()
    clip = generate_clip(FootageSpec(duration_s=20.0))
    assert time.perf_counter() - started < 3.0  # "well under 2 s" on a quiet machine; CI may be busy
    assert len(clip.access_units) == 200


@pytest.mark.parametrize(
    "changes",
    [
        {"width": 33},
        {"height": 8},
        {"fps": 0},
        {"duration_s": 0.0},
        {"keyframe_interval": 0},
        {"motion_start": 0.8, "motion_end": 0.2},
        {"walkers": -1},
    ],
)
def test_invalid_specs_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(SimulatorError):
        FootageSpec(**changes)


def test_write_mp4_to_missing_directory_fails(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError):
        write_mp4(SMALL_SPEC, tmp_path / "missing" / "x.mp4")


def test_split_annexb_handles_both_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00\x00\x01\x65\xcc\xdd"
    assert split_annexb(data) == [b"\x67\xaa", b"\x68\xbb", b"\x65\xcc\xdd"]
    assert split_annexb(b"") == []
