"""Request and response bodies of the incident and inbound-alarm routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.api.schemas.models import ErrorBody
from watchkeeper.domain.incidents import (
    AlarmSource,
    Attachment,
    Escalation,
    Incident,
    IncidentAction,
    IncidentCategory,
    IncidentDetail,
    IncidentState,
    Note,
    Priority,
    SopStep,
    SopStepState,
    Transition,
)
from watchkeeper.incidents.crypto import CallerContact
from watchkeeper.incidents.taxonomy import IncidentType
from watchkeeper.incidents.workflow import allowed_actions

PHONE_PATTERN = r"^\+?[0-9 ().-]{3,32}$"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CallerOut(_Out):
    """A phone-in caller: the number in clear only for the incident's handlers, masked for others."""

    callback_number: str
    name: str
    masked: bool

    @classmethod
    def of(cls, contact: CallerContact, *, reveal: bool) -> CallerOut:
        """The caller as one principal may see it."""
        if reveal:
            return cls(callback_number=contact.callback_number, name=contact.name, masked=False)
        return cls(callback_number=contact.masked, name="•••" if contact.name else "", masked=True)


class IncidentOut(_Out):
    """The head of an incident."""

    id: str
    type_code: str
    category: IncidentCategory
    title: str
    state: IncidentState
    priority: Priority
    source: AlarmSource
    site_id: str | None
    camera_ids: list[str]
    lat: float | None
    lon: float | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    owner: str | None
    assignee_user: str | None
    assignee_team: str | None
    alarm_count: int
    last_alarm_at: datetime | None
    resolution: str | None
    revision: int
    escalation_level: int
    next_escalation_at: datetime | None
    allowed_actions: list[IncidentAction] = Field(
        description="Workflow actions allowed in the current state."
    )
    has_caller: bool = Field(description="True for a phone-in incident with stored caller details.")
    caller: CallerOut | None = Field(default=None, description="Caller details (detail view only).")

    @classmethod
    def of(cls, incident: Incident, caller: CallerOut | None = None) -> IncidentOut:
        """Render a domain incident."""
        location = incident.location
        return cls(
            id=incident.id,
            type_code=incident.type_code,
            category=incident.category,
            title=incident.title,
            state=incident.state,
            priority=incident.priority,
            source=incident.source,
            site_id=incident.site_id,
            camera_ids=list(incident.camera_ids),
            lat=location.lat if location is not None else None,
            lon=location.lon if location is not None else None,
            created_at=incident.created_at,
            updated_at=incident.updated_at,
            created_by=incident.created_by,
            owner=incident.owner,
            assignee_user=incident.assignee.user,
            assignee_team=incident.assignee.team,
            alarm_count=incident.alarm_count,
            last_alarm_at=incident.last_alarm_at,
            resolution=incident.resolution,
            revision=incident.revision,
            escalation_level=incident.escalation_level,
            next_escalation_at=incident.next_escalation_at,
            allowed_actions=list(allowed_actions(incident.state)),
            has_caller=incident.caller_contact is not None,
            caller=caller,
        )


class IncidentPageOut(_Out):
    """A page of incidents, newest first."""

    items: list[IncidentOut]
    total: int
    limit: int
    offset: int


class TransitionOut(_Out):
    """A state change with who and when."""

    action: IncidentAction
    source: IncidentState
    target: IncidentState
    actor: str
    at: datetime
    reason: str

    @classmethod
    def of(cls, item: Transition) -> TransitionOut:
        """Render a transition."""
        return cls(
            action=item.action,
            source=item.source,
            target=item.target,
            actor=item.actor,
            at=item.at,
            reason=item.reason,
        )


class SopStepOut(_Out):
    """One SOP checklist step."""

    index: int
    text: str
    state: SopStepState
    actor: str | None
    at: datetime | None
    reason: str

    @classmethod
    def of(cls, item: SopStep) -> SopStepOut:
        """Render a step."""
        return cls(
            index=item.index,
            text=item.text,
            state=item.state,
            actor=item.actor,
            at=item.at,
            reason=item.reason,
        )


class NoteOut(_Out):
    """A handler's note."""

    id: int | None
    author: str
    at: datetime
    text: str

    @classmethod
    def of(cls, item: Note) -> NoteOut:
        """Render a note."""
        return cls(id=item.id, author=item.author, at=item.at, text=item.text)


