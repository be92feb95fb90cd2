"""Analysis events."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.analyzers.event_snapshots import event_snapshot_path
from watchkeeper.api.deps import ContextDep, StoreDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Require, camera_access
from watchkeeper.api.routes.params import InvalidQueryError, utc_param
from watchkeeper.api.schemas import EventOut
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import CameraId, EventKind, EventQuery, NotFoundError

router = APIRouter(tags=["events"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

EventViewer = Annotated[Principal, Depends(Require(Permission.VIEW_EVENTS, camera="camera_id"))]


class EventSearchParams(BaseModel):
    """Search filters of ``GET /api/events`` (all optional; every given one must match)."""

    model_config = ConfigDict(extra="forbid")

    camera_id: str | None = Field(default=None, max_length=63, description="Only this camera.")
    site: str | None = Field(default=None, max_length=63, description="Only cameras of this site.")
    since: datetime | None = Field(
        default=None, description="Only events starting at or after (with zone); same as `start`."
    )
    start: datetime | None = Field(default=None, description="Only events starting at or after (with zone).")
    end: datetime | None = Field(default=None, description="Only events starting before (with zone).")
    kind: list[EventKind] = Field(
        default_factory=list, description="Only these kinds (repeat the parameter)."
    )
    object_class: str | None = Field(
        default=None, max_length=200, description="Only this object class, e.g. `car`."
    )
    zone: str | None = Field(default=None, max_length=200, description="Only this zone or line.")
    rule: str | None = Field(default=None, max_length=200, description="Only this rule (tamper: condition).")
    min_score: float | None = Field(
        default=None, ge=0, le=1, description="Only events scoring at least this."
    )
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many, newest first.")


@router.get("/api/events", operation_id="listEvents")
def list_events(
    store: StoreDep, principal: EventViewer, params: Annotated[EventSearchParams, Query()]
) -> list[EventOut]:
    """Events, newest first, filtered by camera, site, time range, kind, class, zone, rule and score."""
    camera = CameraId(params.camera_id) if params.camera_id is not None else None
    if camera is not None and store.cameras.get(camera) is None:
        raise NotFoundError(f"no camera with id {params.camera_id!r}")
    allowed = None
    if params.site is not None:
        if camera is None and not any(site.id == params.site for site in store.sites.list()):
            raise NotFoundError(f"no site with id {params.site!r}")
        cameras = [item for item in store.cameras.list() if item.site_id == params.site]
        allowed = [item.id for item in principal.visible_cameras(cameras, Permission.VIEW_EVENTS)]
    elif camera is None and not principal.sees_everything(Permission.VIEW_EVENTS):
        visible = principal.visible_cameras(store.cameras.list(), Permission.VIEW_EVENTS)
        allowed = [item.id for item in principal.visible_cameras(visible)]
    since = utc_param("start", params.start) or utc_param("since", params.since)
    query = EventQuery(
        until=utc_param("end", params.end),
        kinds=tuple(params.kind),
        object_class=params.object_class,
        zone=params.zone,
        rule=params.rule,
        min_score=params.min_score,
    )
    if since is not None and query.until is not None and query.until <= since:
        raise InvalidQueryError("end must be after start")
    events = store.events.list(
        camera_id=camera, since=since, limit=params.limit, camera_ids=allowed, query=query
    )
    return [EventOut.of(event) for event in events]


@router.get("/api/events/{event_id}", operation_id="getEvent")
def get_event(event_id: str, store: StoreDep, principal: EventViewer) -> EventOut:
    """One event."""
    event = store.events.get(event_id)
    missing = f"no event with id {event_id!r}"
    if event is None:
        raise NotFoundError(missing)
    camera = store.cameras.get(event.camera_id)
    camera_access(principal, camera, event.camera_id, Permission.VIEW_EVENTS, missing)
    return EventOut.of(event)


class NoEventSnapshotError(NotFoundError):
    """The event has no snapshot (motion and tamper events, or none was written)."""

    code = "no_snapshot"


@router.get(
    "/api/events/{event_id}/snapshot.jpg",
    operation_id="getEventSnapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The event's redacted best frame"}},
)
def event_snapshot(event_id: str, context: ContextDep, principal: EventViewer) -> Response:
    """The event's best frame, people blurred (JPEG, analysis size)."""
    store = context.store
    event = store.events.get(event_id)
    missing = f"no event with id {event_id!r}"
    if event is None:
        raise NotFoundError(missing)
    camera = store.cameras.get(event.camera_id)
    camera_access(principal, camera, event.camera_id, Permission.VIEW_EVENTS, missing)
    try:
        data = event_snapshot_path(context.media_root, event.camera_id, event.id).read_bytes()
    except (OSError, ValueError) as err:
        raise NoEventSnapshotError(f"event {event_id!r} has no snapshot") from err
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
