"""Live originals, only under break glass or an approved grant covering now: a frame, or an MJPEG stream.

The frames are the camera's analysis (detect-stream) frames before redaction, handed over in memory by its
privacy tap only while an entitled viewer watches. Every request checks and audits the grant; a stream is
audited when it starts and stops, and ends when the grant expires or is revoked, or after ``seconds``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from watchkeeper.api.context import AppContext
from watchkeeper.api.custody import SERVES_ORIGINALS, LiveView, actor, custody_of
from watchkeeper.api.deps import ContextDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Require
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import CameraId, NotFoundError, Rendition, WatchkeeperError, utcnow
from watchkeeper.domain.custody import UnmaskGrant
from watchkeeper.privacy.grants import GrantService
from watchkeeper.privacy.live import LiveOriginals
from watchkeeper.privacy.live_encode import JpegEncoder

log = logging.getLogger(__name__)

ORIGINAL_QUALITY = 4
"""MJPEG quantiser of live originals (a little finer than the protected MJPEG stream's 5)."""

router = APIRouter(tags=["unmask"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

LiveViewer = Annotated[Principal, Depends(Require(Permission.VIEW_LIVE, camera="camera_id"))]
FRAME_WAIT_S = 3.0
"""How long a request waits for the camera's next frame."""
RECHECK_S = 2.0
"""How often a stream checks that its grant still holds (revoked: the stream ends)."""
BOUNDARY = "wkframe"
MAX_STREAM_S = 900.0


class LiveOriginalsUnavailableError(WatchkeeperError):
    """This process has no live originals (no camera workers here, or the privacy taps are off)."""

    code = "live_originals_unavailable"


class NoLiveFrameError(NotFoundError):
    """The camera delivered no frame in time (offline, or its analysis is off)."""

    code = "no_live_frame"


@dataclass(frozen=True, slots=True)
class _Entitled:
    """A checked live grant and where its frames come from."""

    camera: CameraId
    grant: UnmaskGrant
    grants: GrantService
    live: LiveOriginals


def _entitled(request: Request, context: AppContext, principal: Principal, camera_id: str) -> _Entitled:
    camera = CameraId(camera_id)
    if context.store.cameras.get(camera) is None:
        raise NotFoundError(f"no camera with id {camera_id!r}")
    custody = custody_of(context)
    grant = custody.grants.authorize_live(actor(request, principal), camera)
    if custody.live is None:
        raise LiveOriginalsUnavailableError("live originals are not available in this process")
    custody.live.want(camera)
    return _Entitled(camera, grant, custody.grants, custody.live)


@router.get(
    "/api/cameras/{camera_id}/original/latest.jpg",
    operation_id="getLiveOriginalFrame",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The newest unredacted frame"}},
    openapi_extra=SERVES_ORIGINALS,
)
def live_original_frame(
    camera_id: str, request: Request, context: ContextDep, principal: LiveViewer
) -> Response:
    """The camera's newest unredacted frame (JPEG), under break glass or a grant covering now (audited)."""
    entitled = _entitled(request, context, principal, camera_id)
    frame = entitled.live.latest(entitled.camera, None, FRAME_WAIT_S)
    if frame is None:
        raise NoLiveFrameError(f"camera {camera_id!r} delivered no frame within {FRAME_WAIT_S:g} s")
    headers = {"Cache-Control": "no-store", "X-Unmask-Grant": entitled.grant.id}
    return Response(JpegEncoder(ORIGINAL_QUALITY).encode(frame.rgb), media_type="image/jpeg", headers=headers)


@router.get(
    "/api/cameras/{camera_id}/original/live.mjpeg",
    operation_id="streamLiveOriginal",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}},
            "description": "Unredacted frames as MJPEG until the grant ends or `seconds` pass",
        }
    },
    openapi_extra=SERVES_ORIGINALS,
)
def live_original_stream(
    camera_id: str,
    request: Request,
    context: ContextDep,
    principal: LiveViewer,
    seconds: Annotated[float, Query(gt=0, le=MAX_STREAM_S, description="Longest the stream runs.")] = 60.0,
) -> StreamingResponse:
    """Unredacted live frames as MJPEG, under break glass or a grant covering now (start/stop audited)."""
    entitled = _entitled(request, context, principal, camera_id)
    grant = entitled.grant
    until = min(utcnow() + timedelta(seconds=seconds), grant.end, grant.expires_at or grant.end)
    view = LiveView.start(request, principal.username, entitled.camera, Rendition.ORIGINAL)
    return StreamingResponse(
        _frames(request, entitled, view, until),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store", "X-Unmask-Grant": grant.id},
    )


async def _frames(
    request: Request, entitled: _Entitled, view: LiveView, until: datetime
) -> AsyncIterator[bytes]:
    encoder = JpegEncoder(ORIGINAL_QUALITY)
    last: datetime | None = None
    checked = utcnow()
    why = "stopped"
    try:
        while utcnow() < until:
            if await request.is_disconnected():
                why = "viewer left"
                break
            if (utcnow() - checked).total_seconds() >= RECHECK_S:
                checked = utcnow()
                current = await asyncio.to_thread(entitled.grants.get, entitled.grant.id)
                if not current.active(checked):
                    why = f"grant {current.state.value}"
                    break
            entitled.live.want(entitled.camera)
            frame = await asyncio.to_thread(entitled.live.latest, entitled.camera, last, 1.0)
            if frame is None:
                continue
            last = frame.at
            jpeg = encoder.encode(frame.rgb)
            head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            yield head.encode() + jpeg + b"\r\n"
        else:
            why = "time up"
    finally:
        view.stop(why)
        log.info("live originals of %s for %s ended: %s", entitled.camera, view.username, why)
