"""``latest.jpg``: the newest analysed frame of a camera, written at most about once a second.

The frame is encoded with PyAV's MJPEG encoder at the detect stream's size and written atomically
(temporary file + rename), so a reader never sees half a JPEG.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame

from watchkeeper.domain import CameraId

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "latest.jpg"
JPEG_PIXEL_FORMAT = "yuv420p"
FULL_RANGE = 2
"""``AVCOL_RANGE_JPEG``: JPEG stores full-range samples (what the deprecated ``yuvj420p`` meant)."""


def snapshot_path(media_root: Path, camera_id: CameraId) -> Path:
    """Where a camera's latest snapshot lives: ``<media_root>/<camera>/latest.jpg``."""
    return media_root / camera_id / SNAPSHOT_NAME


class SnapshotWriter:
    """A frame tap for ``FrameSampler``: keeps ``latest.jpg`` up to date, at most every ``interval_s``."""

    def __init__(self, path: Path, interval_s: float = 1.0, quality: int = 4) -> None:
        """Write snapshots to ``path``; ``quality`` is the MJPEG quantiser (2 best .. 31 worst)."""
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        if not 2 <= quality <= 31:
            raise ValueError(f"quality must be within [2, 31], got {quality}")
        self._path = path
        self._interval = timedelta(seconds=interval_s)
        self._quality = quality
        self._last: datetime | None = None
        self._encoder: VideoCodecContext | None = None
        self._written = 0
        self._encoded = 0

    @property
    def path(self) -> Path:
        """The snapshot file."""
        return self._path

    @property
    def written(self) -> int:
        """How many snapshots were written."""
        return self._written

    def due(self, at: datetime) -> bool:
        """True when a frame received at ``at`` should become the new snapshot."""
        last = self._last
        return last is None or at - last >= self._interval or at < last

    def take(self, frame: VideoFrame, at: datetime) -> None:
        """Encode ``frame`` as JPEG and replace the snapshot; failures are logged, never raised."""
        self._last = at
        self.write(frame)

    def claim(self, at: datetime) -> bool:
        """``due(at)``, and when due count the frame at ``at`` as taken: its ``write`` may come later.

        For a caller that decides on one thread and encodes on another (the protected rendition's thread).
        """
        if not self.due(at):
            return False
        self._last = at
        return True

    def write(self, frame: VideoFrame) -> None:
        """Encode ``frame`` as JPEG and replace the snapshot now (no ``due`` bookkeeping); never raises."""
        try:
            data = self._encode(frame)
        except (av.error.FFmpegError, ValueError) as err:
            log.warning("snapshot %s: cannot encode frame: %s", self._path, err)
            self._encoder = None
            return
        tmp = self._path.with_name(f".{self._path.name}.tmp")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, self._path)
        except OSError as err:
            log.warning("snapshot %s: cannot write: %s", self._path, err)
            return
        self._written += 1

    def _encode(self, frame: VideoFrame) -> bytes:
        width, height = frame.width // 2 * 2, frame.height // 2 * 2
        if width < 2 or height < 2:
            raise ValueError(f"frame too small for a snapshot: {frame.width}x{frame.height}")
        encoder = self._encoder
        if encoder is None or (encoder.width, encoder.height) != (width, height):
            encoder = self._encoder = self._new_encoder(width, height)
        picture = frame.reformat(
            width=width, height=height, format=JPEG_PIXEL_FORMAT, dst_color_range=FULL_RANGE
        )
        picture.time_base = encoder.time_base
        picture.pts = self._encoded
        self._encoded += 1
        packets = encoder.encode(picture)
        if not packets:
            raise ValueError("the JPEG encoder returned no picture")
        return bytes(packets[0])

    def _new_encoder(self, width: int, height: int) -> VideoCodecContext:
        encoder = av.CodecContext.create("mjpeg", "w")
        if not isinstance(encoder, VideoCodecContext):
            raise TypeError("mjpeg is not a video encoder")
        encoder.width, encoder.height = width, height
        encoder.pix_fmt = JPEG_PIXEL_FORMAT
        encoder.color_range = FULL_RANGE
        encoder.time_base = Fraction(1, 1)
        encoder.qmin = encoder.qmax = self._quality
        return encoder
