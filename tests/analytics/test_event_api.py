"""``GET /api/events`` search filters and ``GET /api/events/{id}/snapshot.jpg``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.analytics.conftest import T0
from tests.auth.support import admin_headers, fast_passwords
from watchkeeper.analyzers.event_snapshots import EventSnapshotStore
from watchkeeper.api.app import create_app
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.bus.local import LocalBus
from watchkeeper.domain import Camera, CameraId, Event, EventKind, Site, SiteId
from watchkeeper.storage.factory import open_store


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("events")
    store = open_store(f"sqlite:///{folder / 'wk.db'}")
    for site in ("north", "south"):
        store.sites.upsert(Site(SiteId(site), site))
    store.cameras.upsert(Camera(CameraId("gate"), "Gate", SiteId("north")))
    store.cameras.upsert(Camera(CameraId("dock"), "Dock", SiteId("south")))
    t, s = T0, timedelta(seconds=1)
    events = [
        Event("car-lane", CameraId("gate"), EventKind.ZONE, t, t + 5 * s, 0.8, "car entered lane",
              rule="lane-enter", zone="lane", object_class="car", track_id=3, best_at=t + s),
        Event("truck-dock", CameraId("dock"), EventKind.ZONE, t + 10 * s, None, 0.5, "truck",
              rule="dock-dwell", zone="bay", object_class="truck", track_id=4),
        Event("motion", CameraId("gate"), EventKind.MOTION, t + 20 * s, t + 21 * s,
              0.3, "motion"),
        Event("covered", CameraId("dock"), EventKind.TAMPER, t + 30 * s, None, 0.95,
              "camera covered", rule="covered"),
    ]  # fmt: skip
    for event in events:
        store.events.upsert(event)
    media_root = folder / "media"
    frame = np.full((90, 160, 3), 120, np.uint8)
    EventSnapshotStore(media_root).write(CameraId("gate"), "car-lane", frame)
    context = AppContext(
        store=store,
        bus=LocalBus(),
        media_root=media_root,
        statuses=StatusBoard([CameraId("gate"), CameraId("dock")]),
        hub=LiveHub(),
        passwords=fast_passwords(),
    )
    yield TestClient(create_app(context), headers=admin_headers(store))
    store.close()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["covered", "motion", "truck-dock", "car-lane"]),
        ({"camera_id": "gate"}, ["motion", "car-lane"]),
        ({"site": "south"}, ["covered", "truck-dock"]),
        ({"object_class": "car"}, ["car-lane"]),
        ({"zone": "bay"}, ["truck-dock"]),
        ({"rule": "covered"}, ["covered"]),
        ({"min_score": 0.8}, ["covered", "car-lane"]),
        ({"kind": ["motion", "tamper"]}, ["covered", "motion"]),
        ({"start": at(10), "end": at(30)}, ["motion", "truck-dock"]),
        ({"since": at(20)}, ["covered", "motion"]),
        ({"site": "north", "kind": "zone", "min_score": 0.5}, ["car-lane"]),
        ({"limit": 1}, ["covered"]),
    ],
)
def test_event_search_filters(client: TestClient, params: dict[str, object], expected: list[str]) -> None:
    response = client.get("/api/events", params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert [event["id"] for event in response.json()] == expected


def test_events_carry_their_details_snapshot_and_clip_links(client: TestClient) -> None:
    event = client.get("/api/events/car-lane").json()
    assert event["object_class"] == "car"
    assert event["zone"] == "lane"
    assert event["track_id"] == 3
    assert event["snapshot_url"] == "/api/events/car-lane/snapshot.jpg"
    assert event["clip_url"].startswith("/api/cameras/gate/clip.mp4?start=")
    assert client.get("/api/events/truck-dock").json()["clip_url"] is None, "open events have no clip yet"


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"camera_id": "nope"}, 404, "not_found"),
        ({"site": "nope"}, 404, "not_found"),
        ({"min_score": 2}, 422, None),
        ({"kind": "crowd"}, 422, None),
        ({"start": at(30), "end": at(10)}, 400, "invalid_request"),
        ({"start": "2026-11-25T12:00:00"}, 400, "invalid_request"),
    ],
)
def test_bad_searches_are_rejected(
    client: TestClient, params: dict[str, object], status: int, code: str | None
) -> None:
    response = client.get("/api/events", params=params)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"]["code"] == code


def test_snapshot_is_served_as_jpeg_and_missing_ones_are_404(client: TestClient) -> None:
    response = client.get("/api/events/car-lane/snapshot.jpg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content[:2] == b"\xff\xd8"
    assert client.get("/api/events/truck-dock/snapshot.jpg").json()["error"]["code"] == "no_snapshot"
    assert client.get("/api/events/unknown/snapshot.jpg").status_code == 404
    assert client.get("/api/events/..%2F..%2Fetc/snapshot.jpg").status_code == 404


def test_snapshot_path_refuses_ids_that_could_escape(tmp_path: Path) -> None:
    from watchkeeper.analyzers.event_snapshots import event_snapshot_path

    with pytest.raises(ValueError, match="not a valid event id"):
        event_snapshot_path(tmp_path, CameraId("gate"), "../x")
