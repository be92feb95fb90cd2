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
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from watchkeeper.api.schemas.live import WsIncident
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.bus.messages import IncidentMessage
from watchkeeper.bus.protocol import Bus, Subscription
from watchkeeper.domain import Camera, CameraId, CameraState, CameraStatus, SiteId, WatchkeeperError, utcnow
from watchkeeper.domain.integrations import JournalEntry
from watchkeeper.storage.protocols import IncidentJournal

log = logging.getLogger(__name__)

INCIDENT_SUBJECT = "wk.incidents.>"


@dataclass(frozen=True, slots=True)
class CameraSet:
    """Who may see a push about several cameras (and maybe their site), given the push's permission.

    Whoever holds the permission on the site or on at least one of the cameras that exist; when neither
    the site nor any camera is known (an unplaced incident), only a global grant of it.
    """

    camera_ids: tuple[CameraId, ...] = field(default_factory=tuple)
    site_id: SiteId | None = None


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """One push to WebSocket clients: JSON text, the camera it concerns and the permission it needs."""

    text: str
    camera_id: CameraId | None = None
    permission: Permission = Permission.VIEW_CAMERAS
    cameras: CameraSet | None = None
    """Set for pushes about several cameras or a site (``camera_id`` unset): incidents, break-glass alerts."""
    cursor: int | None = None
    """Set for incident pushes: the change's incident journal cursor."""


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

    def track(self, camera_ids: Iterable[CameraId]) -> list[CameraId]:
        """Show cameras added to the configuration as ``connecting`` until a worker reports; the new ones."""
        started = utcnow()
        with self._lock:
            added = [camera_id for camera_id in camera_ids if camera_id not in self._statuses]
            for camera_id in added:
                self._statuses[camera_id] = CameraStatus(
                    camera_id, CameraState.CONNECTING, started, "waiting for the camera worker"
                )
                self._waiting.add(camera_id)
        return added

    def get(self, camera_id: CameraId) -> CameraStatus:
        """Status of one camera (``offline`` when it was never configured here)."""
        with self._lock:
            status = self._statuses.get(camera_id)
        if status is None:
            return CameraStatus(camera_id, CameraState.OFFLINE, utcnow(), "no worker serves this camera")
        return status


class LiveClient:
    """One console's outgoing queue: bounded; a console that falls behind is told to resync instead.

    When ``size`` messages wait unsent, they are all dropped and the console's next message is a
    ``WsCursor`` with ``resync`` (reload the lists over HTTP, then carry on from the cursor), so one slow
    console never holds the others back or grows the server's memory.
    """

    def __init__(self, size: int) -> None:
        """An empty queue of at most ``size`` messages."""
        self._size = size
        self._items: deque[LiveMessage] = deque()
        self._ready = asyncio.Event()
        self.resync_cursor: int | None = None
        """Set when messages were dropped: the newest incident cursor at the time."""
        self.closed = False

    def offer(self, message: LiveMessage, cursor: int) -> None:
        """Queue ``message`` (``cursor``: the newest incident cursor pushed so far)."""
        if len(self._items) >= self._size:
            self._items.clear()
            self.resync_cursor = cursor
        else:
            self._items.append(message)
        self._ready.set()

    def close(self) -> None:
        """Wake the reader for good (the console went away)."""
        self.closed = True
        self._ready.set()

    async def next(self, timeout_s: float) -> LiveMessage | int | None:
        """The next message, a resync cursor (messages were dropped), or ``None`` (timeout or closed)."""
        if not self._items and self.resync_cursor is None and not self.closed:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._ready.wait()
        if self.closed:
            return None
        if self.resync_cursor is not None:
            cursor, self.resync_cursor = self.resync_cursor, None
            return cursor
        return self._items.popleft() if self._items else None


FORCED_RELOAD_S = 1.0
"""A forced camera reload (a console met an unknown camera) happens at most this often."""


