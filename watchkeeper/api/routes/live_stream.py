"""Live streams of the protected rendition: fMP4 over a WebSocket (MSE) and MJPEG (the fallback).

Both serve only the redacted frames of the protected rendition (``LiveFeed``), never originals. Each stream
is audited when it starts (``live.start``) and when it ends (``live.stop``, with the frames sent and
dropped). A viewer slower than the camera drops frames (``LiveSubscription`` keeps only the newest); the
camera never waits for a viewer. Encoding runs in a worker thread, one encoder per stream.

WebSocket protocol (``/api/cameras/{id}/live.ws``): the server sends a text ``{"type": "init", "mime":
...}`` (the ``MediaSource.isTypeSupported`` string), then binary fMP4 (init segment, then one fragment per
frame) each followed by a text ``{"type": "frame", "at": ..., "seq": ...}``; ``{"type": "idle"}`` when the
camera sent nothing for a while. Close codes: 4401 unauthenticated, 4403 not allowed on the camera, 4404
no such camera, 4429 too many viewers, 4503 live streaming not available.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.requests import HTTPConnection

from watchkeeper.api.context import AppContext
from watchkeeper.api.custody import audit
from watchkeeper.api.deps import ContextDep, get_context
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Require, authenticate
from watchkeeper.api.routes.ws import CLOSE_UNAUTHORIZED, RECHECK_S, ws_principal
from watchkeeper.audit.log import AuditAction
from watchkeeper.auth.errors import AuthError, UnauthenticatedError
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import CameraId, NotFoundError, WatchkeeperError
from watchkeeper.privacy.live_encode import Fmp4LiveEncoder, JpegEncoder, LiveEncodeError
from watchkeeper.privacy.live_feed import LiveFeed, LiveSubscription, TooManyViewersError

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

LiveViewer = Annotated[Principal, Depends(Require(Permission.VIEW_LIVE, camera="camera_id"))]

BOUNDARY = "wkframe"
IDLE_S = 5.0
"""Seconds without a frame after which a WebSocket viewer is sent ``idle`` (and the MJPEG loop re-checks)."""
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429
CLOSE_UNAVAILABLE = 4503


class LiveUnavailableError(NotFoundError):
    """This process has no live feed (no camera runs here, or the protected rendition is off)."""

    code = "live_unavailable"


def _feed(context: AppContext) -> LiveFeed:
    if context.live_feed is None:
        raise LiveUnavailableError("live streaming is not available in this process")
    return context.live_feed


def _known_camera(context: AppContext, camera_id: str) -> CameraId:
    camera = CameraId(camera_id)
    if context.store.cameras.get(camera) is None:
        raise NotFoundError(f"no camera with id {camera_id!r}")
    return camera


def _still_allowed(connection: HTTPConnection, camera_id: CameraId) -> bool:
    """Credentials still valid and the user may still view the camera live (streams re-check both)."""
    try:
        if isinstance(connection, WebSocket):
            principal = ws_principal(connection)
        else:
            principal = authenticate(connection, "GET")
    except AuthError:
        return False
    camera = get_context(connection).store.cameras.get(camera_id)
    return camera is not None and principal.can(Permission.VIEW_LIVE, camera)


def _audit_stop(
    connection: HTTPConnection, username: str, subscription: LiveSubscription, transport: str
) -> None:
    try:
        audit(
            connection,
            username,
            AuditAction.LIVE_STOP,
            f"camera:{subscription.camera_id}",
            transport=transport,
            frames=subscription.delivered,
            dropped=subscription.dropped,
        )
    except WatchkeeperError as err:  # the viewer has gone; the failure is logged, nothing to answer
        log.warning("camera %s: live stop not audited: %s", subscription.camera_id, err)


@router.get(
    "/api/cameras/{camera_id}/live.mjpeg",
    operation_id="getCameraLiveMjpeg",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}},
            "description": "Redacted JPEG pictures as they come (for an `<img>`), until the client leaves.",
        },
    },
)
async def camera_live_mjpeg(
    camera_id: str, request: Request, context: ContextDep, principal: LiveViewer
) -> StreamingResponse:
    """The camera's live protected view as MJPEG (``multipart/x-mixed-replace``): the fallback transport."""
    camera = _known_camera(context, camera_id)
    subscription = _feed(context).subscribe(camera)
    try:
        audit(request, principal.username, AuditAction.LIVE_START, f"camera:{camera}", transport="mjpeg")
    except BaseException:
        subscription.close()
        raise
    return StreamingResponse(
        _mjpeg_parts(request, principal.username, subscription),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _mjpeg_parts(
    request: Request, username: str, subscription: LiveSubscription
) -> AsyncIterator[bytes]:
    encoder = JpegEncoder()
    checked = time.monotonic()
    try:
        while not await request.is_disconnected():
            if time.monotonic() - checked >= RECHECK_S:
                if not await asyncio.to_thread(_still_allowed, request, subscription.camera_id):
                    log.info(
                        "camera %s: MJPEG stream of %s ended: not allowed any more",
                        subscription.camera_id,
                        username,
                    )
                    return
                checked = time.monotonic()
            frame = await subscription.next(IDLE_S)
            if frame is None:
                continue
            try:
                jpeg = await asyncio.to_thread(encoder.encode, frame.rgb)
            except LiveEncodeError as err:
                log.warning("camera %s: MJPEG frame skipped: %s", subscription.camera_id, err)
                continue
            head = (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
                f"X-Frame-Time: {frame.at.isoformat()}\r\n\r\n"
            ).encode("ascii")
            yield head + jpeg + b"\r\n"
    finally:
        subscription.close()
        _audit_stop(request, username, subscription, "mjpeg")


@router.websocket("/api/cameras/{camera_id}/live.ws")
async def camera_live_ws(websocket: WebSocket, camera_id: str) -> None:
    """The camera's live protected view as fMP4 fragments for Media Source Extensions."""
    context = get_context(websocket)
    try:
        principal = ws_principal(websocket)
    except AuthError as err:
        log.info("refused live WebSocket: %s", err)
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="unauthenticated")
        return
    camera = context.store.cameras.get(CameraId(camera_id))
    if camera is None:
        await websocket.close(code=CLOSE_NOT_FOUND, reason="no such camera")
        return
    if not principal.can(Permission.VIEW_LIVE, camera):
        await websocket.close(code=CLOSE_FORBIDDEN, reason="not allowed to view this camera live")
        return
    if context.live_feed is None:
        await websocket.close(code=CLOSE_UNAVAILABLE, reason="live streaming is not available")
        return
    try:
        subscription = context.live_feed.subscribe(camera.id)
    except TooManyViewersError as err:
        await websocket.close(code=CLOSE_TOO_MANY, reason=str(err)[:120])
        return
    try:
        audit(websocket, principal.username, AuditAction.LIVE_START, f"camera:{camera.id}", transport="mse")
    except BaseException:
        subscription.close()
        raise
    await websocket.accept()
    receiver = asyncio.create_task(_drain(websocket))
    try:
        await _pump_fmp4(websocket, subscription, receiver)
    except AuthError:
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="session ended")
    except (WebSocketDisconnect, RuntimeError):
        pass  # the viewer went away mid-send
    finally:
        subscription.close()
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await receiver
        _audit_stop(websocket, principal.username, subscription, "mse")


