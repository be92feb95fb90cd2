"""One demux per camera input through PyAV (FFmpeg): RTSP over TCP or UDP, HTTP(S) and local files.

The opened stream yields packets stamped with the wall clock at receipt. Recording remuxes those packets
and analysis decodes the same packets, so a camera is demuxed once for every consumer.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
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
from watchkeeper.sources.errors import NoKeyframeError, SourceUnavailableError, StreamStalledError

log = logging.getLogger(__name__)

RECEIPT_CLOCK_HZ = 1000
"""Time base of packets stamped with their receipt time (inputs without timestamps)."""
_AVFMT_NOTIMESTAMPS = 0x0080

FAST_ANALYZE_DURATION_US = 150_000
FAST_PROBE_SIZE_BYTES = 500_000
"""Probe limits for network inputs: FFmpeg's defaults (5 s, 5 MB) read ~2.8 s of a live 10 fps stream
before the first packet comes out; 0.15 s is enough once the codec parameters are known (RTSP carries them
in the SDP, an IDR carries them in-band). When they are not known after the short probe, ``open`` probes
again with FFmpeg's defaults, so the short probe never yields a stream without a picture size."""

NATIVE_TIMEOUT_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
"""Inputs whose read timeout FFmpeg enforces itself (the ``timeout`` socket option, in microseconds).

PyAV's own read timeout is an interrupt callback that takes the GIL and calls ``time.monotonic`` each time
FFmpeg polls it, which is several times per RTP packet: with 32 inputs that is tens of thousands of GIL
hand-offs a second, all competing with decoding and analysis. For these protocols the socket timeout does
the same job without the GIL; PyAV's callback stays for the open and for any other protocol."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """How to open one camera input. ``url`` may hold credentials: log ``redacted_url`` only."""

    url: str
    redacted_url: str
    transport: Literal["tcp", "udp"] = "tcp"
    open_timeout_s: float = 10.0
    stall_timeout_s: float = 10.0
    loop_files: bool = False
    keyframe_timeout_s: float = 0.0
    """Seconds without a video keyframe after which the input counts as stalled (0: never)."""

    @property
    def is_file(self) -> bool:
        """True for a local file (plain path or ``file://``)."""
        try:
            scheme = urlsplit(self.url).scheme
        except ValueError:  # e.g. an unclosed IPv6 bracket: not a path, and FFmpeg will say what is wrong
            scheme = self.url.partition("://")[0] if "://" in self.url else ""
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

        Finite media (local files, MP4 over HTTP) are paced in real time like a camera and looped when
        ``loop_files``; inputs without timestamps (MJPEG) are stamped with the receipt time.

        Raises:
            StreamStalledError: no packet arrived within the stall timeout.
            SourceUnavailableError: the stream failed for another reason.
        """
        wanted: list[Stream] = [self.video] if self.audio is None else [self.video, self.audio]
        finite = self._spec.is_file or self._container.duration is not None
        pacer = _Pacer(self.video) if finite else None
        watchdog = _KeyframeWatchdog(self.video, self._spec)
        clock = _ReceiptClock() if self._container.format.flags & _AVFMT_NOTIMESTAMPS else None
        offset = 0
        while True:
            last_end = 0
            for packet in self._demux(wanted):
                if packet.size == 0:
                    continue  # flush packet at end of stream
                watchdog.check(packet)
                if clock is not None:
                    clock.stamp(packet)
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
        """Demux ``wanted``; raise ``StreamStalledError`` once a read waited the stall timeout.

        When a read times out FFmpeg first hands out the frame its parser still held back, and only the
        next read fails: a packet that took the whole timeout to come is therefore the last one before a
        stall, and waiting for the next one would double the time to detect it.
        """
        packets = self._container.demux(wanted)
        stalled = StreamStalledError(
            f"{self._spec.redacted_url}: no data for {self._spec.stall_timeout_s:g} s"
        )
        while True:
            asked = time.monotonic()
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.ExitError as err:
                raise stalled from err
            except (av.error.FFmpegError, OSError) as err:
                if err.errno == errno.ETIMEDOUT:  # the socket timeout of a native-timeout input
                    raise stalled from err
                raise SourceUnavailableError(f"{self._spec.redacted_url}: {_reason(err)}") from err
            waited = time.monotonic() - asked
            yield packet
            if waited >= self._spec.stall_timeout_s:
                raise stalled


class _ReceiptClock:
    """Stamps packets of inputs that carry no timestamps (MJPEG over HTTP) with their receipt time.

    FFmpeg invents a 25 fps clock for such inputs, which would make a 10 fps camera's recording play
    2.5 times too fast; the receipt time is the only true clock they have.
    """

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._last = -1

    def stamp(self, packet: Packet[Stream]) -> None:
        now = round((time.monotonic() - self._t0) * RECEIPT_CLOCK_HZ)
        self._last = max(now, self._last + 1)
        packet.time_base = Fraction(1, RECEIPT_CLOCK_HZ)
        packet.pts = packet.dts = self._last


class _KeyframeWatchdog:
    """Raises when video packets keep coming but none is a keyframe: nothing can be recorded from them.

    Both the wall clock and the stream's own clock must have moved on by the timeout, so packets that
    FFmpeg hands out late (the tail of its buffers when a camera hangs) never count as a missing keyframe.
    """

    def __init__(self, video: VideoStream, spec: SourceSpec) -> None:
        self._video = video
        self._spec = spec
        self._wall = time.monotonic()
        self._media: float | None = None

    def check(self, packet: Packet[Stream]) -> None:
        timeout = self._spec.keyframe_timeout_s
        if timeout <= 0 or packet.stream is not self._video:
            return
        now = time.monotonic()
        stamp = packet.dts if packet.dts is not None else packet.pts
        media = float(stamp * packet.time_base) if stamp is not None and packet.time_base else None
        if packet.is_keyframe:
            self._wall, self._media = now, media
            return
        if self._media is None:
            self._media = media
        media_late = media is None or self._media is None or abs(media - self._media) > timeout
        if now - self._wall > timeout and media_late:
            raise NoKeyframeError(
                f"{self._spec.redacted_url}: no keyframe for {timeout:g} s (nothing can be recorded)"
            )


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
            try:
                found = Path(url).is_file()
            except OSError as err:  # a name too long for the file system, and the like
                reason = (err.strerror or str(err)).lower()
                raise SourceUnavailableError(f"{spec.redacted_url}: {reason}") from err
            if not found:
                raise SourceUnavailableError(f"{spec.redacted_url}: no such file")
            return OpenedStream(self._open(url, options), spec)
        if url.startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = spec.transport
        fast = {
            **options,
            "analyzeduration": str(FAST_ANALYZE_DURATION_US),
            "probesize": str(FAST_PROBE_SIZE_BYTES),
        }
        container = self._open(url, fast)
        if not _parameters_known(container):
            log.info("%s: codec parameters unknown after a short probe; probing longer", spec.redacted_url)
            container.close()
            container = self._open(url, options)
        return OpenedStream(container, spec)

    def _open(self, url: str, options: dict[str, str]) -> InputContainer:
        spec = self.spec
        read_timeout: float | None = spec.stall_timeout_s
        if url.startswith(NATIVE_TIMEOUT_SCHEMES):
            options = {**options, "timeout": str(round(spec.stall_timeout_s * 1_000_000))}
            read_timeout = None
        try:
            container = av.open(url, mode="r", options=options, timeout=(spec.open_timeout_s, read_timeout))
        except (av.error.FFmpegError, OSError) as err:
            raise SourceUnavailableError(f"{spec.redacted_url}: {_reason(err)}") from err
        log.debug("opened %s", spec.redacted_url)
        return container


def _parameters_known(container: InputContainer) -> bool:
    """Whether the first video stream's picture size is known (no video: let ``OpenedStream`` refuse it)."""
    if not container.streams.video:
        return True
    context = container.streams.video[0].codec_context
    return context.width > 0 and context.height > 0


def _reason(err: BaseException) -> str:
    """A short reason for an FFmpeg/OS error, without the URL (which may hold a password)."""
    if isinstance(err, av.error.ExitError):
        return "timed out"
    if isinstance(err, av.error.FFmpegError):
        text = err.strerror or type(err).__name__
    else:
        text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return str(text).strip().rstrip(".").lower() or "failed"
