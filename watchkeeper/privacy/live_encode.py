"""Live viewing encoders: JPEG pictures (MJPEG fallback) and H.264 fMP4 fragments (for Media Source).

Both take the redacted ``LiveFrame``s of one viewer. Each viewer has its own encoder, fed only the frames
that viewer takes, so a dropped frame never breaks another viewer's stream. The fMP4 encoder runs libx264
with ``ultrafast``/``zerolatency`` (no B-frames, no look-ahead) and one fragment per frame: the first bytes
are the init segment (``ftyp`` + ``moov``), then a ``moof`` + ``mdat`` per frame, one frame behind the encoder
(the muxer closes a fragment when the next frame arrives). Timestamps are the frames' wall-clock times, so
dropped frames just make the stream's frame rate variable.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

import av
import av.error
import numpy as np
from av.container import OutputContainer
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from watchkeeper.domain import WatchkeeperError
from watchkeeper.privacy.live_feed import LiveFrame

LIVE_FMP4_FLAGS = "frag_keyframe+empty_moov+default_base_moof+frag_every_frame"
TIME_BASE = Fraction(1, 1000)
DEFAULT_KEYFRAME_S = 2.0
FALLBACK_CODEC = "avc1.42E01E"
"""Constrained baseline 3.0: what the codec string says when the encoder's SPS cannot be read."""


class LiveEncodeError(WatchkeeperError):
    """A live frame could not be encoded."""

    code = "live_encode"


def avc_codec_string(extradata: bytes | None) -> str:
    """The RFC 6381 codec string (``avc1.PPCCLL``) of an H.264 stream from its SPS.

    Reads ``avcC`` extradata (first byte 1) or Annex-B extradata (the NAL unit of type 7); falls back to
    ``FALLBACK_CODEC`` when neither is there.
    """
    if not extradata:
        return FALLBACK_CODEC
    if extradata[0] == 1 and len(extradata) >= 4:
        return "avc1." + extradata[1:4].hex().upper()
    for index in range(len(extradata) - 3):
        if extradata[index : index + 3] == b"\x00\x00\x01" and extradata[index + 3] & 0x1F == 7:
            sps = extradata[index + 4 : index + 7]
            if len(sps) == 3:
                return "avc1." + sps.hex().upper()
    return FALLBACK_CODEC


class JpegEncoder:
    """Redacted frames to JPEG pictures (the MJPEG fallback)."""

    def __init__(self, quality: int = 5) -> None:
        """``quality`` is the mjpeg q scale: 2 (best) .. 31 (smallest)."""
        if not 2 <= quality <= 31:
            raise ValueError(f"quality must be within [2, 31], got {quality}")
        self._quality = quality
        self._encoder: VideoCodecContext | None = None
        self._count = 0

    def encode(self, rgb: NDArray[np.uint8]) -> bytes:
        """One JPEG of ``rgb`` (cropped to even dimensions).

        Raises:
            LiveEncodeError: The frame is too small or the encoder failed.
        """
        height, width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        if width < 2 or height < 2:
            raise LiveEncodeError(f"frame too small to encode: {rgb.shape[1]}x{rgb.shape[0]}")
        encoder = self._encoder
        if encoder is None or (encoder.width, encoder.height) != (width, height):
            encoder = self._encoder = self._new_encoder(width, height)
        frame = VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:height, :width]), format="rgb24")
        picture = frame.reformat(format="yuvj420p")
        picture.pts = self._count
        picture.time_base = encoder.time_base
        self._count += 1
        try:
            packets = encoder.encode(picture)
        except av.error.FFmpegError as err:
            raise LiveEncodeError(f"JPEG encoder failed: {err}") from err
        if not packets:
            raise LiveEncodeError("the JPEG encoder returned no picture")
        return bytes(packets[0])

    def _new_encoder(self, width: int, height: int) -> VideoCodecContext:
        encoder = av.CodecContext.create("mjpeg", "w")
        if not isinstance(encoder, VideoCodecContext):
            raise LiveEncodeError("mjpeg is not a video encoder in this FFmpeg")
        encoder.width, encoder.height = width, height
        encoder.pix_fmt = "yuvj420p"
        encoder.time_base = Fraction(1, 1)
        encoder.qmin = encoder.qmax = self._quality
        return encoder


class _Sink:
    """A write-only (unseekable) target collecting what the muxer writes."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


class Fmp4LiveEncoder:
    """Redacted frames to a fragmented-MP4 byte stream for ``SourceBuffer.appendBuffer``."""

    def __init__(self, keyframe_s: float = DEFAULT_KEYFRAME_S, crf: int = 30) -> None:
        """Keyframe every ``keyframe_s`` seconds (about), x264 quality ``crf``."""
        if keyframe_s <= 0:
            raise ValueError(f"keyframe_s must be > 0, got {keyframe_s}")
        self._keyframe_s = keyframe_s
        self._crf = crf
        self._sink = _Sink()
        self._container: OutputContainer | None = None
        self._stream: VideoStream | None = None
        self._origin: datetime | None = None
        self._last_pts = -1
        self.codec: str | None = None
        """RFC 6381 codec string, known after the first ``encode``."""

    def encode(self, frame: LiveFrame) -> bytes:
        """Encode one frame; returns the bytes the muxer wrote (init segment first, then fragments).

        Frames after the first are scaled to the first frame's size.

        Raises:
            LiveEncodeError: The encoder or muxer failed.
        """
        try:
            stream = self._stream if self._stream is not None else self._open(frame.rgb)
            picture = VideoFrame.from_ndarray(np.ascontiguousarray(frame.rgb), format="rgb24")
            picture = picture.reformat(width=stream.width, height=stream.height, format="yuv420p")
            picture.pts = self._pts(frame.at)
            picture.time_base = TIME_BASE
            container = self._container
            if container is None:
                raise LiveEncodeError("the live encoder is closed")
            for packet in stream.encode(picture):
                container.mux(packet)
        except av.error.FFmpegError as err:
            raise LiveEncodeError(f"live H.264 encoder failed: {err}") from err
        if self.codec is None:
            self.codec = avc_codec_string(stream.codec_context.extradata)
        return self._sink.take()

    def close(self) -> None:
        """Release the encoder (what it still held is discarded: the viewer has gone)."""
        container, self._container, self._stream = self._container, None, None
        if container is not None:
            try:
                container.close()
            except av.error.FFmpegError:
                pass  # a half-written trailer of a stream nobody reads any more
        self._sink.chunks.clear()

    def _open(self, rgb: NDArray[np.uint8]) -> VideoStream:
        height, width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        if width < 2 or height < 2:
            raise LiveEncodeError(f"frame too small to encode: {rgb.shape[1]}x{rgb.shape[0]}")
        container = av.open(self._sink, mode="w", format="mp4", options={"movflags": LIVE_FMP4_FLAGS})
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        stream.codec_context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "crf": str(self._crf),
            "g": str(max(1, round(self._keyframe_s * 10))),
            "profile": "baseline",
        }
        self._container, self._stream = container, stream
        return stream

    def _pts(self, at: datetime) -> int:
        origin = self._origin
        if origin is None:
            origin = self._origin = at
        pts = max(self._last_pts + 1, round((at - origin).total_seconds() * 1000))
        self._last_pts = pts
        return pts
