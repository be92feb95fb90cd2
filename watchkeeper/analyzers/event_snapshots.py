"""Event snapshots: the best (redacted) frame of an event, as ``<media_root>/<camera>/events/<id>.jpg``.

Frames arrive already redacted (the caller runs them through the one ``Redactor``); this module only encodes
them as JPEG (PyAV's MJPEG encoder, full-range YUV 4:2:0) and writes them atomically.
"""

from __future__ import annotations

import logging
import os
import re
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from numpy.typing import NDArray

from watchkeeper.domain import CameraId

log = logging.getLogger(__name__)

EVENTS_FOLDER = "events"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FULL_RANGE = 2


def event_snapshot_path(media_root: Path, camera_id: CameraId, event_id: str) -> Path:
    """Where an event's snapshot lives: ``<media_root>/<camera>/events/<event id>.jpg``.

    Raises:
        ValueError: ``event_id`` is not a plain id (letters, digits, ``_``, ``-``), so it cannot escape
            the folder.
    """
    if not _SAFE_ID.match(event_id):
        raise ValueError(f"not a valid event id: {event_id!r}")
    return media_root / camera_id / EVENTS_FOLDER / f"{event_id}.jpg"


def encode_jpeg(rgb: NDArray[np.uint8], quality: int = 4) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 RGB frame as JPEG (odd sizes are cropped to even).

    Raises:
        ValueError: The frame is not RGB uint8, is smaller than 2x2, or the encoder fails.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    if width < 2 or height < 2:
        raise ValueError(f"frame too small for a JPEG: {rgb.shape[1]}x{rgb.shape[0]}")
    encoder = av.CodecContext.create("mjpeg", "w")
    if not isinstance(encoder, VideoCodecContext):
        raise TypeError("mjpeg is not a video encoder")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuv420p"
    encoder.color_range = _FULL_RANGE
    encoder.time_base = Fraction(1, 1)
    encoder.qmin = encoder.qmax = quality
    try:
        frame = VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:height, :width]), format="rgb24")
        picture = frame.reformat(format="yuv420p", dst_color_range=_FULL_RANGE)
        picture.pts = 0
        picture.time_base = encoder.time_base
        packets = [*encoder.encode(picture), *encoder.encode(None)]
    except av.error.FFmpegError as err:
        raise ValueError(f"JPEG encoding failed: {err}") from err
    if not packets:
        raise ValueError("the JPEG encoder returned no picture")
    return bytes(packets[0])


class EventSnapshotStore:
    """Writes event snapshots under a media root; failures are logged, never raised into the pipeline."""

    def __init__(self, media_root: Path) -> None:
        """Store snapshots under ``media_root``."""
        self._root = media_root

    def path(self, camera_id: CameraId, event_id: str) -> Path:
        """The snapshot file of an event."""
        return event_snapshot_path(self._root, camera_id, event_id)

    def write(self, camera_id: CameraId, event_id: str, rgb: NDArray[np.uint8]) -> bool:
        """Encode and write (or replace) the snapshot of ``event_id``; True when written."""
        try:
            path = self.path(camera_id, event_id)
            data = encode_jpeg(rgb)
        except (ValueError, TypeError) as err:
            log.warning("event %s: cannot encode snapshot: %s", event_id, err)
            return False
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as err:
            log.warning("event %s: cannot write snapshot %s: %s", event_id, path, err)
            return False
        return True
