"""Live viewing of the protected rendition: redacted frames fanned out to viewers without back-pressure.

``LiveFeed.observer(camera)`` is registered on a camera's ``PrivacyTap`` (``observe``), so it receives each
*redacted* rendition frame, in the camera's analysis thread. ``publish`` never blocks and never copies: each
viewer's ``LiveSubscription`` keeps only the newest frame. A viewer that is slower than the camera (a slow
network, a busy encoder) finds older frames replaced when it asks for the next one: it drops frames, the
camera never waits. A camera nobody watches costs one dictionary lookup per frame.

Original (unredacted) frames are never handed on: the observer ignores its first argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from watchkeeper.domain import CameraId, WatchkeeperError

DEFAULT_MAX_VIEWERS = 32
"""Live streams one camera serves at once, by default."""


class TooManyViewersError(WatchkeeperError):
    """The camera already serves as many live streams as it may."""

    code = "too_many_viewers"


@dataclass(frozen=True, slots=True, eq=False)
class LiveFrame:
    """One redacted rendition frame.

    Attributes:
        rgb: ``(H, W, 3)`` uint8, people and masks already redacted; shared between viewers, never written.
        at: Wall-clock time the camera took it (UTC).
        seq: Position of the frame in the camera's live feed (increases by one per published frame).
    """

    rgb: NDArray[np.uint8]
    at: datetime
    seq: int

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 frame, got {self.rgb.shape} {self.rgb.dtype}")


class LiveSubscription:
    """One viewer's place in a camera's feed: the newest frame only, and a wake-up for an async reader."""

    def __init__(self, camera_id: CameraId, on_close: Callable[[LiveSubscription], None]) -> None:
        """Subscribe from inside a running event loop (``next`` is awaited on that loop)."""
        self.camera_id = camera_id
        self._on_close = on_close
        self._lock = threading.Lock()
        self._frame: LiveFrame | None = None
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._closed = False
        self.delivered = 0
        """Frames handed to the viewer."""
        self.dropped = 0
        """Frames replaced by a newer one before the viewer took them."""

    def push(self, frame: LiveFrame) -> None:
        """Offer a frame (camera thread): replaces one the viewer has not taken yet, never waits."""
        with self._lock:
            if self._closed:
                return
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
        with contextlib.suppress(RuntimeError):  # the viewer's loop is closing: nothing to wake
            self._loop.call_soon_threadsafe(self._ready.set)

    async def next(self, timeout_s: float) -> LiveFrame | None:
        """The newest frame not yet taken; ``None`` when none arrives within ``timeout_s`` or when closed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        with self._lock:
            self._ready.clear()
            frame, self._frame = self._frame, None
            if frame is not None:
                self.delivered += 1
        return frame

    @property
    def closed(self) -> bool:
        """True once ``close`` ran."""
        return self._closed

    def close(self) -> None:
        """Leave the feed (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._frame = None
        self._on_close(self)


class LiveFeed:
    """Redacted frames of every camera, fanned out to live viewers (thread-safe)."""

    def __init__(self, max_viewers: int = DEFAULT_MAX_VIEWERS) -> None:
        """An empty feed serving at most ``max_viewers`` streams per camera."""
        if max_viewers < 1:
            raise ValueError(f"max_viewers must be at least 1, got {max_viewers}")
        self._max_viewers = max_viewers
        self._lock = threading.Lock()
        self._viewers: dict[CameraId, tuple[LiveSubscription, ...]] = {}
        self._seq: dict[CameraId, int] = {}

    def observer(
        self, camera_id: CameraId
    ) -> Callable[[NDArray[np.uint8], NDArray[np.uint8], datetime], None]:
        """A ``PrivacyTap`` observer publishing the camera's redacted frames (ignores the unredacted one)."""

        def observe(_unredacted: NDArray[np.uint8], redacted: NDArray[np.uint8], at: datetime) -> None:
            self.publish(camera_id, redacted, at)

        return observe

    def publish(self, camera_id: CameraId, redacted: NDArray[np.uint8], at: datetime) -> None:
        """Offer a redacted frame to every viewer of the camera; returns at once."""
        with self._lock:
            viewers = self._viewers.get(camera_id, ())
            seq = self._seq.get(camera_id, 0) + 1
            self._seq[camera_id] = seq
        if not viewers:
            return
        frame = LiveFrame(redacted, at, seq)
        for viewer in viewers:
            viewer.push(frame)

    def subscribe(self, camera_id: CameraId) -> LiveSubscription:
        """Start receiving the camera's frames (call from the event loop that awaits ``next``).

        Raises:
            TooManyViewersError: The camera already has ``max_viewers`` live streams.
        """
        with self._lock:
            current = self._viewers.get(camera_id, ())
            if len(current) >= self._max_viewers:
                raise TooManyViewersError(
                    f"camera {camera_id!r} already serves {len(current)} live streams (the limit)"
                )
            subscription = LiveSubscription(camera_id, self._remove)
            self._viewers[camera_id] = (*current, subscription)
        return subscription

    def viewers(self, camera_id: CameraId) -> int:
        """How many live streams the camera serves now."""
        with self._lock:
            return len(self._viewers.get(camera_id, ()))

    def _remove(self, subscription: LiveSubscription) -> None:
        with self._lock:
            rest = tuple(s for s in self._viewers.get(subscription.camera_id, ()) if s is not subscription)
            if rest:
                self._viewers[subscription.camera_id] = rest
            else:
                self._viewers.pop(subscription.camera_id, None)
