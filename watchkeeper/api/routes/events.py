"""Analysis events."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from watchkeeper.api.deps import StoreDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.routes.params import utc_param
from watchkeeper.api.schemas import EventOut
from watchkeeper.domain import CameraId, NotFoundError

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)


@router.get("/api/events", operation_id="listEvents")
def list_events(
    store: StoreDep,
    camera_id: Annotated[str | None, Query(max_length=63, description="Only this camera.")] = None,
    since: Annotated[
        datetime | None, Query(description="Only events starting at or after (with zone).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")] = 100,
) -> list[EventOut]:
    """Events, newest first."""
    camera = CameraId(camera_id) if camera_id is not None else None
    if camera is not None and store.cameras.get(camera) is None:
        raise NotFoundError(f"no camera with id {camera_id!r}")
    events = store.events.list(camera_id=camera, since=utc_param("since", since), limit=limit)
    return [EventOut.of(event) for event in events]


@router.get("/api/events/{event_id}", operation_id="getEvent")
def get_event(event_id: str, store: StoreDep) -> EventOut:
    """One event."""
    event = store.events.get(event_id)
    if event is None:
        raise NotFoundError(f"no event with id {event_id!r}")
    return EventOut.of(event)
