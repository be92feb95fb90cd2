"""Unmask grants (four eyes), break glass and the retention notice."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from watchkeeper.api.context import AppContext
from watchkeeper.api.custody import actor, custody_of
from watchkeeper.api.deps import ContextDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Authenticated, Require, camera_access
from watchkeeper.api.routes.params import InvalidQueryError
from watchkeeper.api.schemas.custody import BreakGlassIn, GrantDecisionIn, GrantIn, GrantOut, RetentionOut
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import CameraId, NotFoundError
from watchkeeper.domain.custody import UnmaskGrant
from watchkeeper.privacy.grants import GrantRequest

router = APIRouter(tags=["unmask"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

Requester = Annotated[Principal, Depends(Require(Permission.REQUEST_UNMASK))]
Approver = Annotated[Principal, Depends(Require(Permission.APPROVE_UNMASK))]
AnyUser = Annotated[Principal, Depends(Authenticated())]


def _cameras(
    context: AppContext, principal: Principal, ids: list[str], permission: Permission
) -> tuple[CameraId, ...]:
    cameras = []
    for camera_id in ids:
        camera = context.store.cameras.get(CameraId(camera_id))
        camera_access(principal, camera, camera_id, permission)
        cameras.append(CameraId(camera_id))
    return tuple(cameras)


def _visible(context: AppContext, principal: Principal, grant: UnmaskGrant) -> bool:
    if grant.requester == principal.username:
        return True
    for camera_id in grant.camera_ids:
        camera = context.store.cameras.get(camera_id)
        if camera is None or not principal.can(Permission.APPROVE_UNMASK, camera):
            return False
    return True


def _grant(context: AppContext, principal: Principal, grant_id: str) -> UnmaskGrant:
    grant = custody_of(context).grants.get(grant_id)
    if not _visible(context, principal, grant):
        raise NotFoundError(f"no unmask grant with id {grant_id!r}")
    return grant


@router.post("/api/grants", operation_id="requestUnmask", status_code=201)
def request_unmask(body: GrantIn, request: Request, context: ContextDep, principal: Requester) -> GrantOut:
    """Ask for the originals of cameras over a range, with a reason; another user must approve."""
    if body.end <= body.start:
        raise InvalidQueryError("end must be after start")
    cameras = _cameras(context, principal, body.camera_ids, Permission.REQUEST_UNMASK)
    ask = GrantRequest(principal.username, cameras, body.start, body.end, body.reason, body.valid_hours)
    return GrantOut.of(custody_of(context).grants.request(ask, actor(request, principal).client))


@router.get("/api/grants", operation_id="listUnmaskGrants")
def list_grants(context: ContextDep, principal: AnyUser) -> list[GrantOut]:
    """Your own requests, and those an approver may decide on cameras they see."""
    grants = custody_of(context).grants.list()
    return [GrantOut.of(grant) for grant in grants if _visible(context, principal, grant)]


@router.get("/api/grants/{grant_id}", operation_id="getUnmaskGrant")
def get_grant(grant_id: str, context: ContextDep, principal: AnyUser) -> GrantOut:
    """One grant (yours, or one you may decide)."""
    return GrantOut.of(_grant(context, principal, grant_id))


@router.post("/api/grants/{grant_id}/approve", operation_id="approveUnmask")
def approve(
    grant_id: str, body: GrantDecisionIn, request: Request, context: ContextDep, principal: Approver
) -> GrantOut:
    """Approve someone else's request (never your own); the grant runs from now for its validity."""
    _grant(context, principal, grant_id)
    return GrantOut.of(custody_of(context).grants.approve(grant_id, actor(request, principal), body.note))


@router.post("/api/grants/{grant_id}/refuse", operation_id="refuseUnmask")
def refuse(
    grant_id: str, body: GrantDecisionIn, request: Request, context: ContextDep, principal: Approver
) -> GrantOut:
    """Refuse someone else's request."""
    _grant(context, principal, grant_id)
    return GrantOut.of(custody_of(context).grants.refuse(grant_id, actor(request, principal), body.note))


@router.post("/api/grants/{grant_id}/revoke", operation_id="revokeUnmask")
def revoke(grant_id: str, request: Request, context: ContextDep, principal: AnyUser) -> GrantOut:
    """End a grant now (its requester or an approver)."""
    _grant(context, principal, grant_id)
    return GrantOut.of(custody_of(context).grants.revoke(grant_id, actor(request, principal)))


@router.post("/api/grants/break-glass", operation_id="breakGlass", status_code=201)
def break_glass(body: BreakGlassIn, request: Request, context: ContextDep, principal: Requester) -> GrantOut:
    """Emergency access to live originals, no approval: reason required, loudly audited, approvers told."""
    cameras = _cameras(context, principal, body.camera_ids, Permission.VIEW_LIVE)
    return GrantOut.of(
        custody_of(context).grants.break_glass(actor(request, principal), cameras, body.reason)
    )


@router.get("/api/retention", operation_id="getRetention")
def retention(context: ContextDep, _principal: AnyUser) -> RetentionOut:
    """How long footage is kept (the console shows "Footage is kept N days")."""
    custody = custody_of(context)
    days = custody.retain_days if custody.retain_days is not None else 0
    return RetentionOut(
        retain_days=days,
        event_retain_days=custody.event_retain_days if custody.event_retain_days is not None else days,
        encrypt_originals=custody.keys is not None,
    )
