"""Typed, versioned bus messages and their JSON wire format.

Every message is a frozen pydantic model with a stable ``type`` name and a ``version``. On the wire a
message is one UTF-8 JSON object holding ``type``, ``version`` and the fields. :func:`encode` always writes
the current version; :func:`decode` reads the current version and every older one it knows, upgrading old
payloads step by step (``v1 -> v2 -> ...``) before validation, so consumers only ever see current models.

Versioning rules: a change that adds an optional field keeps the version; any other change bumps it and
adds an upgrader from the previous version to ``_CODECS``. Consumers are upgraded before producers start
writing the new version (a consumer rejects a version newer than it knows with ``MessageFormatError``).

Example: ``EventMessage`` v1 had no ``label`` and no ``event_state``; v2 added both, and a v1 payload
decodes as a v2 message whose state is ``ended`` when the event has an end and ``started`` otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, Self, TypeAlias

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from watchkeeper.bus.errors import MessageFormatError
from watchkeeper.bus.subjects import ROOT, check_token
from watchkeeper.domain import (
    CameraId,
    CameraState,
    CameraStatus,
    Event,
    EventKind,
    Rendition,
    Segment,
    SiteId,
    ensure_utc,
)
from watchkeeper.domain.incidents import AlarmSource, Incident, IncidentCategory, IncidentState, Priority

UtcDatetime = Annotated[AwareDatetime, AfterValidator(ensure_utc)]
"""An aware datetime, normalised to UTC; naive datetimes are rejected."""

SubjectCameraId = Annotated[CameraId, AfterValidator(lambda value: check_token(value, "camera id"))]
"""A camera id that is also a valid subject token."""

EventState: TypeAlias = Literal["started", "updated", "ended"]
"""Where an event is in its life: it started, its score/label/end changed, or it ended."""

Payload: TypeAlias = dict[str, Any]


class _Message(BaseModel):
    """Common configuration of every bus message."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EventMessage(_Message):
    """An analysis event started, changed or ended (subject ``wk.events.<camera_id>``)."""

    type: Literal["event"] = "event"
    version: Literal[2] = 2
    event_state: EventState
    id: str = Field(min_length=1)
    camera_id: SubjectCameraId
    kind: EventKind
    start: UtcDatetime
    end: UtcDatetime | None = None
    score: float = Field(ge=0.0, le=1.0)
    label: str = ""
    # Rule events (optional; older v2 payloads without them still decode): see domain ``Event``.
    rule: str | None = None
    zone: str | None = None
    object_class: str | None = None
    track_id: int | None = None
    best_at: UtcDatetime | None = None
    direction: str | None = None
    object_count: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"event end {self.end.isoformat()} is before its start {self.start.isoformat()}")
        return self

    @property
    def subject(self) -> str:
        """``wk.events.<camera_id>``."""
        return f"{ROOT}.events.{self.camera_id}"

    @classmethod
    def from_domain(cls, event: Event, event_state: EventState | str) -> EventMessage:
        """Wrap a domain event; ``event_state`` is ``started``, ``updated`` or ``ended``.

        Raises:
            pydantic.ValidationError: when ``event_state`` is not one of those or the camera id is not a
                subject token.
        """
        return cls.model_validate(
            {
                "event_state": event_state,
                "id": event.id,
                "camera_id": event.camera_id,
                "kind": event.kind,
                "start": event.start,
                "end": event.end,
                "score": event.score,
                "label": event.label,
                "rule": event.rule,
                "zone": event.zone,
                "object_class": event.object_class,
                "track_id": event.track_id,
                "best_at": event.best_at,
                "direction": event.direction,
                "object_count": event.object_count,
            }
        )

    def to_domain(self) -> Event:
        """The domain event this message carries."""
        return Event(
            id=self.id,
            camera_id=self.camera_id,
            kind=self.kind,
            start=self.start,
            end=self.end,
            score=self.score,
            label=self.label,
            rule=self.rule,
            zone=self.zone,
            object_class=self.object_class,
            track_id=self.track_id,
            best_at=self.best_at,
            direction=self.direction,
            object_count=self.object_count,
        )


class CameraStatusMessage(_Message):
    """A camera's connection state changed (subject ``wk.cameras.<camera_id>.status``)."""

    type: Literal["camera_status"] = "camera_status"
    version: Literal[1] = 1
    camera_id: SubjectCameraId
    state: CameraState
    since: UtcDatetime
    reason: str = ""

    @property
    def subject(self) -> str:
        """``wk.cameras.<camera_id>.status``."""
        return f"{ROOT}.cameras.{self.camera_id}.status"

    @classmethod
    def from_domain(cls, status: CameraStatus) -> CameraStatusMessage:
        """Wrap a domain camera status."""
        return cls(camera_id=status.camera_id, state=status.state, since=status.since, reason=status.reason)

    def to_domain(self) -> CameraStatus:
        """The domain camera status this message carries."""
        return CameraStatus(camera_id=self.camera_id, state=self.state, since=self.since, reason=self.reason)


