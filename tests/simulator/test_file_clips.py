"""clip_from_file: real video files turned into camera loops (resampled, rotated, mirrored, cached)."""

from __future__ import annotations

import dataclasses
import logging
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.support.services import services_required
from watchkeeper.simulator import (
    EncodedClip,
    FootageSpec,
    RtspServer,
    SimulatorError,
    clip_from_file,
    plaza_clips,
    plaza_views,
    serve_simulated_cameras,
)
from watchkeeper.simulator.demo import PLAZA_SPEC

ROOT = Path(__file__).resolve().parents[2]
VTEST = ROOT / "var" / "cache" / "footage" / "vtest.avi"

SOURCE_FPS = 20
SOURCE_FRAMES = 40
OUT_SPEC = FootageSpec(width=64, height=48, fps=10, duration_s=60.0, keyframe_interval=5, crf=18)


def _level(index: int) -> int:
    """Grey level of source frame ``index`` (distinct per frame, well apart after lossy coding)."""
    return 20 + 5 * index


@pytest.fixture(scope="module")
def ramp_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s, 20 fps MPEG-4 Part 2 AVI whose frame i has grey level 20 + 5 i on its left half, black right."""
    path = tmp_path_factory.mktemp("footage") / "ramp.avi"
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=SOURCE_FPS)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        stream.codec_context.options = {"qscale": "2"}
        for index in range(SOURCE_FRAMES):
            image = np.zeros((96, 128, 3), dtype=np.uint8)
            image[:, :64] = _level(index)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, SOURCE_FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _decode(clip: EncodedClip, tmp_path: Path) -> list[np.ndarray]:
    raw = tmp_path / "decoded.h264"
    raw.write_bytes(clip.annexb())
    with av.open(str(raw), format="h264") as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


def _left_levels(frames: list[np.ndarray]) -> list[float]:
    return [float(frame[:, : frame.shape[1] // 4].mean()) for frame in frames]


def test_resamples_scales_and_keeps_keyframe_interval(ramp_video: Path, tmp_path: Path) -> None:
    clip = clip_from_file(ramp_video, OUT_SPEC, cache_dir=tmp_path / "cache")
    assert len(clip.access_units) == 20  # 2 s at 10 fps
    assert clip.spec.frame_count == 20
    assert clip.spec.duration_s == pytest.approx(2.0)
    assert (clip.spec.width, clip.spec.height, clip.spec.walkers) == (64, 48, 0)
    assert not any(clip.spec.has_motion(i) for i in range(20))
    assert clip.keyframe_indices == (0, 5, 10, 15)
    frames = _decode(clip, tmp_path)
    assert len(frames) == 20
    assert frames[0].shape == (48, 64)
    # Output frame k shows source frame 2k (20 fps -> 10 fps); the right half stays black.
    assert _left_levels(frames) == pytest.approx([_level(2 * k) for k in range(20)], abs=4)
    assert all(frame[:, -8:].mean() < 24 for frame in frames)


def test_start_offset_rotates_the_loop_and_wraps(ramp_video: Path, tmp_path: Path) -> None:
    rotated = clip_from_file(ramp_video, OUT_SPEC, start_s=0.5, cache_dir=tmp_path)
    expected = [_level(2 * ((k + 5) % 20)) for k in range(20)]
    assert _left_levels(_decode(rotated, tmp_path)) == pytest.approx(expected, abs=4)
    assert rotated.access_units[0].keyframe
    wrapped = clip_from_file(ramp_video, OUT_SPEC, start_s=2.5, cache_dir=tmp_path)
    assert wrapped.annexb() == rotated.annexb()


def test_mirror_flips_left_and_right(ramp_video: Path, tmp_path: Path) -> None:
    clip = clip_from_file(ramp_video, OUT_SPEC, mirror=True, cache_dir=tmp_path)
    frames = _decode(clip, tmp_path)
    assert all(frame[:, :8].mean() < 24 for frame in frames)
    right = [float(frame[:, -16:].mean()) for frame in frames]
    assert right == pytest.approx([_level(2 * k) for k in range(20)], abs=4)


def test_duration_caps_the_loop(ramp_video: Path, tmp_path: Path) -> None:
    clip = clip_from_file(ramp_video, dataclasses.replace(OUT_SPEC, duration_s=0.8), cache_dir=tmp_path)
    assert len(clip.access_units) == 8
    assert clip.spec.duration_s == pytest.approx(0.8)


def test_same_input_gives_same_bytes_and_second_call_reads_the_cache(
    ramp_video: Path, tmp_path: Path
) -> None:
    first = clip_from_file(ramp_video, OUT_SPEC, cache_dir=tmp_path / "a")
    fresh = clip_from_file(ramp_video, OUT_SPEC, cache_dir=tmp_path / "b")
    assert fresh.annexb() == first.annexb()
    cached_files = sorted(p.suffix for p in (tmp_path / "a").iterdir())
    assert cached_files == [".h264", ".json"]
    started = time.perf_counter()
    again = clip_from_file(ramp_video, OUT_SPEC, cache_dir=tmp_path / "a")
    assert time.perf_counter() - started < 0.5
    assert again == first


def test_default_cache_is_next_to_the_source(ramp_video: Path, tmp_path: Path) -> None:
    source = tmp_path / "clip.avi"
    source.write_bytes(ramp_video.read_bytes())
    clip_from_file(source, OUT_SPEC)
    assert [p.name.startswith("clip-") for p in (tmp_path / "clips").iterdir()] == [True, True]


def test_other_options_get_their_own_cache_entry(ramp_video: Path, tmp_path: Path) -> None:
    clip_from_file(ramp_video, OUT_SPEC, cache_dir=tmp_path)
    clip_from_file(ramp_video, OUT_SPEC, mirror=True, cache_dir=tmp_path)
    clip_from_file(ramp_video, dataclasses.replace(OUT_SPEC, crf=30), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.h264"))) == 3


def test_damaged_cache_is_re_encoded(
    ramp_video: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = clip_from_file(ramp_video, OUT_SPEC, cache_dir=tmp_path)
    (data,) = tmp_path.glob("*.h264")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="watchkeeper.simulator.file_clips"):
        again = clip_from_file(ramp_video, OUT_SPEC, cache_dir=tmp_path)
    assert again.annexb() == good.annexb()
    assert "damaged footage cache" in caplog.text
    (meta,) = tmp_path.glob("*.json")
    meta.write_text("{not json")
    assert clip_from_file(ramp_video, OUT_SPEC, cache_dir=tmp_path).annexb() == good.annexb()


def test_errors(tmp_path: Path, ramp_video: Path) -> None:
    with pytest.raises(SimulatorError, match="cannot read footage file"):
        clip_from_file(tmp_path / "missing.avi", OUT_SPEC, cache_dir=tmp_path)
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SimulatorError, match=r"junk\.avi"):
        clip_from_file(junk, OUT_SPEC, cache_dir=tmp_path)
    with pytest.raises(SimulatorError, match="start_s"):
        clip_from_file(ramp_video, OUT_SPEC, start_s=-1, cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.h264"))


def test_file_clip_served_next_to_synthetic_cameras(ramp_video: Path, tmp_path: Path) -> None:
    clip = clip_from_file(ramp_video, OUT_SPEC, cache_dir=tmp_path)
    synthetic = FootageSpec(width=64, height=48, duration_s=0.5)
    with serve_simulated_cameras(2, synthetic, clips={"cam2": clip, "/extra": clip}) as server:
        assert server.paths == ("/cam1", "/cam2", "/extra")
        assert server.clip("/cam2") is clip
        assert server.clip("/cam1").spec.width == 64
        assert server.clip("/cam1").spec.walkers == 1
        _check_stream(server, "/cam2")


def _check_stream(server: RtspServer, path: str) -> None:
    options = {"rtsp_transport": "tcp"}
    with av.open(server.url(path), options=options, timeout=(5.0, 2.0)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="gray"))
            if len(frames) == 3:
                break
    assert [f.shape for f in frames] == [(48, 64)] * 3
    assert float(frames[0][:, :16].mean()) == pytest.approx(_level(0), abs=4)


def test_plaza_clips_picks_the_demo_views(ramp_video: Path, tmp_path: Path) -> None:
    assert [(v.path, v.mirror) for v in plaza_views()] == [("/cam1", False), ("/cam3", True)]
    seen: list[str] = []
    clips = plaza_clips(ramp_video, tmp_path, count=2, on_view=lambda view: seen.append(view.path))
    assert seen == ["/cam1"]
    assert list(clips) == ["/cam1"]
    assert (clips["/cam1"].spec.width, clips["/cam1"].spec.height) == (PLAZA_SPEC.width, PLAZA_SPEC.height)
    assert len(clips["/cam1"].access_units) == 20


def test_vtest_plaza_footage(tmp_path: Path) -> None:
    """The real footage the demo shows: MS-MPEG4v3 pedestrians, decoded, mirrored and encoded to H.264."""
    if not VTEST.is_file():
        message = f"{VTEST} is missing: run `make models` (it fetches Debian opencv-doc's vtest.avi)"
        if services_required():
            pytest.fail(f"WATCHKEEPER_REQUIRE_SERVICES=1 but {message}")
        pytest.skip(message)
    spec = dataclasses.replace(PLAZA_SPEC, duration_s=3.0)
    clip = clip_from_file(VTEST, spec, start_s=48.0, mirror=True, cache_dir=tmp_path)
    assert len(clip.access_units) == 30
    assert clip.keyframe_indices == (0, 10, 20)
    frames = _decode(clip, tmp_path)
    assert len(frames) == 30
    assert frames[0].shape == (480, 640)
    # Real footage: the plaza is textured (grass, tarmac, people), not flat, and it moves.
    assert float(frames[0].std()) > 20
    assert float(np.abs(frames[29].astype(int) - frames[0].astype(int)).mean()) > 1
