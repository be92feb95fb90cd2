"""Cut a time range of a camera's recording into one MP4 clip, by remuxing (no re-encode).

The clip starts at the keyframe at or before the requested start (a clip must open on a keyframe) and
ends with the last frame that starts before the requested end. Packets are placed on the clip's timeline
by their wall-clock time (segment start + time inside the segment), forced to increase, so timestamps are
continuous across segment boundaries and a gap in the recording stays a gap in the clip.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import av.error
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream

from watchkeeper.domain import NotFoundError, Segment, WatchkeeperError

log = logging.getLogger(__name__)

MAX_CLIP_SECONDS = 3600.0
"""Longest clip the API cuts in one request."""

CLIP_TIME_BASE = Fraction(1, 90000)


class ClipError(WatchkeeperError):
    """A clip could not be written (unreadable segment, disk full)."""

    code = "clip_failed"


class NoFootageError(NotFoundError):
    """Nothing was recorded in the requested range."""

    code = "no_footage"


@dataclass(frozen=True, slots=True)
class ClipSource:
    """A segment and its file; ``opener`` (when set) gives the seekable plaintext of an encrypted file."""

    segment: Segment
    path: Path
    opener: Callable[[], BinaryIO] | None = None


@contextlib.contextmanager
def _open_input(source: ClipSource) -> Iterator[InputContainer]:
    """The source opened for reading (decrypted in memory when it has an opener)."""
    if source.opener is None:
        with av.open(str(source.path)) as container:
            yield container
        return
    with source.opener() as handle, av.open(handle, mode="r") as container:
        yield container


@dataclass(frozen=True, slots=True)
class ClipResult:
    """A written clip and the wall-clock times it really covers."""

    path: Path
    start: datetime
    end: datetime
    frames: int

    @property
    def duration_s(self) -> float:
        """Covered length in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(slots=True)
class _Placed:
    """A packet with its wall-clock position."""

    packet: Packet[Stream]
    wall: datetime
    duration_s: float


@dataclass(slots=True)
class _Writer:
    container: OutputContainer
    clip_start: datetime
    streams: dict[str, Stream]
    last_dts: dict[str, int] = field(default_factory=dict)
    first: datetime | None = None
    last_end: datetime | None = None
    frames: int = 0


def _wall(segment: Segment, packet: Packet[Stream]) -> datetime | None:
    stamp = packet.pts if packet.pts is not None else packet.dts
    if stamp is None or packet.time_base is None:
        return None
    return segment.start + timedelta(seconds=float(stamp * packet.time_base))


def _fallback_duration(stream: Stream) -> float:
    rate = getattr(stream, "average_rate", None) or getattr(stream, "guessed_rate", None)
    return float(1 / rate) if rate else 0.0


def _packets(container: InputContainer, source: ClipSource, kinds: frozenset[str]) -> Iterator[_Placed]:
    streams = [stream for stream in container.streams if stream.type in kinds]
    fallback = {stream.index: _fallback_duration(stream) for stream in streams}
    for packet in container.demux(streams):
        if packet.size == 0:
            continue
        wall = _wall(source.segment, packet)
        if wall is None:
            continue
        duration = fallback.get(packet.stream.index, 0.0)
        if packet.duration and packet.time_base:
            duration = float(packet.duration * packet.time_base)
        yield _Placed(packet, wall, duration)


def _video_keyframe_at_or_before(source: ClipSource, at: datetime) -> datetime | None:
    """Wall time of the last video keyframe at or before ``at`` in one segment."""
    found: datetime | None = None
    with _open_input(source) as container:
        for placed in _packets(container, source, frozenset({"video"})):
            if placed.packet.is_keyframe and placed.wall <= at:
                found = placed.wall
            if placed.wall > at:
                break
    return found


def overlapping(sources: Sequence[ClipSource], start: datetime, end: datetime) -> list[ClipSource]:
    """The sources overlapping ``[start, end)``, oldest first."""
    chosen = [s for s in sources if s.segment.start < end and s.segment.end > start]
    return sorted(chosen, key=lambda s: (s.segment.start, s.segment.id or 0))


