"""Decode the detect stream's packets and hand small grey frames to the analyzers at a low rate."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import av.error
import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from numpy.typing import NDArray

from watchkeeper.sources import CorruptStreamError, OpenedStream, ReceivedPacket

log = logging.getLogger(__name__)

FrameHandler = Callable[[NDArray[np.uint8], datetime], None]
"""Receives a grey frame (H, W) uint8 and the wall-clock time its packet arrived."""


class FrameTap(Protocol):
    """Something that wants the decoded colour frame now and then (the ``latest.jpg`` writer).

    The sampler asks ``due`` for every sampled frame and converts nothing for the tap: ``take`` gets the
    decoded frame as it is, so the cost of a colour conversion is paid only when a tap wants one.
    """

    def due(self, at: datetime) -> bool:
        """True when the tap wants the frame received at ``at``."""
        ...

    def take(self, frame: VideoFrame, at: datetime) -> None:
        """The decoded frame (detect-stream size, decoder pixel format)."""
        ...


@dataclass(frozen=True, slots=True)
class SamplerSettings:
    """How the detect stream is sampled.

    ``fps`` frames a second are analysed, scaled to ``width`` (height keeps the aspect). After
    ``max_undecodable`` packets in a row without a picture (about 5 s at 10 fps; a decoder warming up
    after a connect needs only a few) the stream counts as corrupt.
    """

    fps: float = 5.0
    width: int = 160
    max_undecodable: int = 50

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if self.width < 16:
            raise ValueError(f"width must be >= 16, got {self.width}")
        if self.max_undecodable < 1:
            raise ValueError(f"max_undecodable must be >= 1, got {self.max_undecodable}")


class FrameSampler:
    """A packet consumer: decodes video packets, keeps about ``fps`` frames a second, scales them down.

    Every packet must be decoded (H.264 frames depend on each other) but only sampled frames are
    converted and analysed, which is where the cost is.
    """

    def __init__(
        self, settings: SamplerSettings, handler: FrameHandler, taps: Sequence[FrameTap] = ()
    ) -> None:
        """Create a sampler that calls ``handler`` for each kept frame and offers it to each tap."""
        self._settings = settings
        self._handler = handler
        self._taps = tuple(taps)
        self._stream: OpenedStream | None = None
        self._next_due: datetime | None = None
        self._undecodable = 0
        self._grey = (
            VideoReformatter()
        )  # keeps its scaler between frames (``frame.reformat`` builds one each time)

    def begin(self, stream: OpenedStream) -> None:
        """Attach to a freshly opened stream."""
        self._stream = stream
        self._next_due = None
        self._undecodable = 0

    def write(self, item: ReceivedPacket) -> None:
        """Decode one packet and analyse the frame when one is due."""
        stream = self._stream
        if stream is None or item.packet.stream is not stream.video:
            return
        try:
            frames = stream.video.codec_context.decode(item.packet)
        except av.error.FFmpegError as err:
            log.debug("undecodable packet skipped: %s", err)
            frames = []
        self._count_undecodable(decoded=bool(frames))
        for frame in frames:
            if self._next_due is not None and item.received_at < self._next_due:
                continue
            self._next_due = item.received_at + _period(self._settings.fps)
            width = self._settings.width
            height = max(2, round(frame.height * width / max(1, frame.width)) // 2 * 2)
            grey = self._grey.reformat(frame, width=width, height=height, format="gray").to_ndarray()
            self._handler(np.ascontiguousarray(grey, dtype=np.uint8), item.received_at)
            for tap in self._taps:
                if tap.due(item.received_at):
                    tap.take(frame, item.received_at)

    def finish(self) -> None:
        """Detach from the stream."""
        self._stream = None

    def _count_undecodable(self, *, decoded: bool) -> None:
        """Raise once too many packets in a row gave no picture: the stream is corrupt, not just starting.

        Raises:
            CorruptStreamError: after ``max_undecodable`` consecutive packets without a decoded frame.
        """
        if decoded:
            self._undecodable = 0
            return
        self._undecodable += 1
        if self._undecodable >= self._settings.max_undecodable:
            count, self._undecodable = self._undecodable, 0
            raise CorruptStreamError(
                f"video cannot be decoded: {count} packets in a row gave no picture (corrupt stream?)"
            )


def _period(fps: float) -> timedelta:
    return timedelta(seconds=1.0 / fps)