class SegmentMessage(_Message):
    """A recorded segment was closed and indexed (subject ``wk.segments.<camera_id>``)."""

    type: Literal["segment"] = "segment"
    version: Literal[1] = 1
    segment_id: int | None = None
    camera_id: SubjectCameraId
    start: UtcDatetime
    end: UtcDatetime
    path: str = Field(min_length=1)
    size_bytes: int = Field(ge=0)
    rendition: Rendition = Rendition.ORIGINAL
    """The original recording or the protected (redacted) copy (absent in older messages: original)."""

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.end < self.start:
            end, start = self.end.isoformat(), self.start.isoformat()
            raise ValueError(f"segment end {end} is before its start {start}")
        return self

    @property
    def subject(self) -> str:
        """``wk.segments.<camera_id>``."""
        return f"{ROOT}.segments.{self.camera_id}"

    @classmethod
    def from_domain(cls, segment: Segment) -> SegmentMessage:
        """Announce a domain segment (``segment_id`` is its index id, ``None`` before indexing)."""
        return cls(
            segment_id=segment.id,
            camera_id=segment.camera_id,
            start=segment.start,
            end=segment.end,
            path=segment.path,
            size_bytes=segment.size_bytes,
            rendition=segment.rendition,
        )


IncidentChange: TypeAlias = Literal[
    "created", "alarm", "transition", "assigned", "priority", "note", "attachment", "sop", "escalated"
]
"""What changed: opened, another alarm merged, state moved, (re)assigned, priority changed, a note or an
attachment added, an SOP step ticked or skipped, escalated to a group."""


class IncidentMessage(_Message):
    """An incident was opened or changed (subject ``wk.incidents.<incident_id>``).

    Carries the incident's head after the change (never the encrypted phone-in caller details). ``revision``
    increases with every change of one incident, so a consumer can drop stale or repeated deliveries.
    """

    type: Literal["incident"] = "incident"
    version: Literal[1] = 1
    change: IncidentChange
    incident_id: Annotated[str, AfterValidator(lambda value: check_token(value, "incident id"))]
    revision: int = Field(ge=1)
    type_code: str = Field(min_length=1)
    category: IncidentCategory
    title: str
    state: IncidentState
    priority: Priority
    source: AlarmSource
    site_id: SiteId | None = None
    camera_ids: tuple[CameraId, ...] = ()
    lat: float | None = Field(default=None, ge=-90.0, le=90.0)
    lon: float | None = Field(default=None, ge=-180.0, le=180.0)
    owner: str | None = None
    assignee_user: str | None = None
    assignee_team: str | None = None
    alarm_count: int = Field(ge=1)
    escalation_level: int = Field(default=0, ge=0)
    escalated_to: str | None = None
    actor: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime

    @property
    def subject(self) -> str:
        """``wk.incidents.<incident_id>``."""
        return f"{ROOT}.incidents.{self.incident_id}"

    @classmethod
    def from_domain(
        cls,
        incident: Incident,
        change: IncidentChange,
        actor: str | None = None,
        escalated_to: str | None = None,
    ) -> IncidentMessage:
        """Announce ``incident`` as it is after ``change`` made by ``actor`` (``None``: the system)."""
        location = incident.location
        return cls(
            change=change,
            incident_id=incident.id,
            revision=incident.revision,
            type_code=incident.type_code,
            category=incident.category,
            title=incident.title,
            state=incident.state,
            priority=incident.priority,
            source=incident.source,
            site_id=incident.site_id,
            camera_ids=incident.camera_ids,
            lat=location.lat if location is not None else None,
            lon=location.lon if location is not None else None,
            owner=incident.owner,
            assignee_user=incident.assignee.user,
            assignee_team=incident.assignee.team,
            alarm_count=incident.alarm_count,
            escalation_level=incident.escalation_level,
            escalated_to=escalated_to,
            actor=actor,
            created_at=incident.created_at,
            updated_at=incident.updated_at,
        )


