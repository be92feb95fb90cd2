"""Incidents: alarms that someone owns until they are closed.

Pure types only. The state machine's table lives here (:data:`TRANSITIONS`) so that every layer (service,
API schema, web console) reads the same one; ``watchkeeper.incidents.workflow`` applies it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from watchkeeper.domain.camera import MapPosition
from watchkeeper.domain.ids import CameraId, SiteId


class IncidentState(StrEnum):
    """Where an incident is in its life."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATES: Final = frozenset(
    {IncidentState.NEW, IncidentState.ACKNOWLEDGED, IncidentState.IN_PROGRESS, IncidentState.ON_HOLD}
)
"""States in which an incident still needs someone (correlation merges only into these)."""


class IncidentAction(StrEnum):
    """What a handler does to move an incident to another state."""

    ACKNOWLEDGE = "acknowledge"
    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class TransitionRule:
    """One row of the state machine: ``action`` takes an incident from ``source`` to ``target``."""

    source: IncidentState
    action: IncidentAction
    target: IncidentState


_S = IncidentState
_A = IncidentAction

TRANSITION_RULES: Final[tuple[TransitionRule, ...]] = (
    TransitionRule(_S.NEW, _A.ACKNOWLEDGE, _S.ACKNOWLEDGED),
    TransitionRule(_S.NEW, _A.START, _S.IN_PROGRESS),
    TransitionRule(_S.NEW, _A.RESOLVE, _S.RESOLVED),
    TransitionRule(_S.ACKNOWLEDGED, _A.START, _S.IN_PROGRESS),
    TransitionRule(_S.ACKNOWLEDGED, _A.HOLD, _S.ON_HOLD),
    TransitionRule(_S.ACKNOWLEDGED, _A.RESOLVE, _S.RESOLVED),
    TransitionRule(_S.IN_PROGRESS, _A.HOLD, _S.ON_HOLD),
    TransitionRule(_S.IN_PROGRESS, _A.RESOLVE, _S.RESOLVED),
    TransitionRule(_S.ON_HOLD, _A.RESUME, _S.IN_PROGRESS),
    TransitionRule(_S.ON_HOLD, _A.RESOLVE, _S.RESOLVED),
    TransitionRule(_S.RESOLVED, _A.CLOSE, _S.CLOSED),
    TransitionRule(_S.RESOLVED, _A.REOPEN, _S.IN_PROGRESS),
    TransitionRule(_S.CLOSED, _A.REOPEN, _S.IN_PROGRESS),
)
"""The whole state machine. ``NEW -> RESOLVE`` exists for false alarms and self-clearing equipment alarms."""

TRANSITIONS: Final[Mapping[IncidentState, Mapping[IncidentAction, IncidentState]]] = MappingProxyType(
    {
        state: MappingProxyType(
            {rule.action: rule.target for rule in TRANSITION_RULES if rule.source == state}
        )
        for state in IncidentState
    }
)
"""``TRANSITIONS[state][action]`` is the next state; a missing action is not allowed in that state."""


