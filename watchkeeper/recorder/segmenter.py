"""Remux a camera's packets into fragmented-MP4 segments, cut on keyframes, without re-encoding.

Each segment is written to a hidden ``.part`` file and renamed when complete; only then is it handed to
the index sink. A crash therefore leaves either a complete, indexed segment or a ``.part`` file that
``recover_partials`` quarantines at start-up.

Times: a segment is stamped with the wall clock at receipt of its first packet. Camera timestamps are
used only inside a segment (rebased to start at zero) and are forced to increase, so a camera whose clock
jumps, goes backwards or wraps can never produce overlapping or negative-duration segments.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

from watchkeeper.domain import CameraId, Segment
from watchkeeper.recorder.quarantine import QuarantineNote, QuarantineReason, quarantine, quarantine_dir
from watchkeeper.sources import OpenedStream, ReceivedPacket

log = logging.getLogger(__name__)

SegmentSink = Callable[[Segment], None]
"""Called with each complete, renamed segment (the index writer)."""
SegmentFinisher = Callable[[Path, Path, datetime], None]
"""Turns a complete ``.part`` file into its final file (``part, final, start``; raises ``OSError``); the
default renames it, the privacy sealer writes it encrypted and deletes the ``.part``."""

FMP4_FLAGS = "frag_keyframe+empty_moov+default_base_moof"
PASSTHROUGH_AUDIO = frozenset({"aac"})
MAX_TIMESTAMP_JUMP_S = 5.0
JUMP_PERSISTS_S = 2.0
"""A packet more than ``MAX_TIMESTAMP_JUMP_S`` later than the receipt clock predicts is a jump of the
camera's clock only if its successors stay that late for this long (receipt time); a backlog arriving in a
burst after a pause drains in much less."""
CLOCK_DRIFT_PER_S = 0.001
"""How fast the receipt clock's baseline may rise (s per s of receipt time): follows a camera clock that
runs slow against the host (1000 ppm, far above real drift) while a late packet barely moves it."""


class RecorderError(Exception):
    """Writing a segment failed (disk full, permissions); the message names the file."""


class DiskFullError(RecorderError):
    """A segment could not be written because its volume is full (``ENOSPC``) or over quota (``EDQUOT``).

    The segmenter has already dropped the broken in-flight segment (its ``.part`` file is deleted) and
    starts a new one on the next keyframe, so the caller may free space and keep writing.
    """


def _write_error(message: str, err: OSError | av.error.FFmpegError) -> RecorderError:
    """``DiskFullError`` for ``ENOSPC`` or ``EDQUOT`` (from the OS or FFmpeg), else ``RecorderError``."""
    if getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"disk full: {message}: {err}")
    return RecorderError(f"{message}: {err}")


@dataclass(frozen=True, slots=True)
class SegmenterSettings:
    """Where and how one camera is recorded."""

    media_root: Path
    camera_id: CameraId
    target_seconds: float = 10.0
    finisher: SegmentFinisher | None = None


@dataclass(slots=True)
class _OpenSegment:
    container: OutputContainer
    part_path: Path
    final_path: Path
    start: datetime
    origin_s: float
    streams: dict[int, Stream]
    last_dts: dict[int, int] = field(default_factory=dict)
    last_received: datetime | None = None
    keyframes: int = 0
    packets: int = 0


class ReceiptClock:
    """Tells a jump of a camera's media clock from packets that merely arrive late (in a burst).

    The offset ``receipt time - media time`` of a packet is its network and scheduling delay plus a
    constant. Packets arrive late, never early, so the smallest recent offset (the baseline, which may rise
    slowly for clock drift) is the camera's clock as seen from the host. A packet whose offset is more than
    ``MAX_TIMESTAMP_JUMP_S`` **below** the baseline can only come from a clock that jumped forward (or a
    host clock stepped back): that is a jump at once. One **above** it is late: a jump only when the
    offset stays high for ``JUMP_PERSISTS_S`` of receipt time, since a burst of late packets after a
    stall drains far faster. Comparing each packet with the segment's first one instead (the old rule)
    cut segments early whenever their first keyframe, or a run of packets, arrived late under load.
    """

    def __init__(self) -> None:
        """Start with no baseline (the first packet sets it)."""
        self._baseline: float | None = None
        self._last_received: float | None = None
        self._late_since: float | None = None

    def observe(self, received_s: float, media_s: float) -> bool:
        """Feed one video packet (receipt time and media time, seconds); True when the media clock jumped.

        After a jump the baseline restarts from this packet, so each jump is reported once.
        """
        offset = received_s - media_s
        baseline, last = self._baseline, self._last_received
        self._last_received = received_s
        if baseline is None or last is None:
            self._baseline = offset
            return False
        baseline += max(0.0, received_s - last) * CLOCK_DRIFT_PER_S
        if offset < baseline - MAX_TIMESTAMP_JUMP_S:
            return self._restart(offset)
        if offset > baseline + MAX_TIMESTAMP_JUMP_S:
            if self._late_since is None:
                self._late_since = received_s
            elif received_s - self._late_since >= JUMP_PERSISTS_S:
                return self._restart(offset)
        else:
            self._late_since = None
        self._baseline = min(baseline, offset)
        return False

    def _restart(self, offset: float) -> bool:
        self._baseline, self._late_since = offset, None
        return True


def segment_path(media_root: Path, camera_id: CameraId, start: datetime) -> Path:
    """Return ``<root>/<camera>/<YYYY>/<MM>/<DD>/<HH>/<MM.SS>.mp4`` for a UTC start time."""
    return media_root / camera_id / start.strftime("%Y/%m/%d/%H") / start.strftime("%M.%S.mp4")


@dataclass(frozen=True, slots=True)
class SegmentTarget:
    """Where a new segment is written (``part``) and the name it gets when complete (``final``)."""

    final: Path
    part: Path


def claim_segment(final: Path) -> SegmentTarget:
    """Reserve ``final`` (or ``<MM.SS>-<n>.mp4`` when taken) by creating its empty ``.part`` exclusively.

    Two processes may record one camera for a moment (a drain or rebalancing handover) and, fed the same
    keyframes, open a segment in the same second: ``O_EXCL`` gives each its own file instead of both
    writing, and renaming, the same ``.part``.

    Raises:
        OSError: If the folder or the file cannot be created.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    stem = final.stem.split("-")[0]
    suffix = 0
    while True:
        candidate = final if suffix == 0 else final.with_name(f"{stem}-{suffix}.mp4")
        suffix += 1
        part = candidate.with_name(f".{candidate.name}.part")
        if candidate.exists():
            continue
        try:
            os.close(os.open(part, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return SegmentTarget(candidate, part)


class Segmenter:
    """Turns one camera's packet stream into indexed segments."""

    def __init__(self, settings: SegmenterSettings, sink: SegmentSink) -> None:
        """Create a segmenter; call ``begin`` for each new connection."""
        self._settings = settings
        self._sink = sink
        self._input: OpenedStream | None = None
        self._current: _OpenSegment | None = None
        self._frame_s = 0.1
        self._clock = ReceiptClock()
        self._jumped = False

    def begin(self, stream: OpenedStream) -> None:
        """Start recording a freshly opened stream (closes any segment of a previous connection)."""
        self.finish()
        self._input = stream
        self._clock = ReceiptClock()
        self._jumped = False
        rate = stream.video.average_rate or stream.video.guessed_rate
        self._frame_s = float(1 / rate) if rate else 0.1
        if stream.audio is not None and stream.audio.codec_context.name not in PASSTHROUGH_AUDIO:
            log.info(
                "camera %s: audio codec %s is not AAC; recording video only",
                self._settings.camera_id,
                stream.audio.codec_context.name,
            )

    def write(self, item: ReceivedPacket) -> None:
        """Add one packet; cuts a new segment on a keyframe once the target length is reached."""
        if self._input is None:
            raise RecorderError("write() before begin()")
        packet = item.packet
        is_video = packet.stream is self._input.video
        if not is_video and not self._keeps_audio():
            return
        if is_video:
            self._observe_clock(item)
        current = self._current
        if current is None:
            if not (is_video and packet.is_keyframe):
                return  # a segment must start on a keyframe
            self._current = current = self._open(item)
        elif is_video and packet.is_keyframe and self._should_cut(current, item):
            self._close(current, next_start=item.received_at)
            self._current = current = self._open(item)
        self._mux(current, item)

    def finish(self) -> None:
        """Close the open segment (stream ended or camera disconnected)."""
        if self._current is not None:
            current, self._current = self._current, None
            self._close(current, next_start=None)

    # -- internals -------------------------------------------------------------------------------------

    def _keeps_audio(self) -> bool:
        audio = self._input.audio if self._input is not None else None
        return audio is not None and audio.codec_context.name in PASSTHROUGH_AUDIO

    def _observe_clock(self, item: ReceivedPacket) -> None:
        packet = item.packet
        stamp = packet.dts if packet.dts is not None else packet.pts
        if stamp is None or packet.time_base is None:
            return
        if self._clock.observe(item.received_at.timestamp(), float(stamp * packet.time_base)):
            log.info(
                "camera %s: the stream's clock jumped; cutting at the next keyframe", self._settings.camera_id
            )
            self._jumped = True

    def _should_cut(self, current: _OpenSegment, item: ReceivedPacket) -> bool:
        elapsed = (item.received_at - current.start).total_seconds()
        if elapsed >= self._settings.target_seconds or self._jumped:
            self._jumped = False
            return True
        return False

    def _media_time(self, current: _OpenSegment, packet: Packet[Stream]) -> float:
        dts = packet.dts if packet.dts is not None else packet.pts
        if dts is None or packet.time_base is None:
            return 0.0
        return float(dts * packet.time_base) - current.origin_s

    def _open(self, item: ReceivedPacket) -> _OpenSegment:
        if self._input is None:
            raise RecorderError("no input")
        self._jumped = False  # a new segment starts from the current clock
        final = segment_path(self._settings.media_root, self._settings.camera_id, item.received_at)
        try:
            target = claim_segment(final)
        except OSError as err:
            raise _write_error(f"cannot create segment {final}", err) from err
        final, part = target.final, target.part
        try:
            container = av.open(str(part), mode="w", format="mp4", options={"movflags": FMP4_FLAGS})
        except (OSError, av.error.FFmpegError) as err:
            part.unlink(missing_ok=True)
            raise _write_error(f"cannot create segment {part}", err) from err
        streams: dict[int, Stream] = {
            self._input.video.index: container.add_stream_from_template(self._input.video)
        }
        if self._keeps_audio() and self._input.audio is not None:
            streams[self._input.audio.index] = container.add_stream_from_template(self._input.audio)
        packet = item.packet
        dts = packet.dts if packet.dts is not None else packet.pts
        origin = float(dts * packet.time_base) if dts is not None and packet.time_base is not None else 0.0
        return _OpenSegment(container, part, final, item.received_at, origin, streams)

    def _mux(self, current: _OpenSegment, item: ReceivedPacket) -> None:
        packet = item.packet
        time_base = packet.time_base or Fraction(1, 90000)
        out_stream = current.streams[packet.stream.index]
        raw = packet.dts if packet.dts is not None else packet.pts
        dts = round(self._media_time(current, packet) / float(time_base)) if raw is not None else None
        last = current.last_dts.get(packet.stream.index)
        if dts is None or (last is not None and dts <= last):
            dts = 0 if last is None else last + max(1, round(self._frame_s / float(time_base)))
        if dts < 0:
            if packet.stream is not self._input_video():
                return  # audio from before the keyframe that opened the segment
            dts = 0
        offset = (packet.pts - packet.dts) if packet.pts is not None and packet.dts is not None else 0
        packet.dts = dts
        packet.pts = dts + max(0, offset)
        packet.stream = out_stream
        try:
            current.container.mux(packet)
        except (OSError, av.error.FFmpegError) as err:
            error = _write_error(f"cannot write segment {current.part_path}", err)
            if isinstance(error, DiskFullError):
                self._abort(current)
            raise error from err
        current.last_dts[out_stream.index] = dts
        current.last_received = item.received_at
        current.packets += 1
        if packet.is_keyframe and out_stream.type == "video":
            current.keyframes += 1

    def _abort(self, current: _OpenSegment) -> None:
        """Drop a segment that cannot be completed (disk full): close quietly, delete its ``.part``."""
        if self._current is current:
            self._current = None
        try:
            current.container.close()
        except (OSError, av.error.FFmpegError) as err:
            log.debug("closing the broken segment %s failed: %s", current.part_path, err)
        current.part_path.unlink(missing_ok=True)
        log.warning(
            "camera %s: dropped the in-flight segment %s (disk full)",
            self._settings.camera_id,
            current.part_path,
        )

    def _input_video(self) -> Stream | None:
        return self._input.video if self._input is not None else None

    def _close(self, current: _OpenSegment, next_start: datetime | None) -> None:
        try:
            current.container.close()
            if self._settings.finisher is None:
                os.replace(current.part_path, current.final_path)
            else:
                self._settings.finisher(current.part_path, current.final_path, current.start)
        except (OSError, av.error.FFmpegError) as err:
            error = _write_error(f"cannot finish segment {current.part_path}", err)
            if isinstance(error, DiskFullError):
                self._abort(current)
            raise error from err
        last = current.last_received or current.start
        end = last + timedelta(seconds=self._frame_s)
        if next_start is not None:
            end = min(end, next_start)
        end = max(end, current.start)
        video = self._input.video if self._input is not None else None
        audio = self._input.audio if self._keeps_audio() and self._input is not None else None
        segment = Segment(
            camera_id=self._settings.camera_id,
            start=current.start,
            end=end,
            path=current.final_path.relative_to(self._settings.media_root).as_posix(),
            size_bytes=current.final_path.stat().st_size,
            video_codec=video.codec_context.name if video is not None else "unknown",
            width=video.codec_context.width if video is not None else 0,
            height=video.codec_context.height if video is not None else 0,
            keyframes=current.keyframes,
            audio_codec=audio.codec_context.name if audio is not None else None,
        )
        log.debug("camera %s: segment %s (%.1f s)", segment.camera_id, segment.path, segment.duration_s)
        self._sink(segment)


def recover_partials(media_root: Path) -> list[Path]:
    """Move ``.part`` files left by a crash into ``<root>/.quarantine/`` and return their new paths."""
    moved: list[Path] = []
    if not media_root.is_dir():
        return moved
    aside = quarantine_dir(media_root)
    note = QuarantineNote(QuarantineReason.PARTIAL, "partial segment left by a crash")
    for part in sorted(media_root.rglob(".*.mp4.part")):
        if aside in part.parents:
            continue
        target = quarantine(part, media_root, note)
        log.warning("quarantined partial segment %s -> %s", part, target)
        moved.append(target)
    return moved
