"""Settings: edit cameras, sites and retention in the configuration file (``config.manage``, global only).

Every edit is validated by the configuration models (the file is never left invalid), written atomically
with a backup, audited as ``config.change`` with a redacted diff, and applied live when the runtime can
(a changed camera's worker restarts; retention takes the new days on its next pass).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import JsonValue

from watchkeeper.api.context import AppContext
from watchkeeper.api.custody import audit
from watchkeeper.api.deps import ContextDep, get_context
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Require
from watchkeeper.api.schemas.models import ErrorBody
from watchkeeper.api.schemas.settings import (
    ChangeOut,
    ConfigRejectedOut,
    EnabledIn,
    FieldProblem,
    ProbeIn,
    ProbeOut,
    RetentionSettings,
    SettingsOut,
)
from watchkeeper.audit.log import AuditAction
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.config.editor import ConfigChange, ConfigEditor, ConfigEditRejected
from watchkeeper.config.edits import Change, put_camera, put_site, set_camera_enabled, set_retention
from watchkeeper.config.secrets import redact_url
from watchkeeper.domain import WatchkeeperError
from watchkeeper.sources.probe import probe_url

log = logging.getLogger(__name__)

REJECTED_RESPONSE: dict[int | str, dict[str, object]] = {
    422: {"model": ConfigRejectedOut, "description": "The edit would make the configuration invalid"},
    503: {"model": ConfigRejectedOut, "description": "This server cannot edit its configuration"},
}

router = APIRouter(tags=["settings"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})
ConfigAdmin = Annotated[Principal, Depends(Require(Permission.MANAGE_CONFIG))]
CameraBody = dict[str, JsonValue]


class SettingsUnavailableError(WatchkeeperError):
    """This server was started without a configuration file it may edit."""

    code = "settings_unavailable"


def _editor(context: AppContext) -> ConfigEditor:
    if context.config_editor is None:
        raise SettingsUnavailableError("this server cannot edit its configuration (no configuration file)")
    return context.config_editor


@router.get("/api/settings", operation_id="getSettings", responses=REJECTED_RESPONSE)
def get_settings(context: ContextDep, _admin: ConfigAdmin) -> SettingsOut:
    """Cameras, sites and retention as written in the configuration file (passwords hidden)."""
    editor = _editor(context)
    data = editor.snapshot()
    config = editor.current()
    return SettingsOut(
        config_file=editor.path.name,
        cameras=[item for item in _list(data.get("cameras")) if isinstance(item, dict)],
        sites=[item for item in _list(data.get("sites")) if isinstance(item, dict)],
        retention=RetentionSettings(
            retain_days=config.recording.retain_days,
            event_retain_days=config.recording.event_retain_days,
        ),
    )


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


@router.post(
    "/api/settings/cameras", operation_id="createCameraSettings", status_code=201, responses=REJECTED_RESPONSE
)
def create_camera(body: CameraBody, request: Request, admin: ConfigAdmin) -> ChangeOut:
    """Add a camera; it starts recording at once when the runtime can apply it."""
    name = str(body.get("id", ""))
    return _edit(request, admin, f"camera {name} added", put_camera(None, dict(body)), camera_id=name)


@router.put(
    "/api/settings/cameras/{camera_id}", operation_id="updateCameraSettings", responses=REJECTED_RESPONSE
)
def update_camera(camera_id: str, body: CameraBody, request: Request, admin: ConfigAdmin) -> ChangeOut:
    """Replace a camera's settings (inputs, position, zones, masks, rules); its worker restarts."""
    change = put_camera(camera_id, dict(body))
    return _edit(request, admin, f"camera {camera_id} updated", change, camera_id=camera_id)


@router.put(
    "/api/settings/cameras/{camera_id}/enabled", operation_id="setCameraEnabled", responses=REJECTED_RESPONSE
)
def set_enabled(camera_id: str, body: EnabledIn, request: Request, admin: ConfigAdmin) -> ChangeOut:
    """Turn a camera on or off (a disabled camera is neither recorded nor analysed)."""
    summary = f"camera {camera_id} {'enabled' if body.enabled else 'disabled'}"
    return _edit(request, admin, summary, set_camera_enabled(camera_id, body.enabled), camera_id=camera_id)