class Priority(StrEnum):
    """How urgent an incident is; :attr:`rank` orders them (1 is the most urgent)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """1 for critical up to 4 for low."""
        return list(Priority).index(self) + 1


class IncidentCategory(StrEnum):
    """The only categories Watchkeeper ships: safety, property and equipment."""

    SAFETY = "safety"
    PROPERTY = "property"
    EQUIPMENT = "equipment"


class AlarmSource(StrEnum):
    """What raised an incident."""

    ANALYTICS = "analytics"
    EQUIPMENT = "equipment"
    OPERATOR = "operator"
    PHONE = "phone"
    WEBHOOK = "webhook"


class SopStepState(StrEnum):
    """Progress of one step of a standard operating procedure."""

    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Assignee:
    """Who an incident is assigned to: a user, a team, or both."""

    user: str | None = None
    team: str | None = None


@dataclass(frozen=True, slots=True)
class Incident:
    """The head of an incident (its child records are in :class:`IncidentDetail`).

    Attributes:
        id: Opaque id (letters, digits and ``-``; fit as a subject token).
        type_code: Code of its incident type in the taxonomy (for example ``FIRE``).
        correlation_key: Alarms with the same key merge into this incident while it is open.
        alarm_count: How many alarms were merged into it (1 for the alarm that opened it).
        caller_contact: Encrypted phone-in caller details (opaque bytes; decrypted only for handlers).
        revision: Increases with every change; writes check it (optimistic concurrency).
        escalation_level: How many times the incident escalated while unacknowledged.
        next_escalation_at: When the next escalation is due (``None``: none scheduled).
    """

    id: str
    type_code: str
    category: IncidentCategory
    title: str
    state: IncidentState
    priority: Priority
    source: AlarmSource
    created_at: datetime
    updated_at: datetime
    site_id: SiteId | None = None
    camera_ids: tuple[CameraId, ...] = ()
    location: MapPosition | None = None
    created_by: str | None = None
    owner: str | None = None
    assignee: Assignee = field(default_factory=Assignee)
    correlation_key: str | None = None
    alarm_count: int = 1
    last_alarm_at: datetime | None = None
    resolution: str | None = None
    caller_contact: bytes | None = None
    revision: int = 1
    escalation_level: int = 0
    next_escalation_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.alarm_count < 1:
            raise ValueError(f"alarm_count must be at least 1, got {self.alarm_count}")
        if self.updated_at < self.created_at:
            raise ValueError("an incident cannot be updated before it was created")

    @property
    def is_open(self) -> bool:
        """True until the incident is resolved or closed."""
        return self.state in OPEN_STATES


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change: who did what, when, and why."""

    action: IncidentAction
    source: IncidentState
    target: IncidentState
    actor: str
    at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SopStep:
    """One step of an incident's checklist; ``reason`` is required when it was skipped."""

    index: int
    text: str
    state: SopStepState = SopStepState.PENDING
    actor: str | None = None
    at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Note:
    """A free-text note a handler added."""

    author: str
    at: datetime
    text: str
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """An analysis event (its snapshot and clip) attached to the incident."""

    event_id: str
    added_by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Escalation:
    """An escalation of an unacknowledged incident to a group (``level`` counts from 1)."""

    level: int
    group: str
    at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    """An incident with everything that happened to it."""

    incident: Incident
    transitions: tuple[Transition, ...] = ()
    sop: tuple[SopStep, ...] = ()
    notes: tuple[Note, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    escalations: tuple[Escalation, ...] = ()


IncidentRecord = Transition | SopStep | Note | Attachment | Escalation
"""A child record written together with a change of the incident's head."""


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """Filters and page of an incident listing; ``None`` or empty means no filter.

    ``visible_sites``/``visible_cameras`` restrict the result to what a principal may see (``None``: all):
    an incident is visible when its site is in ``visible_sites`` or one of its cameras is in
    ``visible_cameras``.
    """

    states: frozenset[IncidentState] = frozenset()
    type_codes: frozenset[str] = frozenset()
    priorities: frozenset[Priority] = frozenset()
    site_ids: frozenset[SiteId] = frozenset()
    camera_ids: frozenset[CameraId] = frozenset()
    owner: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    visible_sites: frozenset[SiteId] | None = None
    visible_cameras: frozenset[CameraId] | None = None
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= 500:
            raise ValueError(f"limit must be within [1, 500], got {self.limit}")
        if self.offset < 0:
            raise ValueError(f"offset must not be negative, got {self.offset}")


@dataclass(frozen=True, slots=True)
class IncidentPage:
    """One page of incidents, newest first, and how many match in all."""

    items: tuple[Incident, ...]
    total: int


@dataclass(frozen=True, slots=True)
class InboundKey:
    """An idempotency key of an inbound alarm: the first request with it decides the incident."""

    source: str
    key: str
    body_sha256: str
    incident_id: str
    at: datetime