async def _pump_fmp4(
    websocket: WebSocket, subscription: LiveSubscription, receiver: asyncio.Task[None]
) -> None:
    encoder = Fmp4LiveEncoder()
    checked = time.monotonic()
    try:
        while not receiver.done():
            frame = await subscription.next(IDLE_S)
            if time.monotonic() - checked >= RECHECK_S:
                if not await asyncio.to_thread(_still_allowed, websocket, subscription.camera_id):
                    raise UnauthenticatedError("not allowed to view this camera live any more")
                checked = time.monotonic()
            if frame is None:
                await websocket.send_text(json.dumps({"type": "idle"}))
                continue
            try:
                data = await asyncio.to_thread(encoder.encode, frame)
            except LiveEncodeError as err:
                log.warning("camera %s: live stream ended: %s", subscription.camera_id, err)
                await websocket.close(code=1011, reason="encoder failed")
                return
            if subscription.delivered == 1:
                mime = f'video/mp4; codecs="{encoder.codec}"'
                await websocket.send_text(json.dumps({"type": "init", "mime": mime}))
            if data:
                await websocket.send_bytes(data)
            info = {
                "type": "frame",
                "at": frame.at.isoformat(),
                "seq": frame.seq,
                "dropped": subscription.dropped,
            }
            await websocket.send_text(json.dumps(info))
    finally:
        encoder.close()


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a close from its side is noticed."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
