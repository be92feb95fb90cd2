"""Bus messages: wire format, versioning, validation and the domain round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from watchkeeper.bus.errors import MessageFormatError
from watchkeeper.bus.messages import CameraStatusMessage, EventMessage, SegmentMessage, decode, encode
from watchkeeper.domain import (
    CameraId,
    CameraState,
    CameraStatus,
    Event,
    EventKind,
    Segment,
    WatchkeeperError,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EVENT = Event("ev-1", CameraId("gate-north"), EventKind.OBJECT, T0, T0 + timedelta(seconds=3), 0.8, "person")


def event_v1(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": "event", "version": 1, "id": "ev-1", "camera_id": "gate-north"}
    payload |= {"kind": "object", "start": "2024-05-01T12:00:00Z", "end": None, "score": 0.8}
    return payload | changes


def test_event_round_trips_through_the_domain() -> None:
    message = EventMessage.from_domain(EVENT, "ended")

    assert message.to_domain() == EVENT
    assert message.subject == "wk.events.gate-north"
    assert (message.type, message.version, message.event_state) == ("event", 2, "ended")


def test_status_and_segment_subjects_and_domain() -> None:
    status = CameraStatus(CameraId("gate"), CameraState.STALLED, T0, "no packets")
    segment = Segment(
        CameraId("gate"), T0, T0 + timedelta(seconds=10), "gate/1.mp4", 100, "h264", 640, 360, 1, id=4
    )

    status_message = CameraStatusMessage.from_domain(status)
    segment_message = SegmentMessage.from_domain(segment)

    assert status_message.to_domain() == status
    assert status_message.subject == "wk.cameras.gate.status"
    assert (segment_message.segment_id, segment_message.subject) == (4, "wk.segments.gate")


@pytest.mark.parametrize(
    "message",
    [
        EventMessage.from_domain(EVENT, "started"),
        CameraStatusMessage(camera_id=CameraId("a"), state=CameraState.OFFLINE, since=T0, reason="gone"),
        SegmentMessage(camera_id=CameraId("a"), start=T0, end=T0, path="a/0.mp4", size_bytes=0),
    ],
)
def test_encode_decode_round_trip(message: EventMessage | CameraStatusMessage | SegmentMessage) -> None:
    data = encode(message)

    assert json.loads(data)["type"] == message.type
    assert decode(data) == message


def test_times_are_normalised_to_utc() -> None:
    local = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))

    message = CameraStatusMessage(camera_id=CameraId("a"), state=CameraState.STREAMING, since=local)

    assert message.since == T0
    assert message.since.tzinfo is UTC


def test_messages_are_frozen() -> None:
    message = EventMessage.from_domain(EVENT, "started")

    with pytest.raises(ValidationError):
        message.score = 0.1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"since": datetime(2024, 5, 1, 12, 0)}, "timezone"),
        ({"camera_id": "gate.north"}, "subject token"),
        ({"camera_id": "gate>"}, "subject token"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_invalid_fields_are_refused(changes: dict[str, Any], error: str) -> None:
    fields: dict[str, Any] = {"camera_id": "a", "state": "streaming", "since": T0} | changes

    with pytest.raises(ValidationError, match=error):
        CameraStatusMessage.model_validate(fields)


def test_event_state_must_be_known() -> None:
    with pytest.raises(ValidationError, match="event_state"):
        EventMessage.from_domain(EVENT, "paused")


@pytest.mark.parametrize(
    ("end", "state"),
    [(None, "started"), ("2024-05-01T12:00:05Z", "ended")],
)
def test_v1_event_payload_is_upgraded_to_v2(end: str | None, state: str) -> None:
    message = decode(json.dumps(event_v1(end=end)).encode())

    assert isinstance(message, EventMessage)
    assert (message.version, message.event_state, message.label) == (2, state, "")
    assert json.loads(encode(message))["version"] == 2


def test_v2_fields_in_a_v1_payload_are_overridden_by_the_upgrade() -> None:
    message = decode(json.dumps(event_v1(end=None)).encode())

    assert isinstance(message, EventMessage)
    assert message.to_domain().label == ""


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json", "not UTF-8 JSON"),
        (b"\xff\xfe\x00", "not UTF-8 JSON"),
        (b'"a string"', "JSON object"),
        (b'{"version": 1}', "unknown message type None"),
        (b'{"type": "alarm", "version": 1}', "unknown message type 'alarm'"),
        (json.dumps(event_v1(version=3)).encode(), r"unsupported version 3 .* \(supported: 1..2\)"),
        (json.dumps(event_v1(version=0)).encode(), "unsupported version 0"),
        (json.dumps(event_v1(version="2")).encode(), "unsupported version '2'"),
        (json.dumps(event_v1(version=True)).encode(), "unsupported version True"),
        (json.dumps(event_v1(score=2.0)).encode(), "invalid 'event' v1 message: score"),
        (json.dumps(event_v1(end="2024-05-01T11:00:00Z")).encode(), "before its start"),
        (json.dumps(event_v1(start="2024-05-01T12:00:00")).encode(), "start: .*timezone"),
    ],
)
def test_unreadable_payloads_raise_message_format_error(payload: bytes, error: str) -> None:
    with pytest.raises(MessageFormatError, match=error) as caught:
        decode(payload)

    assert isinstance(caught.value, WatchkeeperError)
    assert caught.value.code == "message_format"


def test_rule_event_fields_survive_the_bus_round_trip() -> None:
    from datetime import UTC, datetime, timedelta

    from watchkeeper.bus.messages import EventMessage, decode, encode
    from watchkeeper.domain import CameraId, Event, EventKind

    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    event = Event(
        id="e1",
        camera_id=CameraId("cam1"),
        kind=EventKind.ZONE,
        start=start,
        end=start + timedelta(seconds=4),
        score=0.8,
        label="person",
        rule="person-on-closed-lawn",
        zone="lawn",
        object_class="person",
        track_id=7,
        best_at=start + timedelta(seconds=1),
        direction=None,
        object_count=None,
    )
    decoded = decode(encode(EventMessage.from_domain(event, "ended")))
    assert isinstance(decoded, EventMessage)
    assert decoded.to_domain() == event
