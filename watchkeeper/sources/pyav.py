"""One demux per camera input through PyAV (FFmpeg): RTSP over TCP or UDP, HTTP(S) and local files.

The opened stream yields packets stamped with the wall clock at receipt. Recording remuxes those packets
and analysis decodes the same packets, so a camera is demuxed once for every consumer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

import av
import av.error
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.stream import VideoStream

from watchkeeper.domain import utcnow
from watchkeeper.sources.errors import SourceUnavailableError, StreamStalledError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """How to open one camera input. ``url`` may hold credentials: log ``redacted_url`` only."""

    url: str
    redacted_url: str
    transport: Literal["tcp", "udp"] = "tcp"
    open_timeout_s: float = 10.0
    stall_timeout_s: float = 10.0
    loop_files: bool = False

    @property
    def is_file(self) -> bool:
        """True for a local file (plain path or ``file://``)."""
        scheme = urlsplit(self.url).scheme
        return scheme in ("", "file") or len(scheme) == 1  # a Windows drive letter reads as a scheme


@dataclass(frozen=True, slots=True)
class ReceivedPacket:
    """A demuxed packet and the wall-clock UTC time it arrived."""

    packet: Packet[Stream]
    received_at: datetime


class OpenedStream:
    """An open input: its video (and optional audio) stream and an iterator over their packets."""

    def __init__(self, container: InputContainer, spec: SourceSpec) -> None:
        """Wrap an open container; use ``PyAVSource.open`` rather than calling this."""
        self._container = container
        self._spec = spec
        if not container.streams.video:
            container.close()
            raise SourceUnavailableError(f"{spec.redacted_url}: no video stream")
        self.video: VideoStream = container.streams.video[0]
        self.audio: AudioStream | None = container.streams.audio[0] if container.streams.audio else None

    def __enter__(self) -> OpenedStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the input (idempotent)."""
        self._container.close()

    def packets(self) -> Iterator[ReceivedPacket]:
        """Yield packets until the stream ends.

        Files are paced in real time like a camera (and looped when ``loop_files``).

        Raises:
            StreamStalledError: no packet arrived within the stall timeout.
            SourceUnavailableError: the stream failed for another reason.
        """
        wanted: list[Stream] = [self.video] if self.audio is None else [self.video, self.audio]
        pacer = _Pacer(self.video) if self._spec.is_file else None
        offset = 0
        while True:
            last_end = 0
            for packet in self._demux(wanted):
                if packet.size == 0:
                    continue  # flush packet at end of stream
                if pacer is not None:
                    packet.pts = None if packet.pts is None else packet.pts + offset
                    packet.dts = None if packet.dts is None else packet.dts + offset
                    pacer.wait(packet)
                    last_end = max(last_end, (packet.pts or 0) + (packet.duration or 0))
                yield ReceivedPacket(packet=packet, received_at=utcnow())
            if pacer is None or not self._spec.loop_files:
                return
            self._container.seek(0)
            offset = last_end if last_end > offset else offset + 1

    def _demux(self, wanted: list[Stream]) -> Iterator[Packet[Stream]]:
        try:
            yield from self._container.demux(wanted)
        except av.error.ExitError as err:
            raise StreamStalledError(
                f"{self._spec.redacted_url}: no data for {self._spec.stall_timeout_s:g} s"
            ) from err
        except (av.error.FFmpegError, OSError) as err:
            raise SourceUnavailableError(f"{self._spec.redacted_url}: {_reason(err)}") from err


class _Pacer:
    """Sleeps so that file packets come out at their own rate, as a live camera would send them."""

    def __init__(self, stream: VideoStream) -> None:
        self._stream = stream
        self._t0: float | None = None
        self._pts0: int | None = None

    def wait(self, packet: Packet[Stream]) -> None:
        if packet.stream is not self._stream or packet.pts is None or packet.time_base is None:
            return
        now = time.monotonic()
        if self._t0 is None or self._pts0 is None:
            self._t0, self._pts0 = now, packet.pts
            return
        due = self._t0 + float((packet.pts - self._pts0) * packet.time_base)
        if due > now:
            time.sleep(min(due - now, 1.0))


class PyAVSource:
    """A camera input opened through PyAV."""

    def __init__(self, spec: SourceSpec) -> None:
        """Remember how to open the input; nothing is opened yet."""
        self.spec = spec

    def open(self) -> OpenedStream:
        """Open the input.

        Raises:
            SourceUnavailableError: with a one-line reason that never contains credentials.
        """
        spec = self.spec
        options: dict[str, str] = {}
        url = spec.url
        if spec.is_file:
            url = urlsplit(url).path if url.startswith("file:") else url
            if not Path(url).is_file():
                raise SourceUnavailableError(f"{spec.redacted_url}: no such file")
        elif url.startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = spec.transport
        try:
            container = av.open(
                url, mode="r", options=options, timeout=(spec.open_timeout_s, spec.stall_timeout_s)
            )
        except (av.error.FFmpegError, OSError) as err:
            raise SourceUnavailableError(f"{spec.redacted_url}: {_reason(err)}") from err
        log.debug("opened %s", spec.redacted_url)
        return OpenedStream(container, spec)


def _reason(err: BaseException) -> str:
    """A short reason for an FFmpeg/OS error, without the URL (which may hold a password)."""
    if isinstance(err, av.error.ExitError):
        return "timed out"
    if isinstance(err, av.error.FFmpegError):
        text = err.strerror or type(err).__name__
    else:
        text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return str(text).strip().rstrip(".").lower() or "failed"
