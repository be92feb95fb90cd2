"""Live originals: the newest unredacted analysis frame of a camera, for break glass and live grants only.

The camera's ``PrivacyTap`` offers every frame it takes before redaction (static privacy masks are still
destroyed: they mark what must never be seen); :class:`LiveOriginals` keeps the newest one of a camera
**only while someone is entitled to watch it** (``want`` is called by the API after
it checked a break-glass or live grant, and lapses after a few seconds unless renewed). Frames live in
memory only and are JPEG-encoded on demand; nothing unredacted is written to disk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from watchkeeper.domain import CameraId

WANT_S = 5.0
"""How long one ``want`` keeps a camera's live originals flowing (viewers renew it with every frame)."""


@dataclass(frozen=True, slots=True, eq=False)
class LiveFrame:
    """One unredacted frame (``(H, W, 3)`` RGB) and when it was taken."""

    rgb: NDArray[np.uint8]
    at: datetime


class LiveOriginals:
    """Newest unredacted frame per camera, held only while wanted; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Keep nothing until a camera is wanted."""
        self._clock = clock
        self._changed = threading.Condition()
        self._frames: dict[CameraId, LiveFrame] = {}
        self._wanted_until: dict[CameraId, float] = {}

    def want(self, camera_id: CameraId, seconds: float = WANT_S) -> None:
        """Keep offering ``camera_id``'s frames for ``seconds`` from now (an entitled viewer is watching)."""
        with self._changed:
            until = self._clock() + seconds
            self._wanted_until[camera_id] = max(until, self._wanted_until.get(camera_id, 0.0))

    def wanted(self, camera_id: CameraId) -> bool:
        """True while someone entitled watches ``camera_id``."""
        with self._changed:
            return self._wanted_until.get(camera_id, 0.0) > self._clock()

    def offer(self, camera_id: CameraId, rgb: NDArray[np.uint8], at: datetime) -> None:
        """A camera's newest unredacted frame: kept while wanted, else the camera's frame is dropped."""
        with self._changed:
            if self._wanted_until.get(camera_id, 0.0) <= self._clock():
                self._wanted_until.pop(camera_id, None)
                self._frames.pop(camera_id, None)
                return
            self._frames[camera_id] = LiveFrame(rgb, at)
            self._changed.notify_all()

    def forget(self, camera_id: CameraId) -> None:
        """Drop the camera's frame (nobody entitled watches it any more)."""
        with self._changed:
            self._frames.pop(camera_id, None)

    def latest(self, camera_id: CameraId, after: datetime | None, timeout_s: float) -> LiveFrame | None:
        """The newest frame taken after ``after`` (any, when ``None``), waiting up to ``timeout_s``."""
        deadline = self._clock() + timeout_s
        with self._changed:
            while True:
                frame = self._frames.get(camera_id)
                if frame is not None and (after is None or frame.at > after):
                    return frame
                left = deadline - self._clock()
                if left <= 0:
                    return None
                self._changed.wait(min(left, 0.5))
