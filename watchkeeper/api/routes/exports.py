"""Signed evidence exports: create (evidence-locks the footage), list, download, release."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from watchkeeper.api.context import AppContext
from watchkeeper.api.custody import SERVES_ORIGINALS, actor, audit, authorize_original, custody_of
from watchkeeper.api.deps import ContextDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Require, camera_access
from watchkeeper.api.routes.params import InvalidQueryError
from watchkeeper.api.schemas.custody import ExportIn, ExportOut
from watchkeeper.audit.log import AuditAction
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import CameraId, NotFoundError, Rendition
from watchkeeper.domain.custody import ExportRecord
from watchkeeper.privacy.exports import MAX_EXPORT_SECONDS, ExportRequest, ExportService

router = APIRouter(tags=["exports"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

Exporter = Annotated[Principal, Depends(Require(Permission.EXPORT))]
Locker = Annotated[Principal, Depends(Require(Permission.LOCK_EVIDENCE))]


def _service(context: AppContext) -> ExportService:
    service = custody_of(context).exports
    if service is None:
        raise NotFoundError("evidence exports are not available in this process")
    return service


def _visible(context: AppContext, principal: Principal, record: ExportRecord, permission: Permission) -> bool:
    for camera_id in record.camera_ids:
        camera = context.store.cameras.get(camera_id)
        if camera is None or not principal.can(permission, camera):
            return False
    return True


def _export(
    context: AppContext, principal: Principal, export_id: str, permission: Permission
) -> ExportRecord:
    record = _service(context).get(export_id)
    if not _visible(context, principal, record, permission):
        raise NotFoundError(f"no export with id {export_id!r}")
    return record


@router.post("/api/exports", operation_id="createExport", status_code=201, openapi_extra=SERVES_ORIGINALS)
def create_export(body: ExportIn, request: Request, context: ContextDep, principal: Exporter) -> ExportOut:
    """Build a signed evidence bundle (protected footage, or originals under your unmask grant)."""
    if body.end <= body.start:
        raise InvalidQueryError("end must be after start")
    if (body.end - body.start).total_seconds() > MAX_EXPORT_SECONDS:
        raise InvalidQueryError(f"an export may cover at most {MAX_EXPORT_SECONDS:g} s")
    cameras = []
    for camera_id in body.camera_ids:
        camera_access(principal, context.store.cameras.get(CameraId(camera_id)), camera_id, Permission.EXPORT)
        cameras.append(CameraId(camera_id))
    ask = ExportRequest(
        tuple(cameras), body.start, body.end, body.reason, Rendition(body.rendition), body.parent_id
    )
    return ExportOut.of(_service(context).create(actor(request, principal), ask))


@router.get("/api/exports", operation_id="listExports")
def list_exports(context: ContextDep, principal: Exporter) -> list[ExportOut]:
    """Exports of cameras you may export, newest first."""
    records = context.store.exports.list() if context.custody is not None else []
    return [ExportOut.of(r) for r in records if _visible(context, principal, r, Permission.EXPORT)]


@router.get("/api/exports/{export_id}", operation_id="getExport")
def get_export(export_id: str, context: ContextDep, principal: Exporter) -> ExportOut:
    """One export."""
    return ExportOut.of(_export(context, principal, export_id, Permission.EXPORT))


@router.get(
    "/api/exports/{export_id}/bundle",
    operation_id="downloadExport",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The signed evidence bundle"}},
    openapi_extra=SERVES_ORIGINALS,
)
def download_export(
    export_id: str, request: Request, context: ContextDep, principal: Exporter
) -> FileResponse:
    """The bundle (zip); check it offline with `watchkeeper export verify`.

    A bundle of originals is handed out only under your own unmask grant covering its cameras and range.
    """
    record = _export(context, principal, export_id, Permission.EXPORT)
    if record.rendition == Rendition.ORIGINAL.value:
        for camera_id in record.camera_ids:
            authorize_original(request, principal, camera_id, record.start, record.end)
    path = _service(context).bundle_path(record)
    if not path.is_file():
        raise NotFoundError(f"the bundle of export {export_id} is missing from storage")
    audit(request, principal.username, AuditAction.EXPORT, f"export:{export_id}", download=True)
    return FileResponse(path, media_type="application/zip", filename=f"{export_id}.zip")


@router.post("/api/exports/{export_id}/release", operation_id="releaseExport")
def release_export(export_id: str, request: Request, context: ContextDep, principal: Locker) -> ExportOut:
    """Release the evidence locks of an export: its footage falls under retention again (audited)."""
    _export(context, principal, export_id, Permission.LOCK_EVIDENCE)
    return ExportOut.of(_service(context).release(export_id, actor(request, principal)))
