"""The incident service over real stores (SQLite and PostgreSQL): alarms, correlation, workflow, records."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.incidents.conftest import T0, Clock, Published, build_service
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.domain import CameraId, ConflictError, DuplicateError, SiteId
from watchkeeper.domain.incidents import (
    AlarmSource,
    Assignee,
    InboundKey,
    IncidentAction,
    IncidentQuery,
    IncidentState,
    Priority,
    SopStepState,
)
from watchkeeper.incidents.crypto import CallerContact, CallerVault, load_or_create_key
from watchkeeper.incidents.errors import (
    CallerKeyError,
    IncidentInputError,
    IncidentNotFoundError,
    InvalidTransitionError,
    UnknownIncidentTypeError,
)
from watchkeeper.incidents.service import Alarm, IncidentService
from watchkeeper.storage.protocols import Store


def _alarm(at_s: float = 0, camera: str = "a1", key: str | None = "rule:gate:a1", **extra: object) -> Alarm:
    from datetime import timedelta

    return Alarm(
        type_code=str(extra.pop("type_code", "GATE_OPEN")),
        source=AlarmSource.ANALYTICS,
        at=T0 + timedelta(seconds=at_s),
        camera_id=CameraId(camera),
        correlation_key=key,
        **extra,  # type: ignore[arg-type]
    )


def test_full_lifecycle_on_each_backend(
    any_store: Store, clock: Clock, published: Published, tmp_path: Path
) -> None:
    service = build_service(any_store, clock, published, key_dir=tmp_path)
    outcome = service.raise_alarm(_alarm(note="seen on a1", event_id="ev-1"))
    assert outcome.created
    incident = service.get(outcome.incident_id)
    assert (incident.site_id, incident.camera_ids, incident.state) == (
        SiteId("a"),
        (CameraId("a1"),),
        IncidentState.NEW,
    )
    assert incident.next_escalation_at is None  # medium priority has no ladder by default

    clock.advance(5)
    service.transition(incident.id, IncidentAction.ACKNOWLEDGE, "alice")
    service.assign(incident.id, Assignee(user="bob"), "alice")
    service.set_priority(incident.id, Priority.HIGH, "bob")
    service.sop_step(incident.id, 0, "bob")
    service.sop_step(incident.id, 1, "bob", skip_reason="gate already closed")
    service.transition(incident.id, IncidentAction.START, "bob")
    service.transition(incident.id, IncidentAction.RESOLVE, "bob", "closed the gate")
    closed = service.transition(incident.id, IncidentAction.CLOSE, "carol")

    detail = service.detail(incident.id)
    assert closed.state is IncidentState.CLOSED
    assert [(t.action, t.actor) for t in detail.transitions] == [
        (IncidentAction.ACKNOWLEDGE, "alice"),
        (IncidentAction.START, "bob"),
        (IncidentAction.RESOLVE, "bob"),
        (IncidentAction.CLOSE, "carol"),
    ]
    assert all(t.at == T0.replace(second=5) for t in detail.transitions)
    assert [step.state for step in detail.sop] == [SopStepState.DONE, SopStepState.SKIPPED]
    assert detail.sop[1].reason == "gate already closed"
    assert detail.attachments[0].event_id == "ev-1"
    assert [note.text for note in detail.notes][:2] == ["seen on a1", "assigned to user bob"]
    assert detail.incident.owner == "bob"
    assert detail.incident.priority is Priority.HIGH
    assert detail.incident.resolution == "closed the gate"
    assert published.changes(incident.id)[0] == "created"
    assert [m.revision for m in published.messages] == sorted(m.revision for m in published.messages)


def test_listing_filters_and_pages(any_store: Store, clock: Clock, published: Published) -> None:
    service = build_service(any_store, clock, published)
    ids = [
        service.raise_alarm(_alarm(at_s=i, camera=cam, key=None)).incident_id
        for i, cam in enumerate(["a1", "a2", "b1"])
    ]
    service.raise_alarm(_alarm(at_s=10, camera="b1", key=None, type_code="FIRE_SMOKE"))
    service.transition(ids[0], IncidentAction.ACKNOWLEDGE, "alice")

    everything = service.list(IncidentQuery(limit=2))
    assert everything.total == 4
    assert len(everything.items) == 2
    assert everything.items[0].type_code == "FIRE_SMOKE"  # newest first
    assert service.list(IncidentQuery(limit=2, offset=2)).items[-1].id == ids[0]
    assert {
        i.id for i in service.list(IncidentQuery(states=frozenset({IncidentState.ACKNOWLEDGED}))).items
    } == {ids[0]}
    assert service.list(IncidentQuery(site_ids=frozenset({SiteId("b")}))).total == 2
    assert service.list(IncidentQuery(camera_ids=frozenset({CameraId("a2")}))).items[0].id == ids[1]
    assert service.list(IncidentQuery(priorities=frozenset({Priority.CRITICAL}))).total == 1
    assert service.list(IncidentQuery(owner="alice")).total == 1
    assert service.list(IncidentQuery(since=T0.replace(second=2), until=T0.replace(second=5))).total == 1
    visible = IncidentQuery(
        visible_sites=frozenset({SiteId("a")}), visible_cameras=frozenset({CameraId("b1")})
    )
    assert service.list(visible).total == 4
    only_a = IncidentQuery(visible_sites=frozenset({SiteId("a")}), visible_cameras=frozenset())
    assert service.list(only_a).total == 2


def test_correlation_merges_within_the_window_and_opens_anew_after(
    store: Store, clock: Clock, published: Published
) -> None:
    service = build_service(store, clock, published, IncidentsConfig(correlation_window_s=60))
    first = service.raise_alarm(_alarm(0))
    assert service.raise_alarm(_alarm(30)).incident_id == first.incident_id
    assert service.raise_alarm(_alarm(80)).incident_id == first.incident_id  # 50 s after the previous one
    other_camera = service.raise_alarm(_alarm(81, camera="a2", key="rule:gate:a2"))
    assert other_camera.created
    late = service.raise_alarm(_alarm(200))
    assert late.created
    assert late.incident_id != first.incident_id
    assert service.flush(force=True) == 2
    assert service.get(first.incident_id).alarm_count == 3


def test_correlation_survives_a_restart_through_the_store(
    store: Store, clock: Clock, published: Published
) -> None:
    first = build_service(store, clock, published).raise_alarm(_alarm(0))
    again = build_service(store, clock, published).raise_alarm(_alarm(10))
    assert again == type(again)(first.incident_id, created=False)


def test_resolved_incidents_take_no_more_alarms(store: Store, clock: Clock, published: Published) -> None:
    service = build_service(store, clock, published)
    first = service.raise_alarm(_alarm(0))
    service.transition(first.incident_id, IncidentAction.RESOLVE, "alice", "false alarm")
    assert service.raise_alarm(_alarm(5)).created


def test_a_flood_of_10000_alarms_is_one_incident_counting_all(
    store: Store, clock: Clock, published: Published
) -> None:
    service = build_service(store, clock, published, IncidentsConfig(publish_interval_s=1.0))
    outcomes = {service.raise_alarm(_alarm(i * 0.006)).incident_id for i in range(10_000)}
    clock.advance(61)
    service.flush()
    assert len(outcomes) == 1
    incident = service.get(outcomes.pop())
    assert incident.alarm_count == 10_000
    assert published.changes() == ["created", "alarm"]  # rate-limited: one announcement per interval
    assert service.list(IncidentQuery()).total == 1


def test_errors(store: Store, clock: Clock, published: Published, tmp_path: Path) -> None:
    service = build_service(store, clock, published)
    with pytest.raises(UnknownIncidentTypeError):
        service.raise_alarm(_alarm(type_code="NOT_A_TYPE"))
    with pytest.raises(IncidentNotFoundError):
        service.transition("inc-missing", IncidentAction.ACKNOWLEDGE, "alice")
    incident_id = service.raise_alarm(_alarm()).incident_id
    service.transition(incident_id, IncidentAction.ACKNOWLEDGE, "alice")
    with pytest.raises(InvalidTransitionError) as caught:
        service.transition(incident_id, IncidentAction.ACKNOWLEDGE, "alice")
    assert IncidentAction.START in caught.value.allowed
    with pytest.raises(IncidentInputError, match="no SOP step 9"):
        service.sop_step(incident_id, 9, "alice")
    with pytest.raises(IncidentInputError, match="reason"):
        service.sop_step(incident_id, 0, "alice", skip_reason=" ")
    with pytest.raises(IncidentInputError, match="unknown team"):
        service.assign(incident_id, Assignee(team="ghosts"), "alice")
    with pytest.raises(IncidentInputError, match="caller key"):
        service.raise_alarm(_alarm(key=None, caller=CallerContact("+44 1234 567890")))


def test_stale_revisions_conflict(any_store: Store, clock: Clock, published: Published) -> None:
    service = build_service(any_store, clock, published)
    incident = service.get(service.raise_alarm(_alarm()).incident_id)
    service.add_note(incident.id, "alice", "first")
    with pytest.raises(ConflictError, match="changed meanwhile"):
        any_store.incidents.update(incident, incident.revision)


def test_inbound_keys_are_unique(any_store: Store, clock: Clock, published: Published) -> None:
    service = build_service(any_store, clock, published)
    key = InboundKey("panel", "k-1", "ab" * 32, "", T0)
    first = service.raise_alarm(_alarm(key=None, inbound_key=key))
    stored = any_store.incidents.inbound_key("panel", "k-1")
    assert stored is not None
    assert stored.incident_id == first.incident_id
    with pytest.raises(DuplicateError):
        service.raise_alarm(_alarm(key=None, inbound_key=key))
    assert service.list(IncidentQuery()).total == 1


def test_caller_details_are_encrypted_at_rest(service: IncidentService, store: Store, tmp_path: Path) -> None:
    contact = CallerContact("+44 1234 567890", "Pat")
    incident_id = service.raise_alarm(_alarm(key=None, caller=contact)).incident_id
    stored = store.incidents.get(incident_id)
    assert stored is not None
    assert stored.caller_contact is not None
    assert b"567890" not in stored.caller_contact
    assert b"Pat" not in stored.caller_contact
    assert service.caller(stored) == contact
    key_file = tmp_path / "keys" / "incidents.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = CallerVault(load_or_create_key(tmp_path / "other" / "incidents.key"))
    with pytest.raises(CallerKeyError, match="do not decrypt"):
        other.open(incident_id, stored.caller_contact)
    with pytest.raises(CallerKeyError, match="do not decrypt"):
        CallerVault(load_or_create_key(key_file)).open("inc-other", stored.caller_contact)
    assert contact.masked.endswith("90")
    assert "5678" not in contact.masked


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "incidents.key"
    load_or_create_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(CallerKeyError, match="chmod 600"):
        load_or_create_key(path)
    path.write_bytes(b"short")
    os.chmod(path, 0o600)
    with pytest.raises(CallerKeyError, match="32 bytes"):
        load_or_create_key(path)
