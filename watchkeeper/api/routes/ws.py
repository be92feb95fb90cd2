"""WebSocket that pushes new events, camera state changes and incident changes to the console.

Incident changes carry a ``cursor``. A console that reconnects asks for what it missed with
``/api/ws?since=<last cursor seen>`` (or ``since=now`` on its first connection): the server first replays
the journalled changes after that cursor that the user may see, then sends a ``WsCursor`` message, then
live pushes (none older than the replay). Incident pushes go to users who may view incidents of the
incident's site or one of its cameras.

The handshake authenticates with the session cookie (same-origin only) or ``?token=<API token>``; each
client receives only messages about cameras it may see. Credentials are checked again every
``RECHECK_S`` seconds, so a revoked session, a deleted user or a removed role ends the stream.
"""

import asyncio
import contextlib
import logging
import time
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from watchkeeper.api.deps import get_context
from watchkeeper.api.live import IncidentScope, LiveMessage, incident_push
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

RECHECK_S = 30.0
CLOSE_UNAUTHORIZED = 4401
"""Close code when credentials are missing or stop being valid."""
CLOSE_BAD_REQUEST = 4400
"""Close code for a malformed ``since`` cursor."""
REPLAY_LIMIT = 1000
"""Most incident changes one reconnection replays; beyond it the console is told to resync."""


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: the cookie was not sent on someone else's behalf
    return urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower()


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
    """Which messages a principal may receive (camera lookups cached per connection)."""

    def __init__(self, websocket: WebSocket, principal: Principal) -> None:
        self._websocket = websocket
        self.principal = principal
        self._cameras: dict[CameraId, Camera | None] = {}
        self.checked = time.monotonic()
        self.cursor = 0
        """Cursor the replay reached: live incident pushes at or below it were already sent."""

    def _camera(self, camera_id: CameraId) -> Camera | None:
        if camera_id not in self._cameras:
            store = get_context(self._websocket).store
            self._cameras[camera_id] = store.cameras.get(camera_id)
        return self._cameras[camera_id]

    def sees_incident(self, scope: IncidentScope) -> bool:
        """May view incidents of the incident's site or of one of its cameras (unplaced: everywhere)."""
        targets: list[Camera | Site] = []
        if scope.site_id is not None:
            targets.append(Site(scope.site_id, scope.site_id))
        targets.extend(camera for camera in map(self._camera, scope.camera_ids) if camera is not None)
        if not targets:
            return self.principal.sees_everything(Permission.VIEW_INCIDENTS)
        return any(self.principal.can(Permission.VIEW_INCIDENTS, target) for target in targets)

    def allows(self, message: LiveMessage) -> bool:
        if message.incident is not None:
            return self.sees_incident(message.incident)
        if message.camera_id is None:
            return self.principal.can(message.permission)
        camera = self._camera(message.camera_id)
        return (
            camera is not None
            and self.principal.can(Permission.VIEW_CAMERAS, camera)
            and self.principal.can(message.permission, camera)
        )

    def recheck(self) -> None:
        """Authenticate again after ``RECHECK_S`` (raises ``AuthError`` when no longer valid)."""
        if time.monotonic() - self.checked >= RECHECK_S:
            self.principal = ws_principal(self._websocket)
            self._cameras.clear()
            self.checked = time.monotonic()


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
            if rights.allows(push):
                await websocket.send_text(push.text)
                sent += 1
    await websocket.send_text(WsCursor(cursor=max(cursor, since), replayed=sent).model_dump_json())
    return max(cursor, since)


@router.websocket("/api/ws")
async def live(websocket: WebSocket) -> None:
    """Send every ``WsEvent`` / ``WsCameraStatus`` / ``WsIncident`` the caller may see until it goes away."""
    try:
        principal = ws_principal(websocket)
        since = _since(websocket)
    except AuthError as err:
        log.info("refused WebSocket: %s", err)
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="unauthenticated")
        return
    except ValueError as err:
        await websocket.close(code=CLOSE_BAD_REQUEST, reason=str(err)[:120])
        return
    hub = get_context(websocket).hub
    await websocket.accept()
    queue = hub.connect()  # before the replay: nothing falls between the replay and the live pushes
    receiver = asyncio.create_task(_drain(websocket))
    rights = _Filter(websocket, principal)
    try:
        if since is not None:
            rights.cursor = await _replay(websocket, since, rights)
        await _pump(websocket, queue, receiver, rights)
    except WatchkeeperError as err:
        log.warning("WebSocket replay failed: %s", err)
        await websocket.close(code=1011, reason="replay failed")
    except AuthError:
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="session ended")
    except WebSocketDisconnect:
        pass
    finally:
        hub.disconnect(queue)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await receiver


async def _pump(
    websocket: WebSocket, queue: asyncio.Queue[LiveMessage], receiver: asyncio.Task[None], rights: _Filter
) -> None:
    while not receiver.done():
        getter = asyncio.create_task(queue.get())
        done, _ = await asyncio.wait(
            {getter, receiver}, timeout=RECHECK_S, return_when=asyncio.FIRST_COMPLETED
        )
        if getter not in done:
            getter.cancel()
            if receiver in done:
                break
            rights.recheck()
            continue
        rights.recheck()
        message = getter.result()
        if message.incident is not None and message.incident.cursor <= rights.cursor:
            continue  # already sent by the replay
        if rights.allows(message):
            await websocket.send_text(message.text)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages so a disconnect is noticed promptly."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