class BreakGlassMessage(_Message):
    """Someone broke the glass: emergency access to live originals (subject ``wk.custody.break_glass``).

    Approvers are told at once (console, MQTT, webhooks); the grant is already active and audited.
    """

    type: Literal["break_glass"] = "break_glass"
    version: Literal[1] = 1
    grant_id: Annotated[str, AfterValidator(lambda value: check_token(value, "grant id"))]
    requester: str = Field(min_length=1)
    camera_ids: tuple[CameraId, ...] = Field(min_length=1)
    reason: str = Field(min_length=1)
    at: UtcDatetime
    expires_at: UtcDatetime

    @property
    def subject(self) -> str:
        """``wk.custody.break_glass``."""
        return f"{ROOT}.custody.break_glass"


class ConfigChangedMessage(_Message):
    """The configuration file was edited through one node's console (subject ``wk.config.changed``).

    Every other node re-reads its configuration file and, when it hashes to ``sha256`` (the same file:
    one host, or a shared folder), applies it as the editing node did. It carries no configuration (the
    file holds camera passwords), only what changed and the fingerprint of the file as written.
    """

    type: Literal["config_changed"] = "config_changed"
    version: Literal[1] = 1
    origin: str = Field(min_length=1, description="The node id of the node that wrote the edit.")
    summary: str = Field(min_length=1)
    camera_id: CameraId | None = None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    at: UtcDatetime

    @property
    def subject(self) -> str:
        """``wk.config.changed``."""
        return f"{ROOT}.config.changed"


BusMessage: TypeAlias = (
    EventMessage
    | CameraStatusMessage
    | SegmentMessage
    | IncidentMessage
    | BreakGlassMessage
    | ConfigChangedMessage
)
"""Any message the bus carries."""

Upgrader: TypeAlias = Callable[[Payload], Payload]


@dataclass(frozen=True, slots=True)
class _Codec:
    """How to read one message type: its current model and the upgraders from each older version."""

    model: (
        type[EventMessage]
        | type[CameraStatusMessage]
        | type[SegmentMessage]
        | type[IncidentMessage]
        | type[BreakGlassMessage]
        | type[ConfigChangedMessage]
    )
    current: int
    upgraders: Mapping[int, Upgrader]

    def upgrade(self, version: int, payload: Payload) -> Payload:
        """Bring ``payload`` of ``version`` up to the current version."""
        while version < self.current:
            payload = self.upgraders[version](payload)
            version += 1
            payload["version"] = version
        return payload


def _event_v1_to_v2(payload: Payload) -> Payload:
    """v2 added ``event_state`` and ``label``: a v1 event with an end had ended, one without had started."""
    return {**payload, "event_state": "ended" if payload.get("end") is not None else "started", "label": ""}


_CODECS: Final[Mapping[str, _Codec]] = MappingProxyType(
    {
        "event": _Codec(EventMessage, 2, MappingProxyType({1: _event_v1_to_v2})),
        "camera_status": _Codec(CameraStatusMessage, 1, MappingProxyType({})),
        "segment": _Codec(SegmentMessage, 1, MappingProxyType({})),
        "incident": _Codec(IncidentMessage, 1, MappingProxyType({})),
        "break_glass": _Codec(BreakGlassMessage, 1, MappingProxyType({})),
        "config_changed": _Codec(ConfigChangedMessage, 1, MappingProxyType({})),
    }
)


def encode(message: BusMessage) -> bytes:
    """The wire form of ``message``: UTF-8 JSON with ``type`` and ``version``."""
    return message.model_dump_json().encode("utf-8")


def decode(data: bytes) -> BusMessage:
    """Read a message written by :func:`encode` of this or an older version of Watchkeeper.

    Raises:
        MessageFormatError: when the bytes are not JSON, the type is unknown, the version is unsupported
            or the fields do not validate; the message says which.
    """
    payload = _load_object(data)
    type_name = payload.get("type")
    codec = _CODECS.get(type_name) if isinstance(type_name, str) else None
    if codec is None:
        known = ", ".join(sorted(_CODECS))
        raise MessageFormatError(f"unknown message type {type_name!r} (known: {known})")
    version = payload.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= codec.current:
        raise MessageFormatError(
            f"unsupported version {version!r} of message type {type_name!r} (supported: 1..{codec.current})"
        )
    try:
        return codec.model.model_validate(codec.upgrade(version, payload))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "message"
        count = err.error_count()
        raise MessageFormatError(
            f"invalid {type_name!r} v{version} message: {where}: {first['msg']} ({count} error(s))"
        ) from err


def _load_object(data: bytes) -> Payload:
    try:
        payload = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MessageFormatError(f"message is not UTF-8 JSON: {err}") from err
    if not isinstance(payload, dict):
        raise MessageFormatError(f"message must be a JSON object, got {type(payload).__name__}")
    return payload
