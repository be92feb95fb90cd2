"""Event search by camera, site, time, class, zone, rule, incident type and map area (real SQLite store)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.auth.support import admin_headers, fast_passwords, user_token
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.api.routes.search import parse_bbox, parse_polygon
from watchkeeper.auth.models import RoleGrant
from watchkeeper.bus.local import LocalBus
from watchkeeper.config.server import RateLimitConfig, ServerConfig
from watchkeeper.domain import Camera, CameraId, Event, EventKind, Site, SiteId
from watchkeeper.domain.camera import MapPosition
from watchkeeper.domain.incidents import (
    AlarmSource,
    Attachment,
    Incident,
    IncidentCategory,
    IncidentState,
    Priority,
)
from watchkeeper.storage.factory import open_store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# north: inside the 52.20..52.21 box; south: outside it; attic: never placed on the map; far: another site
CAMERAS = {
    "north": (SiteId("a"), MapPosition(52.205, 0.12)),
    "south": (SiteId("a"), MapPosition(52.100, 0.12)),
    "attic": (SiteId("a"), None),
    "far": (SiteId("b"), MapPosition(52.206, 0.121)),
}


def _event(event_id: str, camera: str, minutes: int, object_class: str = "car", zone: str = "gate") -> Event:
    return Event(
        event_id,
        CameraId(camera),
        EventKind.OBJECT,
        T0 + timedelta(minutes=minutes),
        T0 + timedelta(minutes=minutes, seconds=5),
        0.9,
        label=object_class,
        rule="enter-gate",
        zone=zone,
        object_class=object_class,
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder: Path = tmp_path_factory.mktemp("search")
    store = open_store(f"sqlite:///{folder / 'wk.db'}")
    for site in ("a", "b"):
        store.sites.upsert(Site(SiteId(site), f"Site {site}"))
    for camera, (site, position) in CAMERAS.items():
        store.cameras.upsert(Camera(CameraId(camera), camera.title(), site, position=position))
    events = [
        _event("n-car", "north", 1),
        _event("n-truck", "north", 2, "truck"),
        _event("n-car-dock", "north", 3, zone="dock"),
        _event("s-car", "south", 4),
        _event("a-car", "attic", 5),
        _event("f-car", "far", 6),
    ]
    for event in events:
        store.events.upsert(event)
    incident = store.incidents.add(
        Incident(
            "inc-1",
            "FIRE",
            IncidentCategory.SAFETY,
            "Smoke at the gate",
            IncidentState.NEW,
            Priority.HIGH,
            AlarmSource.ANALYTICS,
            T0,
            T0,
            site_id=SiteId("a"),
            camera_ids=(CameraId("north"),),
        ),
        (),
    )
    store.incidents.update(
        replace(incident, revision=incident.revision + 1),
        incident.revision,
        Attachment("n-truck", "system", T0),
    )
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=folder / "media",
        statuses=StatusBoard([CameraId(c) for c in CAMERAS]),
        hub=LiveHub(),
        passwords=fast_passwords(),
    )
    # many searches in a row: lift the per-client rate limit of expensive endpoints for this module
    limits = RateLimitConfig(expensive_burst=1000, expensive_per_minute=60000)
    app = create_app(context, ServerConfig(rate_limits=limits))
    test_client = TestClient(app, headers=admin_headers(store))
    test_client.app_state = {"store": store}  # type: ignore[attr-defined]
    yield test_client
    store.close()


def _ids(client: TestClient, **params: object) -> list[str]:
    response = client.get("/api/search/events", params=params)
    assert response.status_code == 200, response.text
    return [event["id"] for event in response.json()["events"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"object_class": "car"}, ["f-car", "a-car", "s-car", "n-car-dock", "n-car"]),
        ({"object_class": "car", "site": "a"}, ["a-car", "s-car", "n-car-dock", "n-car"]),
        ({"camera_id": ["north", "south"], "zone": "gate"}, ["s-car", "n-truck", "n-car"]),
        ({"bbox": "52.2,0.1,52.21,0.13"}, ["f-car", "n-car-dock", "n-truck", "n-car"]),
        ({"bbox": "52.2,0.1,52.21,0.13", "site": "a", "object_class": "car"}, ["n-car-dock", "n-car"]),
        ({"polygon": "52.0,0.0;52.3,0.0;52.15,0.5"}, ["f-car", "s-car", "n-car-dock", "n-truck", "n-car"]),
        ({"incident_type": "FIRE"}, ["n-truck"]),
        ({"incident_type": "FLOOD"}, []),
        (
            {
                "start": (T0 + timedelta(minutes=2)).isoformat(),
                "end": (T0 + timedelta(minutes=4)).isoformat(),
            },
            ["n-car-dock", "n-truck"],
        ),
        ({"rule": "enter-gate", "limit": 2}, ["f-car", "a-car"]),
    ],
)
def test_search_filters(client: TestClient, params: dict[str, object], expected: list[str]) -> None:
    assert _ids(client, **params) == expected


def test_results_carry_thumbnails_the_cameras_searched_and_truncation(client: TestClient) -> None:
    body = client.get("/api/search/events", params={"bbox": "52.2,0.1,52.21,0.13", "limit": 1}).json()
    assert sorted(body["camera_ids"]) == ["far", "north"]  # attic has no position: never inside an area
    assert body["truncated"] is True
    assert body["events"][0]["snapshot_url"] == "/api/events/f-car/snapshot.jpg"


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"bbox": "1,2,3"}, 400, "4 numbers"),
        ({"bbox": "52.3,0,52.2,1"}, 400, "south must be below north"),
        ({"bbox": "a,b,c,d"}, 400, "expected numbers"),
        ({"polygon": "52,0;53,1"}, 400, "3 to 200 points"),
        ({"polygon": "52,0;53,1;99,1"}, 400, "latitude must be within"),
        ({"bbox": "52.2,0.1,52.21,0.13", "polygon": "52,0;53,1;52,1"}, 400, "either bbox or polygon"),
        ({"camera_id": "nope"}, 404, "no camera"),
        ({"site": "nope"}, 404, "no site"),
        ({"start": "2026-03-01T12:05:00Z", "end": "2026-03-01T12:00:00Z"}, 400, "end must be after start"),
        ({"start": "2026-03-01T12:05:00"}, 400, "time zone"),
        ({"face": "beard"}, 422, ""),
    ],
)
def test_bad_searches_get_typed_errors(
    client: TestClient, params: dict[str, str], status: int, message: str
) -> None:
    response = client.get("/api/search/events", params=params)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


def test_a_camera_scoped_user_only_finds_events_of_their_cameras(client: TestClient) -> None:
    store = client.app_state["store"]  # type: ignore[attr-defined]
    token = user_token(store, "north-viewer", RoleGrant("viewer", cameras=frozenset({CameraId("north")})))
    response = client.get(
        "/api/search/events", params={"object_class": "car"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert [event["id"] for event in response.json()["events"]] == ["n-car-dock", "n-car"]
    hidden = client.get(
        "/api/search/events", params={"camera_id": "south"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert hidden.status_code == 404  # a camera they may not see is as missing as one that does not exist
    assert hidden.json()["error"]["message"] == "no camera with id 'south'"


def test_area_parsing_builds_closed_polygons() -> None:
    box = parse_bbox("52.2,0.1,52.21,0.13")
    assert box.contains(52.205, 0.12)
    assert not box.contains(52.3, 0.12)
    triangle = parse_polygon("0,0;0,10;10,0")
    assert triangle.contains(1, 1)
    assert not triangle.contains(9, 9)
