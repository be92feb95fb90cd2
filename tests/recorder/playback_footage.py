"""Recorded footage for the playback tests: real H.264 cut into fMP4 segment files like the recorder's.

The segments are written with the recorder's own fMP4 flags (init section, then one fragment per keyframe,
timestamps restarting at zero in every file) and stamped with a chosen wall clock, so tests know exactly
which time each frame belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av

from tests.conftest import TEST_FOOTAGE
from watchkeeper.domain import CameraId, Segment
from watchkeeper.recorder.segmenter import FMP4_FLAGS, segment_path
from watchkeeper.simulator import write_mp4

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FPS = TEST_FOOTAGE.fps
FRAME = timedelta(seconds=1 / FPS)


@dataclass(frozen=True, slots=True)
class Recording:
    """Segments (not yet indexed) and the root their paths are relative to."""

    root: Path
    segments: list[Segment]


def source_clip(folder: Path, seconds: float = 6.0) -> Path:
    """A plain MP4 of the test footage (keyframe every second)."""
    return write_mp4(replace(TEST_FOOTAGE, duration_s=seconds), folder / "source.mp4")


def record(
    clip: Path, root: Path, camera: str, start: datetime, seconds_per_segment: int = 1
) -> list[Segment]:
    """Cut ``clip`` into fMP4 segments of ``seconds_per_segment`` starting at wall time ``start``."""
    with av.open(str(clip)) as source:
        video = source.streams.video[0]
        packets = [packet for packet in source.demux(video) if packet.size > 0]
        groups: list[list[av.Packet]] = []
        for index, packet in enumerate(packets):
            if packet.is_keyframe and index % (FPS * seconds_per_segment) == 0:
                groups.append([])
            groups[-1].append(packet)
        segments = []
        at = start
        for group in groups:
            segments.append(_write_segment(root, CameraId(camera), at, video, group))
            at += FRAME * len(group)
    return segments


def _write_segment(
    root: Path, camera: CameraId, start: datetime, video: av.video.stream.VideoStream, group: list[av.Packet]
) -> Segment:
    path = segment_path(root, camera, start)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4", options={"movflags": FMP4_FLAGS}) as out:
        stream = out.add_stream_from_template(video)
        origin = group[0].dts
        for packet in group:
            shift = packet.pts - packet.dts
            packet.dts = packet.dts - origin
            packet.pts = packet.dts + shift
            packet.stream = stream
            out.mux(packet)
    return Segment(
        camera_id=camera,
        start=start,
        end=start + FRAME * len(group),
        path=path.relative_to(root).as_posix(),
        size_bytes=path.stat().st_size,
        video_codec="h264",
        width=TEST_FOOTAGE.width,
        height=TEST_FOOTAGE.height,
        keyframes=sum(1 for packet in group if packet.is_keyframe),
    )