def cut_clip(sources: Sequence[ClipSource], start: datetime, end: datetime, output: Path) -> ClipResult:
    """Write the footage of ``[start, end)`` from ``sources`` into ``output`` (MP4, remuxed).

    Raises:
        NoFootageError: no source overlaps the range, or no frame falls inside it.
        ClipError: a segment cannot be read or the clip cannot be written.
    """
    chosen = overlapping(sources, start, end)
    if not chosen:
        raise NoFootageError("no footage recorded in the requested range")
    try:
        keyframe = _video_keyframe_at_or_before(chosen[0], start)
        first_wall = keyframe if keyframe is not None else chosen[0].segment.start
        with _open_input(chosen[0]) as probe:
            writer = _open_writer(output, probe, first_wall)
            try:
                for source in chosen:
                    _copy(source, writer, first_wall, end)
            finally:
                writer.container.close()
    except (OSError, av.error.FFmpegError) as err:
        output.unlink(missing_ok=True)
        raise ClipError(f"cannot cut the clip: {err}") from err
    if writer.first is None or writer.last_end is None:
        output.unlink(missing_ok=True)
        raise NoFootageError("no frame recorded in the requested range")
    log.debug("clip %s: %d frames %s .. %s", output.name, writer.frames, writer.first, writer.last_end)
    return ClipResult(path=output, start=writer.first, end=writer.last_end, frames=writer.frames)


def _open_writer(output: Path, probe: InputContainer, clip_start: datetime) -> _Writer:
    container = av.open(str(output), mode="w", format="mp4", options={"movflags": "+faststart"})
    streams: dict[str, Stream] = {}
    for stream in probe.streams:
        if stream.type == "video" and "video" not in streams:
            streams["video"] = container.add_stream_from_template(stream)
        elif stream.type == "audio" and "audio" not in streams and stream.codec_context.name == "aac":
            streams["audio"] = container.add_stream_from_template(stream)
    if "video" not in streams:
        container.close()
        raise NoFootageError("the recording has no video stream")
    for stream in streams.values():
        stream.time_base = CLIP_TIME_BASE
    return _Writer(container=container, clip_start=clip_start, streams=streams)


def _copy(source: ClipSource, writer: _Writer, first_wall: datetime, end: datetime) -> None:
    with _open_input(source) as container:
        for placed in _packets(container, source, frozenset(writer.streams)):
            if placed.wall < first_wall:
                continue
            if placed.wall >= end:
                if placed.packet.stream.type == "video":
                    return
                continue
            _mux(writer, placed)


def _mux(writer: _Writer, placed: _Placed) -> None:
    packet = placed.packet
    kind = packet.stream.type
    out = writer.streams.get(kind)
    if out is None or packet.time_base is None:
        return
    if kind == "video" and writer.first is None and not packet.is_keyframe:
        return  # the clip must open on a keyframe
    if kind != "video" and writer.first is None:
        return  # no audio before the first picture
    offset_s = (placed.wall - writer.clip_start).total_seconds()
    shift = 0
    if packet.pts is not None and packet.dts is not None:
        shift = round(float((packet.pts - packet.dts) * packet.time_base) / CLIP_TIME_BASE)
    pts = round(offset_s / CLIP_TIME_BASE)
    dts = pts - max(0, shift)
    last = writer.last_dts.get(kind)
    if last is not None and dts <= last:
        dts = last + 1
    dts = max(dts, 0)
    pts = max(pts, dts)
    duration = round(placed.duration_s / CLIP_TIME_BASE)
    packet.stream = out
    packet.time_base = CLIP_TIME_BASE
    packet.dts, packet.pts = dts, pts
    packet.duration = duration
    writer.container.mux(packet)
    writer.last_dts[kind] = dts
    if kind == "video":
        frame_end = placed.wall + timedelta(seconds=placed.duration_s)
        writer.first = writer.first or placed.wall
        writer.last_end = max(writer.last_end or frame_end, frame_end)
        writer.frames += 1