@router.post(
    "/api/settings/sites", operation_id="createSiteSettings", status_code=201, responses=REJECTED_RESPONSE
)
def create_site(body: CameraBody, request: Request, admin: ConfigAdmin) -> ChangeOut:
    """Add a site."""
    return _edit(request, admin, f"site {body.get('id', '')} added", put_site(None, dict(body)))


@router.put("/api/settings/sites/{site_id}", operation_id="updateSiteSettings", responses=REJECTED_RESPONSE)
def update_site(site_id: str, body: CameraBody, request: Request, admin: ConfigAdmin) -> ChangeOut:
    """Rename a site."""
    return _edit(request, admin, f"site {site_id} updated", put_site(site_id, dict(body)))


@router.put("/api/settings/retention", operation_id="setRetentionSettings", responses=REJECTED_RESPONSE)
def update_retention(body: RetentionSettings, request: Request, admin: ConfigAdmin) -> ChangeOut:
    """Change how many days footage (and event footage) is kept."""
    summary = f"retention {body.retain_days} days, events {body.event_retain_days} days"
    return _edit(request, admin, summary, set_retention(body.retain_days, body.event_retain_days))


@router.post("/api/settings/probe", operation_id="probeStream", responses=REJECTED_RESPONSE)
def probe_stream(body: ProbeIn, context: ContextDep, _admin: ConfigAdmin) -> ProbeOut:
    """Try to open a stream once (up to 5 s) and say its codec and resolution, or why it failed."""
    url = body.url
    if "***" in url and body.camera_id is not None:
        camera = _editor(context).current().camera(body.camera_id)
        stored = [item for item in camera.inputs if item.redacted_url == url] if camera else []
        if stored:
            url = stored[0].url.get_secret_value()
    found = probe_url(url, redact_url(url), body.transport)
    if not found.ok:
        return ProbeOut(ok=False, detail=redact_url(found.detail))
    return ProbeOut(
        ok=True,
        codec=found.codec or "",
        width=found.width or 0,
        height=found.height or 0,
        detail=found.detail,
    )


def _edit(
    request: Request, admin: Principal, summary: str, change: Change, camera_id: str | None = None
) -> ChangeOut:
    context = get_context(request)
    editor = _editor(context)
    written = editor.edit(summary, change)
    audit(
        request,
        admin.username,
        AuditAction.CONFIG_CHANGE,
        f"config:{editor.path.name}",
        change=summary,
        diff=written.diff,
    )
    _sync_inventory(context, written, camera_id)
    applied, detail = True, ""
    if context.on_config_change is None:
        applied, detail = False, "applies when the server restarts"
    else:
        try:
            context.on_config_change(written.config, camera_id)
        except WatchkeeperError as err:
            log.warning("configuration change %r written but not applied: %s", summary, err)
            applied, detail = False, f"written, but not applied live: {err}"
    return ChangeOut(summary=summary, applied=applied, detail=detail, backup=written.backup.name)


def _sync_inventory(context: AppContext, written: ConfigChange, camera_id: str | None) -> None:
    """Keep the database's sites and cameras (what the console lists) in step with the file."""
    for site in written.config.sites:
        context.store.sites.upsert(site.to_domain())
    if camera_id is not None:
        camera = written.config.camera(camera_id)
        if camera is not None:
            context.store.cameras.upsert(camera.to_domain())


async def _rejected(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, SettingsUnavailableError):
        body = ConfigRejectedOut(error=ErrorBody(code=exc.code, message=str(exc)), fields=[])
        return JSONResponse(body.model_dump(), status_code=503)
    if not isinstance(exc, ConfigEditRejected):
        raise TypeError(type(exc).__name__)
    fields = [
        FieldProblem(field=exc.field_of(problem), path=problem.path, message=problem.message)
        for problem in exc.problems
    ]
    message = "; ".join(f"{item.path}: {item.message}" if item.path else item.message for item in fields)
    body = ConfigRejectedOut(error=ErrorBody(code=exc.code, message=message), fields=fields)
    return JSONResponse(body.model_dump(), status_code=422)


def install_settings_errors(app: FastAPI) -> None:
    """Answer rejected edits with 422 and their problems per form field; no editor with 503."""
    app.add_exception_handler(ConfigEditRejected, _rejected)
    app.add_exception_handler(SettingsUnavailableError, _rejected)