class CameraDirectory:
    """Every camera by id, in memory, for the WebSocket filters (reloaded at most every ``ttl_s``)."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        """Empty until the first :meth:`refresh`."""
        self._ttl_s = ttl_s
        self._cameras: dict[CameraId, Camera] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def refresh(self, load: Callable[[], Sequence[Camera]], *, force: bool = False) -> None:
        """Reload with ``load`` when stale, or with ``force`` unless it was loaded under a second ago.

        Blocking: call it from a thread.
        """
        with self._lock:
            now = time.monotonic()
            age = now - self._loaded_at if self._loaded_at is not None else None
            if age is not None and age < (FORCED_RELOAD_S if force else self._ttl_s):
                return
            self._cameras = {camera.id: camera for camera in load()}
            self._loaded_at = now

    def get(self, camera_id: CameraId) -> Camera | None:
        """The camera, or ``None`` when unknown."""
        return self._cameras.get(camera_id)


@dataclass(frozen=True, slots=True)
class _Checked:
    principal: Principal
    until: float


class PrincipalCache:
    """Who a credential belongs to, checked at most once per ``ttl_s`` for all consoles that share it.

    Consoles re-authenticate every ``ttl_s`` (a revoked session, a deleted user or a changed role ends
    their stream); 200 consoles of one user then cost one lookup per period instead of 200.
    """

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        """Keep checks ``ttl_s`` seconds."""
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._checked: dict[str, _Checked] = {}
        self._lock = threading.Lock()

    def check(self, credential: str, authenticate: Callable[[], Principal]) -> Principal:
        """The principal of ``credential``, from a check younger than the TTL or a new one.

        Raises:
            AuthError: From ``authenticate`` when the credential is no longer valid (not cached).
        """
        key = hashlib.sha256(credential.encode("utf-8")).hexdigest()
        now = time.monotonic()
        with self._lock:
            found = self._checked.get(key)
        if found is not None and found.until > now:
            return found.principal
        principal = authenticate()
        with self._lock:
            if len(self._checked) >= self._max_entries:
                self._checked = {k: v for k, v in self._checked.items() if v.until > now}
            self._checked[key] = _Checked(principal, now + self._ttl_s)
        return principal

    def forget(self) -> None:
        """Drop every cached check (users, roles or grants changed)."""
        with self._lock:
            self._checked.clear()


class LiveHub:
    """Fans JSON messages out to connected WebSocket clients.

    Each client has a bounded queue (:class:`LiveClient`); a client too slow to keep up is told to resync
    rather than slowing everyone else down. The hub also holds what the clients' filters share: the
    camera directory and the credential checks.
    """

    def __init__(self, queue_size: int = 256, recheck_s: float = 30.0) -> None:
        """Create an empty hub."""
        self._queue_size = queue_size
        self.recheck_s = recheck_s
        """How often a console's credentials are checked again."""
        self._clients: set[LiveClient] = set()
        self.last_cursor = 0
        """The newest incident cursor pushed."""
        self.cameras = CameraDirectory(ttl_s=recheck_s)
        self.principals = PrincipalCache(ttl_s=recheck_s)

    def connect(self) -> LiveClient:
        """Register a client; returns its queue."""
        client = LiveClient(self._queue_size)
        self._clients.add(client)
        return client

    def disconnect(self, client: LiveClient) -> None:
        """Forget a client."""
        self._clients.discard(client)
        client.close()

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
        """Queue ``message`` (serialised once) for every client (call from the event loop)."""
        if message.cursor is not None:
            self.last_cursor = max(self.last_cursor, message.cursor)
        for client in self._clients:
            client.offer(message, self.last_cursor)


def incident_push(message: IncidentMessage, cursor: int) -> LiveMessage:
    """The live push of an incident change journalled at ``cursor``."""
    scope = CameraSet(tuple(message.camera_ids), message.site_id)
    text = WsIncident.of(message, cursor).model_dump_json()
    return LiveMessage(text, None, Permission.VIEW_INCIDENTS, scope, cursor)


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
