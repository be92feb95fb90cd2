"""Incidents: listing, operator reports, phone-in intake, workflow, and the signed inbound alarm webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from watchkeeper.api.deps import StoreDep, get_context
from watchkeeper.api.errors import ERROR_RESPONSES, error_response
from watchkeeper.api.policy import AUTH_RESPONSES, Public, Require
from watchkeeper.api.routes.params import utc_param
from watchkeeper.api.schemas import ErrorOut
from watchkeeper.api.schemas.incidents import (
    AssignIn,
    AttachIn,
    CallerOut,
    InboundAlarmIn,
    InboundResultOut,
    IncidentDetailOut,
    IncidentOut,
    IncidentPageOut,
    IncidentTypeOut,
    NoteIn,
    OperatorReportIn,
    PhoneInIn,
    PriorityIn,
    ReasonIn,
    SopStepIn,
    TransitionErrorOut,
)
from watchkeeper.auth.errors import ForbiddenError
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import (
    Camera,
    CameraId,
    DuplicateError,
    MapPosition,
    NotFoundError,
    Site,
    SiteId,
    WatchkeeperError,
)
from watchkeeper.domain.incidents import (
    AlarmSource,
    Assignee,
    InboundKey,
    Incident,
    IncidentAction,
    IncidentQuery,
    IncidentState,
    Priority,
)
from watchkeeper.incidents.crypto import CallerContact
from watchkeeper.incidents.errors import (
    IdempotencyConflictError,
    InboundAuthError,
    IncidentInputError,
    IncidentNotFoundError,
    InvalidTransitionError,
)
from watchkeeper.incidents.inbound import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    SOURCE_HEADER,
    TIMESTAMP_HEADER,
    InboundVerifier,
    body_digest,
)
from watchkeeper.incidents.service import Alarm, IncidentService

router = APIRouter(tags=["incidents"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

_CONFLICT: dict[int | str, dict[str, object]] = {
    409: {
        "model": TransitionErrorOut,
        "description": "Action not allowed in this state (`invalid_transition`)",
    }
}

Viewer = Annotated[Principal, Depends(Require(Permission.VIEW_INCIDENTS))]
Reporter = Annotated[Principal, Depends(Require(Permission.REPORT_INCIDENTS))]
Handler = Annotated[Principal, Depends(Require(Permission.HANDLE_INCIDENTS))]


class IncidentsDisabledError(WatchkeeperError):
    """This API process runs without an incident service."""

    code = "incidents_disabled"


def get_incidents(connection: HTTPConnection) -> IncidentService:
    """The incident service of this process.

    Raises:
        IncidentsDisabledError: When the process was built without one.
    """
    service = get_context(connection).incidents
    if service is None:
        raise IncidentsDisabledError("incidents are not enabled in this process")
    return service


ServiceDep = Annotated[IncidentService, Depends(get_incidents)]


def _targets(store: StoreDep, incident: Incident) -> list[Camera | Site]:
    targets: list[Camera | Site] = []
    if incident.site_id is not None:
        targets.append(Site(incident.site_id, incident.site_id))
    for camera_id in incident.camera_ids:
        camera = store.cameras.get(camera_id)
        if camera is not None:
            targets.append(camera)
    return targets


def _allowed(principal: Principal, store: StoreDep, incident: Incident, permission: Permission) -> bool:
    targets = _targets(store, incident)
    if not targets:
        return principal.sees_everything(permission)
    return any(principal.can(permission, target) for target in targets)


def _load(
    service: IncidentService, store: StoreDep, principal: Principal, incident_id: str, permission: Permission
) -> Incident:
    incident = service.get(incident_id)
    if not _allowed(principal, store, incident, Permission.VIEW_INCIDENTS):
        raise IncidentNotFoundError(f"no incident with id {incident_id!r}")
    if not _allowed(principal, store, incident, permission):
        raise ForbiddenError(f"your roles do not allow {permission.value} on incident {incident_id}")
    return incident


def _is_handler(service: IncidentService, store: StoreDep, principal: Principal, incident: Incident) -> bool:
    """Owner, assigned user, member of the assigned team, or incident admin."""
    name = principal.username
    if name in (incident.owner, incident.assignee.user):
        return True
    teams = {team.id: team.members for team in service.config.teams}
    if incident.assignee.team is not None and name in teams.get(incident.assignee.team, []):
        return True
    return _allowed(principal, store, incident, Permission.ADMIN_INCIDENTS)


def _caller_out(
    service: IncidentService, store: StoreDep, principal: Principal, incident: Incident
) -> CallerOut | None:
    contact = service.caller(incident)
    if contact is None:
        return None
    return CallerOut.of(contact, reveal=_is_handler(service, store, principal, incident))


def _check_place(
    store: StoreDep, principal: Principal, camera_id: str | None, permission: Permission
) -> Camera | None:
    if camera_id is None:
        if not principal.sees_everything(permission):
            raise ForbiddenError(
                "pick a camera you may report on (your roles are limited to some sites/cameras)"
            )
        return None
    camera = store.cameras.get(CameraId(camera_id))
    if camera is None or not principal.can(Permission.VIEW_INCIDENTS, camera):
        raise IncidentInputError(f"no camera with id {camera_id!r}")
    if not principal.can(permission, camera):
        raise ForbiddenError(f"your roles do not allow {permission.value} on camera {camera_id!r}")
    return camera


def _position(lat: float | None, lon: float | None) -> MapPosition | None:
    if lat is None or lon is None:
        return None
    return MapPosition(lat=lat, lon=lon)


def _visibility(
    store: StoreDep, principal: Principal
) -> tuple[frozenset[SiteId] | None, frozenset[CameraId] | None]:
    if principal.sees_everything(Permission.VIEW_INCIDENTS):
        return None, None
    sites = frozenset(
        site.id for site in store.sites.list() if principal.can(Permission.VIEW_INCIDENTS, site)
    )
    cameras = frozenset(
        camera.id for camera in principal.visible_cameras(store.cameras.list(), Permission.VIEW_INCIDENTS)
    )
    return sites, cameras


@router.get("/api/incident-types", operation_id="listIncidentTypes")
def list_incident_types(service: ServiceDep, principal: Viewer) -> list[IncidentTypeOut]:
    """The incident taxonomy: safety, property and equipment types with their SOP."""
    return [IncidentTypeOut.of(item) for item in service.taxonomy.all()]


@router.get("/api/incidents", operation_id="listIncidents")
def list_incidents(  # noqa: PLR0913 - query filters
    service: ServiceDep,
    store: StoreDep,
    principal: Viewer,
    state: Annotated[list[IncidentState] | None, Query(description="Only these states.")] = None,
    type_code: Annotated[list[str] | None, Query(description="Only these type codes.")] = None,
    priority: Annotated[list[Priority] | None, Query(description="Only these priorities.")] = None,
    site_id: Annotated[list[str] | None, Query(description="Only these sites.")] = None,
    camera_id: Annotated[
        list[str] | None, Query(description="Only incidents linked to these cameras.")
    ] = None,
    owner: Annotated[str | None, Query(max_length=200, description="Only this owner.")] = None,
    since: Annotated[datetime | None, Query(description="Created at or after (with zone).")] = None,
    until: Annotated[datetime | None, Query(description="Created before (with zone).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> IncidentPageOut:
    """Incidents the caller may see, newest first, filtered and paginated."""
    for item in camera_id or ():
        camera = store.cameras.get(CameraId(item))
        if camera is None or not principal.can(Permission.VIEW_INCIDENTS, camera):
            raise NotFoundError(f"no camera with id {item!r}")
    sites, cameras = _visibility(store, principal)
    query = IncidentQuery(
        states=frozenset(state or ()),
        type_codes=frozenset(type_code or ()),
        priorities=frozenset(priority or ()),
        site_ids=frozenset(SiteId(item) for item in site_id or ()),
        camera_ids=frozenset(CameraId(item) for item in camera_id or ()),
        owner=owner,
        since=utc_param("since", since),
        until=utc_param("until", until),
        visible_sites=sites,
        visible_cameras=cameras,
        limit=limit,
        offset=offset,
    )
    page = service.list(query)
    return IncidentPageOut(
        items=[IncidentOut.of(item) for item in page.items], total=page.total, limit=limit, offset=offset
    )


@router.get("/api/incidents/{incident_id}", operation_id="getIncident")
def get_incident(
    incident_id: str, service: ServiceDep, store: StoreDep, principal: Viewer
) -> IncidentDetailOut:
    """One incident with its transitions, SOP, notes, attachments and escalations."""
    incident = _load(service, store, principal, incident_id, Permission.VIEW_INCIDENTS)
    return IncidentDetailOut.of(service.detail(incident.id), _caller_out(service, store, principal, incident))


@router.post("/api/incidents", operation_id="reportIncident", status_code=201)
def report_incident(
    body: OperatorReportIn, service: ServiceDep, store: StoreDep, principal: Reporter
) -> IncidentOut:
    """Open an incident "discovered on duty" (camera or map point, type, note)."""
    camera = _check_place(store, principal, body.camera_id, Permission.REPORT_INCIDENTS)
    if camera is None and _position(body.lat, body.lon) is None:
        raise IncidentInputError("give a camera_id or a map point (lat and lon)")
    now = service.now()
    alarm = Alarm(
        type_code=body.type_code,
        source=AlarmSource.OPERATOR,
        at=now,
        received_at=now,
        camera_id=camera.id if camera is not None else None,
        site_id=SiteId(body.site_id) if body.site_id else None,
        location=_position(body.lat, body.lon),
        title=body.title,
        note=body.note,
        created_by=principal.username,
        priority=body.priority,
    )
    return IncidentOut.of(service.get(service.raise_alarm(alarm).incident_id))


@router.post("/api/incidents/phone-in", operation_id="phoneInIncident", status_code=201)
def phone_in_incident(
    body: PhoneInIn, service: ServiceDep, store: StoreDep, principal: Reporter
) -> IncidentOut:
    """Open an incident for a call taken by the control room (callback number stored encrypted)."""
    camera = _check_place(store, principal, body.camera_id, Permission.REPORT_INCIDENTS)
    alarm = Alarm(
        type_code=body.type_code,
        source=AlarmSource.PHONE,
        at=service.now(),
        camera_id=camera.id if camera is not None else None,
        site_id=SiteId(body.site_id) if body.site_id else None,
        location=_position(body.lat, body.lon),
        note=body.note,
        created_by=principal.username,
        priority=body.priority,
        caller=CallerContact(callback_number=body.callback_number, name=body.caller_name),
    )
    incident = service.get(service.raise_alarm(alarm).incident_id)
    return IncidentOut.of(incident, _caller_out(service, store, principal, incident))


@router.post(
    "/api/incidents/{incident_id}/actions/{action}", operation_id="incidentAction", responses=_CONFLICT
)
def incident_action(
    incident_id: str,
    action: IncidentAction,
    body: ReasonIn,
    service: ServiceDep,
    store: StoreDep,
    principal: Handler,
) -> IncidentOut:
    """Acknowledge, start, hold, resume, resolve (resolution required), close or reopen."""
    _load(service, store, principal, incident_id, Permission.HANDLE_INCIDENTS)
    return IncidentOut.of(service.transition(incident_id, action, principal.username, body.reason))


@router.put("/api/incidents/{incident_id}/assignee", operation_id="assignIncident")
def assign_incident(
    incident_id: str, body: AssignIn, service: ServiceDep, store: StoreDep, principal: Handler
) -> IncidentOut:
    """Assign to a user and/or a team."""
    _load(service, store, principal, incident_id, Permission.HANDLE_INCIDENTS)
    return IncidentOut.of(
        service.assign(incident_id, Assignee(user=body.user, team=body.team), principal.username)
    )


@router.put("/api/incidents/{incident_id}/priority", operation_id="setIncidentPriority")
def set_incident_priority(
    incident_id: str, body: PriorityIn, service: ServiceDep, store: StoreDep, principal: Handler
) -> IncidentOut:
    """Change the priority."""
    _load(service, store, principal, incident_id, Permission.HANDLE_INCIDENTS)
    return IncidentOut.of(service.set_priority(incident_id, body.priority, principal.username))


@router.post("/api/incidents/{incident_id}/notes", operation_id="addIncidentNote", status_code=201)
def add_incident_note(
    incident_id: str, body: NoteIn, service: ServiceDep, store: StoreDep, principal: Handler
) -> IncidentOut:
    """Add a note."""
    _load(service, store, principal, incident_id, Permission.HANDLE_INCIDENTS)
    return IncidentOut.of(service.add_note(incident_id, principal.username, body.text))


@router.post("/api/incidents/{incident_id}/attachments", operation_id="attachIncidentEvents", status_code=201)
def attach_incident_events(
    incident_id: str, body: AttachIn, service: ServiceDep, store: StoreDep, principal: Handler
) -> IncidentOut:
    """Attach analysis events (their snapshots and clips) the caller may see."""
    _load(service, store, principal, incident_id, Permission.HANDLE_INCIDENTS)
    for event_id in body.event_ids:
        event = store.events.get(event_id)
        camera = store.cameras.get(event.camera_id) if event is not None else None
        if camera is None or not principal.can(Permission.VIEW_EVENTS, camera):
            raise IncidentInputError(f"no event with id {event_id!r}")
    return IncidentOut.of(service.attach(incident_id, body.event_ids, principal.username))


@router.put("/api/incidents/{incident_id}/sop/{index}", operation_id="setIncidentSopStep")
def set_incident_sop_step(
    incident_id: str, index: int, body: SopStepIn, service: ServiceDep, store: StoreDep, principal: Handler
) -> IncidentOut:
    """Tick an SOP step, or skip it with a reason."""
    _load(service, store, principal, incident_id, Permission.HANDLE_INCIDENTS)
    return IncidentOut.of(
        service.sop_step(incident_id, index, principal.username, skip_reason=body.skip_reason)
    )


@router.post(
    "/api/alarms/inbound",
    operation_id="inboundAlarm",
    dependencies=[Depends(Public())],
    responses={401: {"model": ErrorOut, "description": "Bad source, signature or timestamp"}},
)
async def inbound_alarm(
    request: Request,
    service: ServiceDep,
    source: Annotated[str | None, Header(alias=SOURCE_HEADER)] = None,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER, max_length=200)] = None,
) -> InboundResultOut:
    """A signed alarm from an external system; a replayed ``Idempotency-Key`` returns the first result."""
    body = await request.body()
    verifier = InboundVerifier(service.config.inbound)
    config = verifier.verify(source, timestamp, signature, body, service.now())
    if not idempotency_key:
        raise IncidentInputError(f"the {IDEMPOTENCY_HEADER} header is required")
    try:
        alarm_in = InboundAlarmIn.model_validate_json(body or b"{}")
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise IncidentInputError(f"{where}: {first['msg']}") from err
    type_code = alarm_in.type_code or config.default_type
    if config.allowed_types and type_code not in config.allowed_types:
        raise IncidentInputError(f"source {config.id!r} may not raise {type_code!r}")
    key = InboundKey(config.id, idempotency_key, body_digest(body), "", service.now())
    alarm = Alarm(
        type_code=type_code,
        source=AlarmSource.WEBHOOK,
        at=key.at,
        camera_id=CameraId(alarm_in.camera_id) if alarm_in.camera_id else None,
        site_id=SiteId(config.site) if config.site else None,
        location=_position(alarm_in.lat, alarm_in.lon),
        title=alarm_in.title,
        note=alarm_in.note,
        created_by=f"inbound:{config.id}",
        priority=alarm_in.priority,
        inbound_key=key,
    )
    return await run_in_threadpool(_raise_inbound, service, alarm, key)


def _raise_inbound(service: IncidentService, alarm: Alarm, key: InboundKey) -> InboundResultOut:
    for _attempt in range(2):
        stored = service.inbound_key(key.source, key.key)
        if stored is not None:
            if stored.body_sha256 != key.body_sha256:
                raise IdempotencyConflictError(
                    f"{IDEMPOTENCY_HEADER} {key.key!r} was used for a different alarm"
                )
            return InboundResultOut(incident_id=stored.incident_id, created=False, replayed=True)
        try:
            outcome = service.raise_alarm(alarm)
        except DuplicateError:
            continue
        return InboundResultOut(incident_id=outcome.incident_id, created=outcome.created, replayed=False)
    raise IdempotencyConflictError(f"{IDEMPOTENCY_HEADER} {key.key!r} is being processed; retry")


async def _transition_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, InvalidTransitionError):
        raise TypeError(type(exc).__name__)
    body = TransitionErrorOut.model_validate(
        {
            "error": {"code": exc.code, "message": str(exc)},
            "state": exc.state,
            "allowed_actions": list(exc.allowed),
        }
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=409)


async def _status_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, WatchkeeperError):
        raise TypeError(type(exc).__name__)
    status = (
        401
        if isinstance(exc, InboundAuthError)
        else 409
        if isinstance(exc, IdempotencyConflictError)
        else 422
    )
    if isinstance(exc, IncidentsDisabledError):
        status = 503
    return error_response(status, exc.code, str(exc))


def install_incident_errors(app: FastAPI) -> None:
    """Map incident errors: 409 with the allowed actions, 401 for inbound signatures, 422 for bad input."""
    app.add_exception_handler(InvalidTransitionError, _transition_error)
    for kind in (IncidentInputError, InboundAuthError, IdempotencyConflictError, IncidentsDisabledError):
        app.add_exception_handler(kind, _status_error)
