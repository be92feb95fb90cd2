"""WebSocket that pushes new events, camera state changes and incident changes to the console.

Incident changes carry a ``cursor``. A console that reconnects asks for what it missed with
``/api/ws?since=<last cursor seen>`` (or ``since=now`` on its first connection): the server first replays
the journalled changes after that cursor that the user may see, then sends a ``WsCursor`` message, then
live pushes (none older than the replay). Pushes about a set of cameras (a :class:`CameraSet`: incident
changes, break-glass alerts) go to users who hold the push's permission (view incidents, approve unmask)
on the set's site or on one of its cameras.

The handshake authenticates with the session cookie (same-origin only) or ``?token=<API token>``; each
client receives only messages about cameras it may see. Credentials are checked again every
``LiveHub.recheck_s`` seconds (30), so a revoked session, a deleted user or a removed role ends the stream.

Fan-out costs one serialisation per message (the hub queues the same text for every console). A console's
filter decides from memory: cameras come from the hub's :class:`~watchkeeper.api.live.CameraDirectory`,
credential re-checks from its :class:`~watchkeeper.api.live.PrincipalCache` (one lookup per credential and
period, in a thread), and each console's first re-check falls at a random point of its first period so
consoles connected together do not all re-check at once. A console that falls behind by a whole queue
gets a ``WsCursor`` with ``resync`` instead of the dropped messages.
"""

import asyncio
import contextlib
import logging
import random
import time
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from watchkeeper.api.deps import get_context
from watchkeeper.api.live import CameraSet, LiveClient, LiveHub, LiveMessage, incident_push
from watchkeeper.api.policy import SESSION_COOKIE, get_auth
from watchkeeper.api.schemas.live import WsCursor
from watchkeeper.auth.errors import AuthError, UnauthenticatedError
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.bus.errors import MessageFormatError
from watchkeeper.bus.messages import IncidentMessage, decode
from watchkeeper.domain import Camera, CameraId, Site, WatchkeeperError

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

CLOSE_UNAUTHORIZED = 4401
RECHECK_S = 30.0
"""How often a live media stream authenticates its viewer again (a revoked session ends it)."""
"""Close code when credentials are missing or stop being valid."""
CLOSE_BAD_REQUEST = 4400
"""Close code for a malformed ``since`` cursor."""
REPLAY_LIMIT = 1000
"""Most incident changes one reconnection replays; beyond it the console is told to resync."""
MEMO_LIMIT = 4096
"""Most visibility decisions one console remembers between two credential checks."""


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: the cookie was not sent on someone else's behalf
    return urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower()


def _credential(websocket: WebSocket) -> str:
    """The handshake's credential as a cache key (``""`` when there is none)."""
    token = websocket.query_params.get("token")
    if token:
        return f"token:{token}"
    return f"cookie:{websocket.cookies.get(SESSION_COOKIE, '')}"


def ws_principal(websocket: WebSocket) -> Principal:
    """The principal of a WebSocket handshake.

    Raises:
        UnauthenticatedError: Without valid credentials, or with a cookie from another origin.
    """
    auth = get_auth(websocket)
    token = websocket.query_params.get("token")
    if token:
        return auth.token_principal(token)
    cookie = websocket.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise UnauthenticatedError("log in first (session cookie or ?token=<API token>)")
    if not _same_origin(websocket):
        raise UnauthenticatedError("a cookie-authenticated WebSocket must come from the console's origin")
    return auth.session_principal(cookie)


class _Filter:
    """Which messages a principal may receive, decided from memory (decisions memoised per connection)."""

    def __init__(self, websocket: WebSocket, principal: Principal, hub: LiveHub) -> None:
        self._websocket = websocket
        self._hub = hub
        self.principal = principal
        self._decisions: dict[object, bool] = {}
        # The first re-check falls in the second half of the first period: consoles connected together spread.
        spread = random.uniform(0.5, 1.0)  # noqa: S311 - spreading load, not a secret
        self.next_check = time.monotonic() + hub.recheck_s * spread
        self.cursor = 0
        """Cursor the replay reached: live incident pushes at or below it were already sent."""

    async def _camera(self, camera_id: CameraId) -> Camera | None:
        camera = self._hub.cameras.get(camera_id)
        if camera is None:  # added since the directory was loaded, or unknown: ask the store once
            store = get_context(self._websocket).store
            await asyncio.to_thread(self._hub.cameras.refresh, store.cameras.list, force=True)
            camera = self._hub.cameras.get(camera_id)
        return camera

    async def _sees_any(self, scope: CameraSet, permission: Permission) -> bool:
        """Holds ``permission`` on the scope's site or one of its cameras (none known: a global grant)."""
        targets: list[Camera | Site] = []
        if scope.site_id is not None:
            targets.append(Site(scope.site_id, scope.site_id))
        for camera_id in scope.camera_ids:
            camera = await self._camera(camera_id)
            if camera is not None:
                targets.append(camera)
        if not targets:
            return self.principal.sees_everything(permission)
        return any(self.principal.can(permission, target) for target in targets)

    async def _decide(self, message: LiveMessage) -> bool:
        if message.cameras is not None:
            return await self._sees_any(message.cameras, message.permission)
        if message.camera_id is None:
            return self.principal.can(message.permission)
        return await self._sees_camera(message.camera_id, message.permission)

    async def _sees_camera(self, camera_id: CameraId, permission: Permission) -> bool:
        camera = await self._camera(camera_id)
        return (
            camera is not None
            and self.principal.can(Permission.VIEW_CAMERAS, camera)
            and self.principal.can(permission, camera)
        )

    async def allows(self, message: LiveMessage) -> bool:
        """May the principal receive ``message``."""
        key = (message.camera_id, message.cameras, message.permission)
        found = self._decisions.get(key)
        if found is None:
            found = await self._decide(message)
            if len(self._decisions) >= MEMO_LIMIT:
                self._decisions.clear()
            self._decisions[key] = found
        return found

    async def recheck(self) -> None:
        """Authenticate again once the hub's ``recheck_s`` passed (raises ``AuthError`` when invalid)."""
        if time.monotonic() < self.next_check:
            return
        websocket = self._websocket
        store = get_context(websocket).store
        self.principal = await asyncio.to_thread(
            self._hub.principals.check, _credential(websocket), lambda: ws_principal(websocket)
        )
        await asyncio.to_thread(self._hub.cameras.refresh, store.cameras.list)
        self._decisions.clear()
        self.next_check = time.monotonic() + self._hub.recheck_s