class AttachmentOut(_Out):
    """An attached analysis event; ``event_url`` gives the event with its snapshot and clip URLs."""

    event_id: str
    added_by: str
    at: datetime
    snapshot_url: str
    event_url: str

    @classmethod
    def of(cls, item: Attachment) -> AttachmentOut:
        """Render an attachment."""
        base = f"/api/events/{item.event_id}"
        return cls(
            event_id=item.event_id,
            added_by=item.added_by,
            at=item.at,
            snapshot_url=f"{base}/snapshot.jpg",
            event_url=base,
        )


class EscalationOut(_Out):
    """An escalation to a group."""

    level: int
    group: str
    at: datetime
    reason: str

    @classmethod
    def of(cls, item: Escalation) -> EscalationOut:
        """Render an escalation."""
        return cls(level=item.level, group=item.group, at=item.at, reason=item.reason)


class IncidentDetailOut(_Out):
    """An incident with its whole history."""

    incident: IncidentOut
    transitions: list[TransitionOut]
    sop: list[SopStepOut]
    notes: list[NoteOut]
    attachments: list[AttachmentOut]
    escalations: list[EscalationOut]

    @classmethod
    def of(cls, detail: IncidentDetail, caller: CallerOut | None) -> IncidentDetailOut:
        """Render a detail."""
        return cls(
            incident=IncidentOut.of(detail.incident, caller),
            transitions=[TransitionOut.of(item) for item in detail.transitions],
            sop=[SopStepOut.of(item) for item in detail.sop],
            notes=[NoteOut.of(item) for item in detail.notes],
            attachments=[AttachmentOut.of(item) for item in detail.attachments],
            escalations=[EscalationOut.of(item) for item in detail.escalations],
        )


class IncidentTypeOut(_Out):
    """One incident type of the taxonomy."""

    code: str
    name: str
    category: IncidentCategory
    priority: Priority
    sop: list[str]
    auto_close: bool

    @classmethod
    def of(cls, item: IncidentType) -> IncidentTypeOut:
        """Render a type."""
        return cls(
            code=item.code,
            name=item.name,
            category=item.category,
            priority=item.priority,
            sop=list(item.sop),
            auto_close=item.auto_close,
        )


class _Place(_In):
    camera_id: str | None = Field(default=None, max_length=63, description="Camera where it happens.")
    site_id: str | None = Field(default=None, max_length=63, description="Site (default: the camera's).")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Map point latitude.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Map point longitude.")


class OperatorReportIn(_Place):
    """An incident "discovered on duty": a type, a camera or a map point, and a note."""

    type_code: str = Field(min_length=1, max_length=40)
    note: str = Field(min_length=1, max_length=5000)
    title: str | None = Field(default=None, max_length=200)
    priority: Priority | None = None


class PhoneInIn(_Place):
    """A call taken by the control room; the callback number is stored encrypted."""

    type_code: str = Field(min_length=1, max_length=40)
    callback_number: str = Field(pattern=PHONE_PATTERN, description="Caller's callback number.")
    caller_name: str = Field(default="", max_length=200)
    note: str = Field(min_length=1, max_length=5000, description="What the caller reported.")
    priority: Priority | None = None


class ReasonIn(_In):
    """Why (a resolution when resolving; optional otherwise)."""

    reason: str = Field(default="", max_length=5000)


class AssignIn(_In):
    """Who to assign to: a user, a team, or both."""

    user: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=63)


class PriorityIn(_In):
    """The new priority."""

    priority: Priority


class NoteIn(_In):
    """A note to add."""

    text: str = Field(min_length=1, max_length=5000)


class AttachIn(_In):
    """Analysis events to attach."""

    event_ids: list[str] = Field(min_length=1, max_length=100)


class SopStepIn(_In):
    """Tick a step (``skip_reason`` unset) or skip it with a reason."""

    skip_reason: str | None = Field(default=None, max_length=2000)


class InboundAlarmIn(_In):
    """An alarm from an external system."""

    type_code: str | None = Field(default=None, max_length=40, description="Default: the source's type.")
    camera_id: str | None = Field(default=None, max_length=63)
    title: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=5000)
    priority: Priority | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class InboundResultOut(_Out):
    """What an inbound alarm did (a replayed ``Idempotency-Key`` returns the original result)."""

    incident_id: str
    created: bool
    replayed: bool


class TransitionErrorOut(_Out):
    """409 for an action the incident's state does not allow."""

    error: ErrorBody
    state: IncidentState
    allowed_actions: list[IncidentAction]
