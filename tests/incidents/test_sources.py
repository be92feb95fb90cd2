"""Analytics events over a real local bus become incidents through the configured mappings."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.incidents.conftest import T0, Published, build_service
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import EventMessage, IncidentMessage, SegmentMessage, decode, encode
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.domain import CameraId, Event, EventKind, Rendition
from watchkeeper.domain.incidents import IncidentQuery
from watchkeeper.incidents.feed import IncidentFeed
from watchkeeper.incidents.sources import AlarmSources, AnalyticsAlarms
from watchkeeper.storage.protocols import Store

MAPPINGS = IncidentsConfig.model_validate(
    {
        "analytics": [
            {"type": "VEHICLE_FIRE_LANE", "zone": "fire-lane"},
            {"type": "INTRUSION_AFTER_HOURS", "zone": "fire-lane", "rule": "after-hours"},
            {"type": "GATE_OPEN", "kind": "object", "camera": "a2"},
        ]
    }
)


def _event(event_id: str, kind: EventKind = EventKind.ZONE, camera: str = "a1", **extra: object) -> Event:
    return Event(id=event_id, camera_id=CameraId(camera), kind=kind, start=T0, end=None, score=0.9, **extra)  # type: ignore[arg-type]


def test_the_most_specific_mapping_wins_and_motion_needs_its_own() -> None:
    alarms = AnalyticsAlarms(MAPPINGS.analytics)
    lane = alarms.alarm_for(_event("e1", zone="fire-lane", rule="parked"))
    assert lane is not None
    assert lane.type_code == "VEHICLE_FIRE_LANE"
    assert lane.event_id == "e1"
    night = alarms.alarm_for(_event("e2", zone="fire-lane", rule="after-hours"))
    assert night is not None
    assert night.type_code == "INTRUSION_AFTER_HOURS"
    assert night.correlation_key == "analytics:INTRUSION_AFTER_HOURS:after-hours:a1"
    assert alarms.alarm_for(_event("e3", zone="loading-bay")) is None
    assert alarms.alarm_for(_event("e4", kind=EventKind.MOTION)) is None
    assert (
        AnalyticsAlarms(MAPPINGS.analytics).alarm_for(_event("e5", kind=EventKind.MOTION, camera="a2"))
        is None
    )
    motion = IncidentsConfig.model_validate(
        {"analytics": [{"type": "INTRUSION_AFTER_HOURS", "kind": "motion", "camera": "b1"}]}
    )
    assert (
        AnalyticsAlarms(motion.analytics).alarm_for(_event("e6", kind=EventKind.MOTION, camera="b1"))
        is not None
    )


async def test_events_on_the_bus_open_and_merge_incidents(store: Store) -> None:
    published = Published()
    service = build_service(store, lambda: T0 + timedelta(seconds=5), published, MAPPINGS)
    bus = LocalBus()
    await bus.start()
    feed = IncidentFeed(bus, service, AlarmSources(service, MAPPINGS), tick_s=0.05)
    await feed.start()
    try:
        for index in range(3):
            await bus.publish(
                EventMessage.from_domain(
                    _event(f"obj-{index}", kind=EventKind.OBJECT, camera="a2"), "started"
                )
            )
        await bus.publish(
            EventMessage.from_domain(_event("obj-0", kind=EventKind.OBJECT, camera="a2"), "ended")
        )
        await bus.publish(EventMessage.from_domain(_event("m-1", kind=EventKind.MOTION), "started"))
        for _ in range(100):
            page = service.list(IncidentQuery())
            if page.total and page.items[0].alarm_count == 3:
                break
            await asyncio.sleep(0.05)
    finally:
        await feed.stop()
        await bus.close()
    page = service.list(IncidentQuery())
    assert page.total == 1
    assert (page.items[0].type_code, page.items[0].alarm_count) == ("GATE_OPEN", 3)
    assert service.detail(page.items[0].id).attachments[0].event_id == "obj-0"


def test_incident_messages_round_trip_without_caller_details() -> None:
    message = IncidentMessage.model_validate(
        {
            "change": "created",
            "incident_id": "inc-0123",
            "revision": 1,
            "type_code": "FIRE_SMOKE",
            "category": "safety",
            "title": "Fire",
            "state": "new",
            "priority": "critical",
            "source": "phone",
            "alarm_count": 1,
            "created_at": T0.isoformat(),
            "updated_at": T0.isoformat(),
        }
    )
    assert message.subject == "wk.incidents.inc-0123"
    assert decode(encode(message)) == message
    assert "caller" not in IncidentMessage.model_fields


async def test_segments_and_tamper_events_on_the_bus_raise_equipment_incidents(store: Store) -> None:
    published = Published()
    config = IncidentsConfig(recording_gap_s=10)
    service = build_service(store, lambda: T0 + timedelta(seconds=90), published, config)
    bus = LocalBus()
    await bus.start()
    feed = IncidentFeed(bus, service, AlarmSources(service, config), tick_s=0.05)
    await feed.start()

    def segment(start_s: float, rendition: Rendition = Rendition.ORIGINAL) -> SegmentMessage:
        start = T0 + timedelta(seconds=start_s)
        return SegmentMessage(
            camera_id=CameraId("a1"),
            start=start,
            end=start + timedelta(seconds=4),
            path="a1/x.mp4",
            size_bytes=1,
            rendition=rendition,
        )

    try:
        for start_s in (0, 4, 64):  # 56 s without original footage between the second and the third ...
            await bus.publish(segment(start_s))
            if start_s == 4:  # ... while the protected copy kept coming: still a recording gap
                for protected_s in range(8, 64, 4):
                    await bus.publish(segment(protected_s, Rendition.PROTECTED))
        tamper = _event("t-1", kind=EventKind.TAMPER, camera="b1", rule="covered", label="camera covered")
        await bus.publish(EventMessage.from_domain(tamper, "started"))
        for _ in range(100):
            if service.list(IncidentQuery()).total == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await feed.stop()
        await bus.close()
    by_type = {item.type_code: item for item in service.list(IncidentQuery()).items}
    assert set(by_type) == {"RECORDING_GAP", "CAMERA_TAMPERED"}
    assert by_type["RECORDING_GAP"].camera_ids == ("a1",)
    assert by_type["CAMERA_TAMPERED"].camera_ids == ("b1",)
    assert by_type["CAMERA_TAMPERED"].title == "Camera b1 tampered: camera covered"
