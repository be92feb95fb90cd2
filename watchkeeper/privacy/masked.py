"""Originals with the static privacy masks burned in (per-camera opt-in ``privacy.mask_originals``).

Replaces the remuxing segmenter of such a camera's record input: every video packet is decoded (with a
decoder of its own, so a shared detect input's decoder is untouched), the pixels under the camera's
privacy masks are destroyed, and the frame is re-encoded to H.264 (libx264, ultrafast) into segments in the
recorder's layout, indexed as ``rendition='original'``. Pixels under a mask never reach the disk. Audio is
not kept. This costs a full-resolution decode and encode per camera (``benchmarks/rendition_cost.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import av
import av.error
import numpy as np
from av.video.codeccontext import VideoCodecContext

from watchkeeper.domain import CameraId, Rendition, Segment
from watchkeeper.privacy.encoder import EncoderSettings, SegmentEncoder
from watchkeeper.privacy.redaction import PrivacyRedactor
from watchkeeper.sources import OpenedStream, ReceivedPacket

log = logging.getLogger(__name__)


class MaskedRecorder:
    """A packet consumer that records the input re-encoded with the static masks destroyed."""

    def __init__(
        self,
        redactor: PrivacyRedactor,
        media_root: Path,
        camera_id: CameraId,
        segment_seconds: float,
        sink: Callable[[Segment], None],
    ) -> None:
        """Record ``camera_id`` under ``media_root``, masked by ``redactor``; segments go to ``sink``."""
        self._redactor = redactor
        self._media_root = media_root
        self._camera_id = camera_id
        self._segment_seconds = segment_seconds
        self._sink = sink
        self._stream: OpenedStream | None = None
        self._decoder: VideoCodecContext | None = None
        self._encoder: SegmentEncoder | None = None
        self._last_cut: datetime | None = None

    def begin(self, stream: OpenedStream) -> None:
        """A new connection: a fresh decoder and encoder at the stream's frame rate."""
        self.finish()
        self._stream = stream
        template = stream.video.codec_context
        decoder = av.CodecContext.create(template.name, "r")
        if not isinstance(decoder, VideoCodecContext):
            raise TypeError(f"{template.name} is not a video codec")
        if template.extradata:
            decoder.extradata = template.extradata
        self._decoder = decoder
        rate = stream.video.average_rate or stream.video.guessed_rate
        fps = float(rate) if rate else 10.0
        settings = EncoderSettings(
            self._media_root, self._camera_id, Rendition.ORIGINAL, self._segment_seconds, fps, crf=23
        )
        self._encoder = SegmentEncoder(settings, self._sink)
        self._last_cut = None

    def write(self, item: ReceivedPacket) -> None:
        """Decode one video packet, destroy the masked pixels, encode."""
        stream, decoder, encoder = self._stream, self._decoder, self._encoder
        if stream is None or decoder is None or encoder is None or item.packet.stream is not stream.video:
            return
        try:
            frames = decoder.decode(item.packet)
        except av.error.FFmpegError as err:
            log.debug("undecodable packet skipped: %s", err)
            return
        at = item.received_at
        for frame in frames:
            rgb = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            self._redactor.destroy_masked(rgb)
            if self._last_cut is None or (at - self._last_cut).total_seconds() >= self._segment_seconds:
                if self._last_cut is not None:
                    encoder.cut(at)
                self._last_cut = at
            encoder.write(np.ascontiguousarray(rgb), at)

    def finish(self) -> None:
        """Close the open segment."""
        if self._encoder is not None:
            self._encoder.finish()
        self._stream = None
        self._decoder = None
        self._encoder = None
