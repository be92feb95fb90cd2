"""Encode RGB frames to H.264 fragmented-MP4 segments (libx264 via PyAV), cut on given wall-clock boundaries.

Used for the protected rendition (``<camera>/protected/<YYYY>/<MM>/<DD>/<HH>/<MM.SS>.mp4``) and for originals
re-encoded with their privacy masks burned in (the recorder's own layout). Every segment is a new encoder
(its first frame is a keyframe; the keyframe interval is the segment length), written to a hidden ``.part``
file, renamed when complete and only then handed to the sink, like the recorder's segments.

Alignment with the originals: ``cut(at)`` announces a boundary (the end of an original segment). The
encoder holds back one frame, so when the boundary is announced just after the frame at the boundary was
taken (the analysis sees a packet before the recorder does), that frame still opens the new segment. The
segment's ``end`` and the next one's ``start`` are the boundary itself. Without announcements (no
recording) segments are cut every ``2 x segment_seconds`` on their own.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
from av.container import OutputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from watchkeeper.domain import CameraId, Rendition, Segment
from watchkeeper.recorder.segmenter import RecorderError, claim_segment

log = logging.getLogger(__name__)

FMP4_FLAGS = "frag_keyframe+empty_moov+default_base_moof"
TIME_BASE = Fraction(1, 1000)
PROTECTED_DIR = "protected"


class EncoderError(RecorderError):
    """Writing an encoded segment failed; the message names the file (a ``RecorderError``)."""


def protected_segment_path(media_root: Path, camera_id: CameraId, start: datetime) -> Path:
    """``<root>/<camera>/protected/<YYYY>/<MM>/<DD>/<HH>/<MM.SS>.mp4`` for a UTC start time."""
    return (
        media_root / camera_id / PROTECTED_DIR / start.strftime("%Y/%m/%d/%H") / start.strftime("%M.%S.mp4")
    )


def original_segment_path(media_root: Path, camera_id: CameraId, start: datetime) -> Path:
    """The recorder's layout: ``<root>/<camera>/<YYYY>/<MM>/<DD>/<HH>/<MM.SS>.mp4``."""
    return media_root / camera_id / start.strftime("%Y/%m/%d/%H") / start.strftime("%M.%S.mp4")


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """Where segments go, how long they are and how they are encoded."""

    media_root: Path
    camera_id: CameraId
    rendition: Rendition = Rendition.PROTECTED
    segment_seconds: float = 10.0
    fps: float = 5.0
    crf: int = 28

    def __post_init__(self) -> None:
        if self.segment_seconds <= 0 or self.fps <= 0:
            raise ValueError(f"need segment_seconds > 0 and fps > 0, got {self.segment_seconds}, {self.fps}")


@dataclass(slots=True)
class _Open:
    container: OutputContainer
    stream: VideoStream
    part: Path
    final: Path
    start: datetime
    last_at: datetime
    last_pts: int = -1
    frames: int = 0


