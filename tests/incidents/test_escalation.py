"""Escalation with a fake clock: ladders per priority, repeats, quiet hours, every escalation recorded."""

from __future__ import annotations

from datetime import timedelta

from tests.incidents.conftest import T0, Clock, Published, build_service
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.domain import CameraId
from watchkeeper.domain.incidents import AlarmSource, IncidentAction, Priority
from watchkeeper.incidents.service import Alarm, IncidentService
from watchkeeper.storage.protocols import Store

LADDERS = {
    "escalation": [
        {
            "priority": "critical",
            "steps": [{"after_s": 60, "group": "supervisors"}, {"after_s": 120, "group": "managers"}],
        },
        {"priority": "medium", "steps": [{"after_s": 300, "group": "supervisors"}]},
    ],
}


def _raise(
    service: IncidentService, type_code: str, camera: str = "a1", priority: Priority | None = None
) -> str:
    alarm = Alarm(
        type_code=type_code,
        source=AlarmSource.OPERATOR,
        at=service.now(),
        camera_id=CameraId(camera),
        priority=priority,
    )
    return service.raise_alarm(alarm).incident_id


def test_unacknowledged_incidents_escalate_step_by_step(
    store: Store, clock: Clock, published: Published
) -> None:
    service = build_service(store, clock, published, IncidentsConfig.model_validate(LADDERS))
    incident_id = _raise(service, "FIRE_SMOKE")
    assert service.get(incident_id).next_escalation_at == T0 + timedelta(seconds=60)

    clock.advance(59)
    assert service.escalate_due() == 0
    clock.advance(1)
    assert service.escalate_due() == 1
    assert service.escalate_due() == 0  # not twice for the same step
    clock.advance(119)
    assert service.escalate_due() == 0
    clock.advance(1)
    assert service.escalate_due() == 1
    clock.advance(3600)
    assert service.escalate_due() == 0  # the ladder is exhausted

    detail = service.detail(incident_id)
    assert [(e.level, e.group, e.at) for e in detail.escalations] == [
        (1, "supervisors", T0 + timedelta(seconds=60)),
        (2, "managers", T0 + timedelta(seconds=180)),
    ]
    assert detail.incident.escalation_level == 2
    assert detail.incident.next_escalation_at is None
    escalated = [m for m in published.messages if m.change == "escalated"]
    assert [m.escalated_to for m in escalated] == ["supervisors", "managers"]


def test_acknowledging_stops_escalation(store: Store, clock: Clock, published: Published) -> None:
    service = build_service(store, clock, published, IncidentsConfig.model_validate(LADDERS))
    incident_id = _raise(service, "FIRE_SMOKE")
    clock.advance(30)
    service.transition(incident_id, IncidentAction.ACKNOWLEDGE, "alice")
    clock.advance(600)
    assert service.escalate_due() == 0
    assert service.detail(incident_id).escalations == ()


def test_low_priorities_without_a_ladder_never_escalate(
    store: Store, clock: Clock, published: Published
) -> None:
    service = build_service(store, clock, published, IncidentsConfig.model_validate(LADDERS))
    incident_id = _raise(service, "RECORDING_GAP")
    clock.advance(86400)
    assert service.escalate_due() == 0
    assert service.get(incident_id).next_escalation_at is None


def test_quiet_hours_hold_back_less_urgent_incidents_until_they_end(
    store: Store, clock: Clock, published: Published
) -> None:
    quiet = {
        **LADDERS,
        "quiet_hours": [
            {
                "site": "a",
                "start": "08:00",
                "end": "12:00",
                "timezone": "Europe/London",
                "escalate_at_or_above": "critical",
            }
        ],
    }
    service = build_service(store, clock, published, IncidentsConfig.model_validate(quiet))
    medium_a = _raise(service, "GATE_OPEN")  # site a: quiet from 08:00 to 12:00 London (= UTC in March)
    medium_b = _raise(service, "GATE_OPEN", camera="b1")  # site b: no quiet hours
    critical_a = _raise(service, "FIRE_SMOKE")

    clock.advance(300)
    assert service.escalate_due() == 2  # critical on a (urgent enough) and medium on b
    assert service.detail(medium_a).escalations == ()
    assert service.get(medium_a).next_escalation_at == T0.replace(hour=12)
    assert len(service.detail(medium_b).escalations) == 1
    assert len(service.detail(critical_a).escalations) == 1

    clock.now = T0.replace(hour=12)
    assert service.escalate_due() >= 1
    assert [e.group for e in service.detail(medium_a).escalations] == ["supervisors"]


def test_quiet_hours_over_midnight_on_chosen_days(store: Store, clock: Clock, published: Published) -> None:
    quiet = {
        **LADDERS,
        "quiet_hours": [
            {"site": "a", "start": "22:00", "end": "06:00", "days": [6], "escalate_at_or_above": "high"}
        ],
    }
    clock.now = T0 - timedelta(hours=8)  # Monday 01:00 UTC, inside Sunday night's quiet hours
    service = build_service(store, clock, published, IncidentsConfig.model_validate(quiet))
    incident_id = _raise(service, "GATE_OPEN")
    clock.advance(300)
    assert service.escalate_due() == 0
    assert service.get(incident_id).next_escalation_at == T0.replace(hour=6)


def test_raising_the_priority_follows_the_new_ladder(
    store: Store, clock: Clock, published: Published
) -> None:
    service = build_service(store, clock, published, IncidentsConfig.model_validate(LADDERS))
    incident_id = _raise(service, "RECORDING_GAP")
    service.set_priority(incident_id, Priority.CRITICAL, "alice")
    clock.advance(60)
    assert service.escalate_due() == 1
