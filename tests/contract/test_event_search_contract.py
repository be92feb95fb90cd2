"""Event details and event search on every ``Store`` backend (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.domain import CameraId, Event, EventKind, EventQuery
from watchkeeper.storage.protocols import Store

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
CAM = CameraId("gate-north")
OTHER = CameraId("dock-east")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def zone_event(event_id: str, start_s: float, **details: object) -> Event:
    values: dict[str, object] = {
        "rule": "lane-enter",
        "zone": "fire-lane",
        "object_class": "car",
        "track_id": 7,
        "best_at": at(start_s + 1),
        "score": 0.8,
        "camera_id": CAM,
    } | details
    return Event(
        id=event_id,
        camera_id=values.pop("camera_id"),  # type: ignore[arg-type]
        kind=EventKind.ZONE,
        start=at(start_s),
        end=at(start_s + 5),
        label="car entered fire-lane",
        **values,  # type: ignore[arg-type]
    )


def test_event_details_round_trip(store: Store) -> None:
    crossing = Event(
        "x1", CAM, EventKind.ZONE, at(0), at(0), 0.7, "person crossed door (in)",
        rule="door-in", zone="door", object_class="person", track_id=2**40, best_at=at(0), direction="in",
    )  # fmt: skip
    count = Event(
        "c1", CAM, EventKind.ZONE, at(10), None, 0.6, "3 car in lane", rule="too-many", zone="lane",
        object_class="car,truck", object_count=3, best_at=at(12),
    )  # fmt: skip
    tamper = Event("t1", CAM, EventKind.TAMPER, at(20), at(30), 0.9, "camera covered", rule="covered")
    for event in (crossing, count, tamper):
        store.events.upsert(event)
        assert store.events.get(event.id) == event
    stored = store.events.get("c1")
    assert stored is not None
    assert stored.best_at == at(12)
    assert stored.best_at.tzinfo is not None


def test_event_search_filters(store: Store) -> None:
    store.events.upsert(zone_event("car-lane", 0))
    store.events.upsert(zone_event("truck-lane", 10, object_class="truck", score=0.5))
    store.events.upsert(zone_event("car-door", 20, zone="door", rule="door-enter", score=0.95))
    store.events.upsert(zone_event("other-cam", 30, camera_id=OTHER))
    store.events.upsert(Event("motion", CAM, EventKind.MOTION, at(40), at(41), 0.3, "motion"))
    store.events.upsert(Event("covered", CAM, EventKind.TAMPER, at(50), None, 0.9, "covered", rule="covered"))

    def ids(query: EventQuery, camera: CameraId | None = None) -> list[str]:
        return [event.id for event in store.events.list(camera, query=query)]

    assert ids(EventQuery(object_class="car")) == ["other-cam", "car-door", "car-lane"]
    assert ids(EventQuery(object_class="car"), CAM) == ["car-door", "car-lane"]
    assert ids(EventQuery(zone="door")) == ["car-door"]
    assert ids(EventQuery(rule="lane-enter", min_score=0.6)) == ["other-cam", "car-lane"]
    assert ids(EventQuery(min_score=0.9)) == ["covered", "car-door"]
    assert ids(EventQuery(kinds=(EventKind.TAMPER, EventKind.MOTION))) == ["covered", "motion"]
    assert ids(EventQuery(until=at(20))) == ["truck-lane", "car-lane"]
    since = store.events.list(since=at(10), query=EventQuery(until=at(30), object_class="car"))
    assert [event.id for event in since] == ["car-door"]
    assert ids(EventQuery(zone="nowhere")) == []


def test_event_query_rejects_a_score_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="min_score"):
        EventQuery(min_score=1.5)