class SegmentEncoder:
    """RGB frames in, indexed H.264 fMP4 segments out (see the module docstring). Thread-safe ``cut``."""

    def __init__(self, settings: EncoderSettings, sink: Callable[[Segment], None] | None = None) -> None:
        """Encode with ``settings``; complete segments go to ``sink`` (see ``attach``)."""
        self._settings = settings
        self._sink = sink
        self._lock = threading.Lock()
        self._boundary: datetime | None = None
        self._held: tuple[NDArray[np.uint8], datetime] | None = None
        self._open: _Open | None = None
        self._frame = timedelta(seconds=1.0 / settings.fps)

    @property
    def settings(self) -> EncoderSettings:
        """The settings."""
        return self._settings

    def attach(self, sink: Callable[[Segment], None]) -> None:
        """Send complete segments to ``sink`` (the index writer)."""
        self._sink = sink

    def cut(self, at: datetime) -> None:
        """Announce a boundary: the segment open at ``at`` ends there and the next one starts there."""
        with self._lock:
            if self._boundary is None or at > self._boundary:
                self._boundary = at

    def write(self, rgb: NDArray[np.uint8], at: datetime) -> None:
        """Add one ``(H, W, 3)`` uint8 RGB frame taken at ``at`` (encoded when the next one arrives).

        Raises:
            EncoderError: The segment file cannot be written.
        """
        held, self._held = self._held, (rgb, at)
        if held is not None and at > held[1]:
            self._encode(*held)
        elif held is not None:
            self._held = held  # time went backwards or repeated: keep the earlier frame, drop this one

    def finish(self) -> None:
        """Encode the held frame and close the open segment (the stream ended).

        Raises:
            EncoderError: The segment file cannot be written.
        """
        held, self._held = self._held, None
        if held is not None:
            self._encode(*held)
        current, self._open = self._open, None
        if current is not None:
            self._close(current, current.last_at + self._frame)

    # -- internals -------------------------------------------------------------------------------------

    def _encode(self, rgb: NDArray[np.uint8], at: datetime) -> None:
        current = self._open
        with self._lock:
            boundary = self._boundary
        start = at
        if current is not None:
            if boundary is not None and current.start < boundary <= at:
                self._open = None
                self._close(current, boundary)
                current, start = None, boundary  # segments tile time: the next one starts at the cut
            elif (at - current.start).total_seconds() >= 2 * self._settings.segment_seconds:
                self._open = None
                self._close(current, at)
                current = None
        elif boundary is not None and at - self._frame < boundary <= at:
            start = boundary
        if current is None:
            current = self._open = self._start(rgb, start)
        self._push(current, rgb, at)

    def _start(self, rgb: NDArray[np.uint8], start: datetime) -> _Open:
        settings = self._settings
        if settings.rendition is Rendition.PROTECTED:
            final = protected_segment_path(settings.media_root, settings.camera_id, start)
        else:
            final = original_segment_path(settings.media_root, settings.camera_id, start)
        height, width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        try:
            target = claim_segment(final)
        except OSError as err:
            raise EncoderError(f"cannot create segment {final}: {err}") from err
        final, part = target.final, target.part
        try:
            container = av.open(str(part), mode="w", format="mp4", options={"movflags": FMP4_FLAGS})
            stream = container.add_stream(
                "libx264",
                rate=max(1, round(settings.fps)),
                options={"preset": "ultrafast", "tune": "zerolatency", "crf": str(settings.crf)},
            )
            # One thread: a camera's rendition is small, and slice threads per camera only add overhead
            # when many cameras share a few cores.
            stream.codec_context.thread_count = 1
        except (OSError, av.error.FFmpegError) as err:
            part.unlink(missing_ok=True)
            raise EncoderError(f"cannot create segment {part}: {err}") from err
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = TIME_BASE
        stream.codec_context.gop_size = max(1, round(settings.fps * settings.segment_seconds * 2))
        return _Open(container, stream, part, final, start, start)

    def _push(self, current: _Open, rgb: NDArray[np.uint8], at: datetime) -> None:
        height, width = current.stream.height, current.stream.width
        frame = VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:height, :width]), format="rgb24")
        picture = frame.reformat(format="yuv420p")
        pts = max(current.last_pts + 1, round((at - current.start).total_seconds() * 1000))
        picture.pts = pts
        picture.time_base = TIME_BASE
        try:
            current.container.mux(current.stream.encode(picture))
        except (OSError, av.error.FFmpegError) as err:
            self._abort(current)
            raise EncoderError(f"cannot write segment {current.part}: {err}") from err
        current.last_pts = pts
        current.last_at = at
        current.frames += 1

    def _abort(self, current: _Open) -> None:
        if self._open is current:
            self._open = None
        try:
            current.container.close()
        except (OSError, av.error.FFmpegError) as err:
            log.debug("closing the broken segment %s failed: %s", current.part, err)
        current.part.unlink(missing_ok=True)

    def _close(self, current: _Open, end: datetime) -> None:
        try:
            current.container.mux(current.stream.encode(None))
            current.container.close()
            os.replace(current.part, current.final)
        except (OSError, av.error.FFmpegError) as err:
            self._abort(current)
            raise EncoderError(f"cannot finish segment {current.part}: {err}") from err
        settings = self._settings
        segment = Segment(
            camera_id=settings.camera_id,
            start=current.start,
            end=max(end, current.start),
            path=current.final.relative_to(settings.media_root).as_posix(),
            size_bytes=current.final.stat().st_size,
            video_codec="h264",
            width=current.stream.width,
            height=current.stream.height,
            keyframes=1,
            rendition=settings.rendition,
        )
        log.debug("camera %s: %s segment %s", settings.camera_id, settings.rendition.value, segment.path)
        if self._sink is not None:
            self._sink(segment)