def _since(websocket: WebSocket) -> int | None:
    """The ``since`` cursor (``-1`` for ``now``, ``None`` when absent).

    Raises:
        ValueError: When it is neither ``now`` nor a non-negative integer.
    """
    text = websocket.query_params.get("since")
    if text is None:
        return None
    if text == "now":
        return -1
    if not text.isdigit() or len(text) > 18:
        raise ValueError(f"since must be 'now' or a cursor (a non-negative integer), got {text[:40]!r}")
    return int(text)


async def _replay(websocket: WebSocket, since: int, rights: _Filter) -> int:
    """Send the visible incident changes after ``since``, then a ``WsCursor``; returns the cursor reached."""
    journal = get_context(websocket).store.incident_journal
    newest = await asyncio.to_thread(journal.last_seq)
    if since < 0:
        await websocket.send_text(WsCursor(cursor=newest, replayed=0).model_dump_json())
        return newest
    entries = await asyncio.to_thread(journal.after, since, REPLAY_LIMIT + 1)
    if len(entries) > REPLAY_LIMIT or since > newest:
        await websocket.send_text(WsCursor(cursor=newest, replayed=0, resync=True).model_dump_json())
        return newest
    sent = 0
    cursor = since
    for entry in entries:
        cursor = entry.seq or cursor
        try:
            message = decode(entry.payload.encode("utf-8"))
        except MessageFormatError as err:
            log.warning("journal entry %s skipped: %s", entry.seq, err)
            continue
        if isinstance(message, IncidentMessage):
            push = incident_push(message, cursor)
            if await rights.allows(push):
                await websocket.send_text(push.text)
                sent += 1
    await websocket.send_text(WsCursor(cursor=max(cursor, since), replayed=sent).model_dump_json())
    return max(cursor, since)


@router.websocket("/api/ws")
async def live(websocket: WebSocket) -> None:
    """Send every ``WsEvent`` / ``WsCameraStatus`` / ``WsIncident`` the caller may see until it goes away."""
    try:
        principal = await asyncio.to_thread(ws_principal, websocket)
        since = _since(websocket)
    except AuthError as err:
        log.info("refused WebSocket: %s", err)
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="unauthenticated")
        return
    except ValueError as err:
        await websocket.close(code=CLOSE_BAD_REQUEST, reason=str(err)[:120])
        return
    context = get_context(websocket)
    hub = context.hub
    await websocket.accept()
    client = hub.connect()  # before the replay: nothing falls between the replay and the live pushes
    receiver = asyncio.create_task(_drain(websocket))
    receiver.add_done_callback(lambda _: client.close())
    rights = _Filter(websocket, principal, hub)
    try:
        await asyncio.to_thread(hub.cameras.refresh, context.store.cameras.list)
        if since is not None:
            rights.cursor = await _replay(websocket, since, rights)
        await _pump(websocket, client, rights)
    except AuthError:  # before WatchkeeperError, which it is: a revoked session is no server failure
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="session ended")
    except WatchkeeperError as err:
        log.warning("WebSocket replay or camera lookup failed: %s", err)
        await websocket.close(code=1011, reason="replay failed")
    except WebSocketDisconnect:
        pass
    finally:
        hub.disconnect(client)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await receiver


async def _pump(websocket: WebSocket, client: LiveClient, rights: _Filter) -> None:
    while True:
        item = await client.next(max(0.0, rights.next_check - time.monotonic()))
        if client.closed:
            return
        await rights.recheck()
        if item is None:
            continue
        if isinstance(item, int):  # this console fell behind and lost messages: it must reload
            resync = WsCursor(cursor=item, replayed=0, resync=True)
            await websocket.send_text(resync.model_dump_json())
            continue
        if item.cursor is not None and item.cursor <= rights.cursor:
            continue  # already sent by the replay
        if await rights.allows(item):
            await websocket.send_text(item.text)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages so a disconnect is noticed promptly."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
