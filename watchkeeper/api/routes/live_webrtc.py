"""WebRTC live view of the protected rendition: SDP offer in, SDP answer out (non-trickle ICE).

The console first asks ``GET /api/live/webrtc`` whether WebRTC is offered (and which STUN/TURN servers to
use), gathers its ICE candidates, then ``POST``s its offer to ``/api/cameras/{id}/live/webrtc``. The answer
carries the server's candidates. The server sends one video track of the camera's *redacted* frames
(``LiveFeed``, never originals), H.264 when the browser offers it, otherwise VP8; a slow peer drops frames,
the camera never waits.

A peer connection is closed when the viewer leaves (its connection fails or closes, or stays disconnected
for ``DISCONNECTED_S``), when it does not connect within ``CONNECT_S`` (inactivity), or when its session
is revoked or it may no longer view the camera (re-checked every ``RECHECK_S``). ``live.start`` and
``live.stop`` are audited with transport ``webrtc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Annotated, Literal

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from watchkeeper.api.custody import audit
from watchkeeper.api.deps import ContextDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Authenticated, Require
from watchkeeper.api.routes.live_stream import _audit_stop, _feed, _known_camera, _still_allowed
from watchkeeper.api.routes.ws import RECHECK_S
from watchkeeper.audit.log import AuditAction
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.config.server import IceServerConfig, ServerConfig, WebRtcConfig
from watchkeeper.domain import NotFoundError, WatchkeeperError
from watchkeeper.privacy.live_rtc import RedactedVideoTrack, prefer_h264

log = logging.getLogger(__name__)

LiveViewer = Annotated[Principal, Depends(Require(Permission.VIEW_LIVE, camera="camera_id"))]

CONNECT_S = 15.0
"""A peer that has not connected this long after its answer is closed (it gave up or cannot reach us)."""
DISCONNECTED_S = 5.0
"""A connected peer that stays ``disconnected`` this long is taken to have left."""
POLL_S = 0.5
"""How often a session looks at its connection state."""


class WebRtcDisabledError(NotFoundError):
    """WebRTC is switched off (``server.webrtc.enabled``) or this process has no live feed."""

    code = "webrtc_unavailable"


class BadOfferError(WatchkeeperError):
    """The SDP offer could not be used (malformed, or no video the server can send)."""

    code = "bad_offer"


class IceServerOut(BaseModel):
    """One STUN/TURN server for ``RTCPeerConnection``'s ``iceServers``."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class WebRtcInfoOut(BaseModel):
    """WebRTC is offered; the ICE servers the browser should use."""

    ice_servers: list[IceServerOut]


class SdpIn(BaseModel):
    """The browser's offer, with its ICE candidates already gathered."""

    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=100_000)


class SdpOut(BaseModel):
    """The server's answer, with its candidates."""

    type: Literal["answer"]
    sdp: str


def build_router(server: ServerConfig) -> APIRouter:
    """The WebRTC routes, with the ICE servers of ``server.webrtc``."""
    settings = server.webrtc
    sessions: set[asyncio.Task[None]] = set()
    router = APIRouter(tags=["live"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

    @router.get("/api/live/webrtc", operation_id="getLiveWebRtc", dependencies=[Depends(Authenticated())])
    async def live_webrtc_info(context: ContextDep) -> WebRtcInfoOut:
        """Whether live views are offered over WebRTC (404 when not), and the ICE servers to use."""
        if not settings.enabled or context.live_feed is None:
            raise WebRtcDisabledError("WebRTC live views are not offered here")
        return WebRtcInfoOut(ice_servers=[_ice_out(ice) for ice in settings.ice_servers])

    @router.post("/api/cameras/{camera_id}/live/webrtc", operation_id="postCameraLiveWebRtc")
    async def camera_live_webrtc(
        camera_id: str, offer: SdpIn, request: Request, context: ContextDep, principal: LiveViewer
    ) -> SdpOut:
        """Answer a WebRTC offer with a video track of the camera's live protected view."""
        if not settings.enabled:
            raise WebRtcDisabledError("WebRTC live views are not offered here")
        camera = _known_camera(context, camera_id)
        subscription = _feed(context).subscribe(camera)
        track = RedactedVideoTrack(subscription)
        peer = RTCPeerConnection(_rtc_configuration(settings))
        try:
            answer = await _answer(peer, track, offer)
            audit(request, principal.username, AuditAction.LIVE_START, f"camera:{camera}", transport="webrtc")
        except BaseException:
            track.stop()
            await peer.close()
            raise
        task = asyncio.create_task(_supervise(request, principal.username, peer, track))
        sessions.add(task)
        task.add_done_callback(sessions.discard)
        return SdpOut(type="answer", sdp=answer.sdp)

    return router


def _ice_out(ice: IceServerConfig) -> IceServerOut:
    credential = ice.credential.get_secret_value() if ice.credential is not None else None
    return IceServerOut(urls=ice.urls, username=ice.username, credential=credential)


def _rtc_configuration(settings: WebRtcConfig) -> RTCConfiguration:
    servers = [
        RTCIceServer(urls=ice.urls, username=ice.username, credential=_ice_out(ice).credential)
        for ice in settings.ice_servers
    ]
    return RTCConfiguration(iceServers=servers)


async def _answer(peer: RTCPeerConnection, track: RedactedVideoTrack, offer: SdpIn) -> RTCSessionDescription:
    if "\nm=video " not in offer.sdp.replace("\r\n", "\n"):
        raise BadOfferError("the offer has no video section: offer to receive video (H.264 or VP8)")
    transceiver = peer.addTransceiver(track, direction="sendonly")
    prefer_h264(transceiver)
    try:
        await peer.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type=offer.type))
        await peer.setLocalDescription(await peer.createAnswer())
    except (  # what aiortc raises for an offer it cannot parse or take
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        InternalError,
        InvalidAccessError,
        InvalidStateError,
        OperationError,
    ) as err:
        raise BadOfferError(f"cannot answer this offer: {err}") from err
    description = peer.localDescription
    sending = transceiver.currentDirection in ("sendonly", "sendrecv")
    if description is None or "m=video" not in description.sdp or not sending:
        raise BadOfferError("the offer has no video the server can send (H.264 or VP8, receive-only)")
    return description


async def _supervise(
    request: Request, username: str, peer: RTCPeerConnection, track: RedactedVideoTrack
) -> None:
    """Keep one peer until it leaves, never connects, or may not watch any more; then close and audit."""
    camera = track.subscription.camera_id
    started = checked = time.monotonic()
    lost: float | None = None
    reason = "closed"
    try:
        while True:
            await asyncio.sleep(POLL_S)
            now = time.monotonic()
            state = peer.connectionState
            if state in ("failed", "closed") or track.readyState != "live":
                reason = f"connection {state}"
                break
            lost = (lost or now) if state == "disconnected" else None
            if lost is not None and now - lost >= DISCONNECTED_S:
                reason = "viewer left"
                break
            if state in ("new", "connecting") and now - started >= CONNECT_S:
                reason = "never connected"
                break
            if now - checked >= RECHECK_S:
                if not await asyncio.to_thread(_still_allowed, request, camera):
                    reason = "not allowed any more"
                    break
                checked = now
    finally:
        log.info("camera %s: WebRTC view of %s ended: %s", camera, username, reason)
        track.stop()
        with contextlib.suppress(Exception):  # closing a half-broken connection may fail; it is gone
            await peer.close()
        _audit_stop(request, username, track.subscription, "webrtc")
