"""Live state the API keeps in memory: latest camera statuses, the WebSocket fan-out, incident pushes.

Incident changes reach consoles through :class:`IncidentBroadcaster`: each API server reads the incident
subject with its own durable consumer, appends every change to the incident journal in the database (one
entry per incident revision, shared by all servers) and pushes it with the journal's ``seq`` as cursor. A
console that reconnects, to this server or another, even after a restart, asks for the changes after the
last cursor it saw and gets them from the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from watchkeeper.api.schemas.live import WsIncident
from watchkeeper.auth.permissions import Permission
from watchkeeper.bus.messages import IncidentMessage
from watchkeeper.bus.protocol import Bus, Subscription
from watchkeeper.domain import CameraId, CameraState, CameraStatus, SiteId, WatchkeeperError, utcnow
from watchkeeper.domain.integrations import JournalEntry
from watchkeeper.storage.protocols import IncidentJournal

log = logging.getLogger(__name__)

INCIDENT_SUBJECT = "wk.incidents.>"


@dataclass(frozen=True, slots=True)
class IncidentScope:
    """Where an incident push belongs (who may see it) and its journal cursor."""

    cursor: int
    site_id: SiteId | None = None
    camera_ids: tuple[CameraId, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """One push to WebSocket clients: JSON text, the camera it concerns and the permission it needs."""

    text: str
    camera_id: CameraId | None = None
    permission: Permission = Permission.VIEW_CAMERAS
    incident: IncidentScope | None = None
    """Set for incident pushes: visible to whoever may view incidents of its site or one of its cameras."""


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
        self._waiting = set(self._statuses)
        """Cameras still on the placeholder: any worker status replaces it, however old its ``since``
        (a worker in another process repeats a steady camera's status with the time it entered it)."""

    def update(self, status: CameraStatus) -> None:
        """Record a newer status."""
        with self._lock:
            current = self._statuses.get(status.camera_id)
            if current is None or status.camera_id in self._waiting or status.since >= current.since:
                self._statuses[status.camera_id] = status
                self._waiting.discard(status.camera_id)

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
        self._clients: set[asyncio.Queue[LiveMessage]] = set()

    def connect(self) -> asyncio.Queue[LiveMessage]:
        """Register a client; returns its queue."""
        queue: asyncio.Queue[LiveMessage] = asyncio.Queue(self._queue_size)
        self._clients.add(queue)
        return queue

    def disconnect(self, queue: asyncio.Queue[LiveMessage]) -> None:
        """Forget a client."""
        self._clients.discard(queue)

    @property
    def client_count(self) -> int:
        """Number of connected clients."""
        return len(self._clients)

    def broadcast(
        self, text: str, camera_id: CameraId | None = None, permission: Permission = Permission.VIEW_CAMERAS
    ) -> None:
        """Queue ``text`` for every client (call from the event loop); each client filters by its rights."""
        self.push(LiveMessage(text, camera_id, permission))

    def push(self, message: LiveMessage) -> None:
        """Queue ``message`` for every client (call from the event loop)."""
        for queue in self._clients:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)


def incident_push(message: IncidentMessage, cursor: int) -> LiveMessage:
    """The live push of an incident change journalled at ``cursor``."""
    scope = IncidentScope(cursor, message.site_id, tuple(message.camera_ids))
    text = WsIncident.of(message, cursor).model_dump_json()
    return LiveMessage(text, None, Permission.VIEW_INCIDENTS, scope)


class IncidentBroadcaster:
    """Journals incident changes from the bus and pushes them to this server's WebSocket clients."""

    def __init__(self, bus: Bus, journal: IncidentJournal, hub: LiveHub, durable: str, keep_s: float) -> None:
        """Consume with durable consumer ``durable`` (one per API server); keep entries ``keep_s`` seconds."""
        self._bus = bus
        self._journal = journal
        self._hub = hub
        self._durable = durable
        self._keep = timedelta(seconds=keep_s)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe and start pushing."""
        subscription = await self._bus.subscribe(INCIDENT_SUBJECT, durable=self._durable)
        self._task = asyncio.create_task(self._consume(subscription), name="incident-broadcast")

    async def stop(self) -> None:
        """Stop (the durable consumer resumes after the last change handled)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def handle(self, message: IncidentMessage) -> LiveMessage:
        """Journal one change (once per revision, whichever server is first) and push it."""
        entry = JournalEntry(message.incident_id, message.revision, message.model_dump_json(), utcnow())
        stored = await asyncio.to_thread(self._journal.append, entry)
        push = incident_push(message, stored.seq or 0)
        self._hub.push(push)
        return push

    async def _consume(self, subscription: Subscription) -> None:
        handled = 0
        try:
            async for message in subscription:
                if not isinstance(message, IncidentMessage):
                    continue
                try:
                    await self.handle(message)
                except WatchkeeperError as err:
                    log.error("incident %s not journalled: %s", message.incident_id, err)  # noqa: TRY400
                handled += 1
                if handled % 1000 == 0:
                    await asyncio.to_thread(self._journal.prune, utcnow() - self._keep)
        finally:
            await subscription.close()


class ViewThrottle:
    """Remembers when each user last looked at each camera, so a view is audited once per sitting.

    A console refreshes a camera's ``latest.jpg`` about once a second; auditing every fetch would bury the
    log. A fetch counts as the *start* of a live view when the same user has not fetched that camera for
    ``gap_s`` seconds. Bounded: the oldest entries go when ``max_entries`` is reached.
    """

    def __init__(self, gap_s: float = 60.0, max_entries: int = 10_000) -> None:
        """Create an empty throttle."""
        self._gap_s = gap_s
        self._max_entries = max_entries
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def starts_view(self, username: str, camera_id: str, now: float) -> bool:
        """True when this fetch starts a new live view (and so should be audited)."""
        key = (username, camera_id)
        with self._lock:
            previous = self._last.pop(key, None)
            self._last[key] = now  # re-inserted last: the dict stays ordered oldest first
            if len(self._last) > self._max_entries:
                del self._last[next(iter(self._last))]
        return previous is None or now - previous >= self._gap_s
