"""Live state the API keeps in memory: latest camera statuses and the WebSocket fan-out."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

from watchkeeper.domain import CameraId, CameraState, CameraStatus, utcnow


class StatusBoard:
    """Latest known status per camera, fed from the bus; thread-safe."""

    def __init__(self, camera_ids: Iterable[CameraId]) -> None:
        """Start every camera as ``connecting`` until its worker reports."""
        started = utcnow()
        self._lock = threading.Lock()
        self._statuses = {
            camera_id: CameraStatus(
                camera_id, CameraState.CONNECTING, started, "waiting for the camera worker"
            )
            for camera_id in camera_ids
        }

    def update(self, status: CameraStatus) -> None:
        """Record a newer status."""
        with self._lock:
            current = self._statuses.get(status.camera_id)
            if current is None or status.since >= current.since:
                self._statuses[status.camera_id] = status

    def get(self, camera_id: CameraId) -> CameraStatus:
        """Status of one camera (``offline`` when it was never configured here)."""
        with self._lock:
            status = self._statuses.get(camera_id)
        if status is None:
            return CameraStatus(camera_id, CameraState.OFFLINE, utcnow(), "no worker serves this camera")
        return status


class LiveHub:
    """Fans JSON messages out to connected WebSocket clients.

    Each client has a bounded queue; a client too slow to keep up loses its oldest messages rather than
    slowing everyone else down (it can reload the lists over HTTP).
    """

    def __init__(self, queue_size: int = 256) -> None:
        """Create an empty hub."""
        self._queue_size = queue_size
        self._clients: set[asyncio.Queue[str]] = set()

    def connect(self) -> asyncio.Queue[str]:
        """Register a client; returns its queue."""
        queue: asyncio.Queue[str] = asyncio.Queue(self._queue_size)
        self._clients.add(queue)
        return queue

    def disconnect(self, queue: asyncio.Queue[str]) -> None:
        """Forget a client."""
        self._clients.discard(queue)

    @property
    def client_count(self) -> int:
        """Number of connected clients."""
        return len(self._clients)

    def broadcast(self, text: str) -> None:
        """Queue ``text`` for every client (call from the event loop)."""
        for queue in self._clients:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(text)
