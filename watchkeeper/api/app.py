"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from watchkeeper.api.context import AppContext
from watchkeeper.api.custody import install_custody_errors
from watchkeeper.api.errors import install_error_handlers
from watchkeeper.api.live import CameraSet, LiveMessage
from watchkeeper.api.policy import install_auth_errors
from watchkeeper.api.routes import (
    auth,
    cameras,
    events,
    exports,
    floorplans,
    grants,
    health,
    incidents,
    live_originals,
    live_stream,
    live_webrtc,
    metrics,
    playback,
    recordings,
    search,
    settings,
    tiles,
    users,
    webhooks,
    ws,
)
from watchkeeper.api.schemas import CameraStatusOut, EventOut, WsCameraStatus, WsEvent
from watchkeeper.api.schemas.custody import WsBreakGlass
from watchkeeper.api.security import install_security
from watchkeeper.auth.permissions import Permission
from watchkeeper.bus.messages import BreakGlassMessage, BusMessage, CameraStatusMessage, EventMessage
from watchkeeper.config.server import ServerConfig
from watchkeeper.domain.tasks import cancel_and_wait

log = logging.getLogger(__name__)

LIVE_SUBJECTS = ("wk.events.>", "wk.cameras.>", "wk.custody.>")


def create_app(context: AppContext, server: ServerConfig | None = None) -> FastAPI:
    """Build the API (and the console, when built assets exist) over ``context``.

    ``server`` carries the hardening settings (limits, CORS); the defaults apply when it is omitted.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_follow(context, subject)) for subject in LIVE_SUBJECTS]
        try:
            yield
        finally:
            await cancel_and_wait(tasks)

    app = FastAPI(
        title="Watchkeeper",
        version=context.version,
        summary="Privacy-first video management and safety incidents.",
        lifespan=lifespan,
        # The interactive pages load scripts from a CDN, which the console's CSP (and an offline site)
        # forbids; the schema itself stays at /openapi.json and is checked into the repository.
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    install_error_handlers(app)
    install_auth_errors(app)
    incidents.install_incident_errors(app)
    install_custody_errors(app)
    settings.install_settings_errors(app)
    for module in (
        health,
        auth,
        users,
        cameras,
        events,
        recordings,
        playback,
        metrics,
        incidents,
        webhooks,
        ws,
        grants,
        exports,
        live_originals,
        live_stream,
        search,
        settings,
        floorplans,
    ):
        app.include_router(module.router)
    app.include_router(tiles.build_router(server if server is not None else ServerConfig()))
    app.include_router(live_webrtc.build_router(server if server is not None else ServerConfig()))
    if context.static_dir is not None and (context.static_dir / "index.html").is_file():
        _mount_console(app, context)
    install_security(app, server if server is not None else ServerConfig())
    return app


def _mount_console(app: FastAPI, context: AppContext) -> None:
    static_dir = context.static_dir
    if static_dir is None:
        return
    index = static_dir / "index.html"
    if (static_dir / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=static_dir / "assets"), name="assets")

    @app.get("/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(index, media_type="text/html")


async def _follow(context: AppContext, subject: str) -> None:
    """Keep the status board and the WebSocket clients up to date from the bus."""
    subscription = await context.bus.subscribe(subject)
    try:
        async for message in subscription:
            _dispatch(context, message)
    finally:
        await subscription.close()


def _dispatch(context: AppContext, message: BusMessage) -> None:
    if isinstance(message, CameraStatusMessage):
        status = message.to_domain()
        context.statuses.update(status)
        out = WsCameraStatus(camera_id=status.camera_id, status=CameraStatusOut.of(status))
        context.hub.broadcast(out.model_dump_json(), status.camera_id, Permission.VIEW_LIVE)
    elif isinstance(message, EventMessage):
        event = message.to_domain()
        ws_event = WsEvent(state=message.event_state, event=EventOut.of(event))
        context.hub.broadcast(ws_event.model_dump_json(), event.camera_id, Permission.VIEW_EVENTS)
    elif isinstance(message, BreakGlassMessage):  # approvers of (one of) its cameras are told at once
        notice = WsBreakGlass.model_validate(message.model_dump(exclude={"type", "version"}))
        text = notice.model_dump_json()
        scope = CameraSet(tuple(message.camera_ids))
        context.hub.push(LiveMessage(text, None, Permission.APPROVE_UNMASK, scope))
