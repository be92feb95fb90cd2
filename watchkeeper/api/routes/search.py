"""Event search for the console: by camera, site, time, class, zone, rule, incident type and map area.

A map area (a ``bbox`` or a ``polygon`` of latitude/longitude points) selects the cameras placed inside it;
cameras without a map position are never inside an area. An incident type selects the events attached to
incidents of that type. There is deliberately no filter on a person's appearance or attributes: events carry
generic object classes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.api.deps import StoreDep
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, Require
from watchkeeper.api.routes.params import InvalidQueryError, utc_param
from watchkeeper.api.schemas import EventOut
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import Camera, CameraId, Event, EventKind, EventQuery, NotFoundError
from watchkeeper.domain.incidents import IncidentQuery
from watchkeeper.storage.protocols import Store

router = APIRouter(tags=["events"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

Searcher = Annotated[Principal, Depends(Require(Permission.VIEW_EVENTS))]

MAX_POLYGON_POINTS = 200
MAX_TYPE_INCIDENTS = 200
"""Most incidents of one type whose attached events a search looks at (newest first)."""


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A latitude/longitude pair in degrees."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class MapArea:
    """A polygon on the map (a bounding box is a four-point polygon)."""

    points: tuple[GeoPoint, ...]

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            raise ValueError(f"an area needs at least 3 points, got {len(self.points)}")

    def contains(self, lat: float, lon: float) -> bool:
        """True when the point is inside the polygon (even-odd rule; points on an edge may go either way)."""
        inside = False
        points = self.points
        previous = points[-1]
        for point in points:
            if (point.lat > lat) != (previous.lat > lat):
                crossing = point.lon + (lat - point.lat) * (previous.lon - point.lon) / (
                    previous.lat - point.lat
                )
                if lon < crossing:
                    inside = not inside
            previous = point
        return inside


def _numbers(name: str, text: str) -> list[float]:
    try:
        return [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError as err:
        raise InvalidQueryError(f"{name}: expected numbers separated by commas, got {text[:60]!r}") from err


def _point(name: str, lat: float, lon: float) -> GeoPoint:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidQueryError(f"{name}: latitude must be within [-90, 90] and longitude within [-180, 180]")
    return GeoPoint(lat, lon)


def parse_bbox(text: str) -> MapArea:
    """``south,west,north,east`` in degrees to an area.

    Raises:
        InvalidQueryError: Not four numbers, out of range, or south above north / west east of east.
    """
    values = _numbers("bbox", text)
    if len(values) != 4:
        raise InvalidQueryError(f"bbox: expected south,west,north,east (4 numbers), got {len(values)}")
    south, west, north, east = values
    if south >= north or west >= east:
        raise InvalidQueryError("bbox: south must be below north and west left of east")
    corners = ((south, west), (south, east), (north, east), (north, west))
    return MapArea(tuple(_point("bbox", lat, lon) for lat, lon in corners))


def parse_polygon(text: str) -> MapArea:
    """``lat,lon;lat,lon;...`` (at least 3 points) to an area.

    Raises:
        InvalidQueryError: Fewer than 3 points, an odd count of numbers, too many points, out of range.
    """
    values = _numbers("polygon", text)
    if len(values) % 2:
        raise InvalidQueryError("polygon: expected lat,lon pairs separated by ';'")
    if not 3 <= len(values) // 2 <= MAX_POLYGON_POINTS:
        raise InvalidQueryError(f"polygon: expected 3 to {MAX_POLYGON_POINTS} points, got {len(values) // 2}")
    return MapArea(tuple(_point("polygon", values[i], values[i + 1]) for i in range(0, len(values), 2)))


def cameras_in(cameras: Sequence[Camera], area: MapArea) -> list[Camera]:
    """The cameras placed inside ``area`` (unplaced cameras never are)."""
    return [c for c in cameras if c.position is not None and area.contains(c.position.lat, c.position.lon)]


class EventSearchQuery(BaseModel):
    """Filters of ``GET /api/search/events`` (all optional; every given one must match)."""

    model_config = ConfigDict(extra="forbid")

    camera_id: list[str] = Field(
        default_factory=list, description="Only these cameras (repeat the parameter)."
    )
    site: str | None = Field(default=None, max_length=63, description="Only cameras of this site.")
    start: datetime | None = Field(default=None, description="Only events starting at or after (with zone).")
    end: datetime | None = Field(default=None, description="Only events starting before (with zone).")
    kind: list[EventKind] = Field(
        default_factory=list, description="Only these kinds (repeat the parameter)."
    )
    object_class: str | None = Field(default=None, max_length=200, description="Only this object class.")
    zone: str | None = Field(default=None, max_length=200, description="Only this zone or line.")
    rule: str | None = Field(default=None, max_length=200, description="Only this rule.")
    incident_type: str | None = Field(
        default=None, max_length=64, description="Only events attached to incidents of this type code."
    )
    bbox: str | None = Field(
        default=None,
        max_length=200,
        description="Map area `south,west,north,east`: cameras placed inside it.",
    )
    polygon: str | None = Field(
        default=None,
        max_length=8000,
        description="Map area `lat,lon;lat,lon;...` (3+ points): cameras inside.",
    )
    limit: int = Field(default=100, ge=1, le=500, description="At most this many, newest first.")


class EventSearchOut(BaseModel):
    """Events found, newest first, and the cameras the search covered."""

    events: list[EventOut]
    camera_ids: list[str] = Field(description="Cameras searched (after camera, site, area and rights).")
    truncated: bool = Field(description="More events matched than `limit`.")


def _scope(store: Store, principal: Principal, params: EventSearchQuery) -> list[Camera]:
    # Cameras the user may not see are treated as missing: a search never reveals that they exist.
    cameras = principal.visible_cameras(
        principal.visible_cameras(store.cameras.list()), Permission.VIEW_EVENTS
    )
    if params.camera_id:
        known = {c.id for c in cameras}
        missing = [c for c in params.camera_id if c not in known]
        if missing:
            raise NotFoundError(f"no camera with id {missing[0]!r}")
        cameras = [c for c in cameras if c.id in params.camera_id]
    if params.site is not None:
        if not any(site.id == params.site for site in store.sites.list()):
            raise NotFoundError(f"no site with id {params.site!r}")
        cameras = [c for c in cameras if c.site_id == params.site]
    if params.bbox is not None and params.polygon is not None:
        raise InvalidQueryError("give either bbox or polygon, not both")
    if params.bbox is not None:
        cameras = cameras_in(cameras, parse_bbox(params.bbox))
    elif params.polygon is not None:
        cameras = cameras_in(cameras, parse_polygon(params.polygon))
    return cameras


def _matches(event: Event, since: datetime | None, query: EventQuery) -> bool:
    return (
        (since is None or event.start >= since)
        and (query.until is None or event.start < query.until)
        and (not query.kinds or event.kind in query.kinds)
        and (query.object_class is None or event.object_class == query.object_class)
        and (query.zone is None or event.zone == query.zone)
        and (query.rule is None or event.rule == query.rule)
    )


def _incident_events(store: Store, type_code: str, cameras: set[CameraId]) -> list[Event]:
    page = store.incidents.list(
        IncidentQuery(
            type_codes=frozenset({type_code}), camera_ids=frozenset(cameras), limit=MAX_TYPE_INCIDENTS
        )
    )
    found: dict[str, Event] = {}
    for incident in page.items:
        detail = store.incidents.detail(incident.id)
        for attachment in detail.attachments if detail is not None else ():
            event = store.events.get(attachment.event_id)
            if event is not None and event.camera_id in cameras:
                found[event.id] = event
    return sorted(found.values(), key=lambda event: event.start, reverse=True)


@router.get("/api/search/events", operation_id="searchEvents")
def search_events(
    store: StoreDep, principal: Searcher, params: Annotated[EventSearchQuery, Query()]
) -> EventSearchOut:
    """Events of the cameras chosen by camera, site and map area, filtered by time, class, zone and more.

    Also by rule, kind and incident type; newest first, each with its redacted snapshot URL where it has one.
    """
    cameras = _scope(store, principal, params)
    since, until = utc_param("start", params.start), utc_param("end", params.end)
    if since is not None and until is not None and until <= since:
        raise InvalidQueryError("end must be after start")
    query = EventQuery(
        until=until,
        kinds=tuple(params.kind),
        object_class=params.object_class,
        zone=params.zone,
        rule=params.rule,
    )
    ids = [c.id for c in cameras]
    if not ids:
        events: list[Event] = []
    elif params.incident_type is not None:
        events = [
            e for e in _incident_events(store, params.incident_type, set(ids)) if _matches(e, since, query)
        ]
        events = events[: params.limit + 1]
    else:
        events = list(store.events.list(since=since, limit=params.limit + 1, camera_ids=ids, query=query))
    return EventSearchOut(
        events=[EventOut.of(event) for event in events[: params.limit]],
        camera_ids=list(ids),
        truncated=len(events) > params.limit,
    )
