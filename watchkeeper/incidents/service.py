"""``IncidentService``: opens incidents from alarms and runs the workflow over the repositories.

Thread-safe (API threads, the bus feed and the ticker call it at once). Every change is written with an
optimistic revision check and then announced as an :class:`IncidentMessage` through ``publish``.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from watchkeeper.bus.messages import IncidentChange, IncidentMessage
from watchkeeper.config.incidents import IncidentsConfig
from watchkeeper.domain import CameraId, ConflictError, MapPosition, SiteId, WatchkeeperError
from watchkeeper.domain.incidents import (
    AlarmSource,
    Assignee,
    Attachment,
    Escalation,
    InboundKey,
    Incident,
    IncidentAction,
    IncidentDetail,
    IncidentPage,
    IncidentQuery,
    IncidentRecord,
    IncidentState,
    Note,
    Priority,
    SopStep,
    SopStepState,
)
from watchkeeper.incidents.correlation import Correlator
from watchkeeper.incidents.crypto import CallerContact, CallerVault
from watchkeeper.incidents.errors import IncidentInputError, IncidentNotFoundError
from watchkeeper.incidents.escalation import Deferral, EscalationPolicy, EscalationStep
from watchkeeper.incidents.taxonomy import Taxonomy
from watchkeeper.incidents.workflow import apply_action
from watchkeeper.storage.protocols import CameraRepository, IncidentRepository

log = logging.getLogger(__name__)

SYSTEM = "system"
"""The actor of changes nobody made by hand (escalations, auto-close)."""

Publisher = Callable[[IncidentMessage], None]
Clock = Callable[[], datetime]
Mutation = Callable[[Incident], tuple[Incident, Sequence[IncidentRecord]]]

_RETRIES = 5


@dataclass(frozen=True, slots=True)
class Alarm:
    """Something that should open an incident (or merge into the open one with the same correlation key).

    Attributes:
        correlation_key: Alarms with the same key within the window merge; ``None`` never merges.
        caller: Phone-in caller details (stored encrypted).
        inbound_key: Idempotency key of an inbound webhook alarm.
        event_id: Analytics event to attach.
        received_at: When the alarm reached the incident service (logged to split the alarm latency).
    """

    type_code: str
    source: AlarmSource
    at: datetime
    camera_id: CameraId | None = None
    site_id: SiteId | None = None
    location: MapPosition | None = None
    correlation_key: str | None = None
    title: str | None = None
    note: str | None = None
    created_by: str | None = None
    priority: Priority | None = None
    caller: CallerContact | None = None
    inbound_key: InboundKey | None = None
    event_id: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlarmOutcome:
    """What an alarm did: opened ``incident_id`` (``created``) or merged into it."""

    incident_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class IncidentDeps:
    """What the service runs on: repositories, where messages go, and the clock."""

    incidents: IncidentRepository
    cameras: CameraRepository
    publish: Publisher
    clock: Clock
    vault: CallerVault | None = None


def new_incident_id() -> str:
    """A fresh incident id (``inc-`` and 20 hex digits; a valid subject token)."""
    return f"inc-{secrets.token_hex(10)}"


class IncidentService:
    """Alarms in, incidents out: correlation, workflow, escalation, notes, SOP and attachments."""

    def __init__(self, deps: IncidentDeps, taxonomy: Taxonomy, config: IncidentsConfig) -> None:
        """Serve over ``deps`` with the types of ``taxonomy`` and the policies of ``config``."""
        self._deps = deps
        self._repo = deps.incidents
        self.taxonomy = taxonomy
        self.config = config
        self._escalation = EscalationPolicy(config)
        self._correlator = Correlator(
            timedelta(seconds=config.correlation_window_s), timedelta(seconds=config.publish_interval_s)
        )
        self._lock = threading.RLock()

    # -- reading ---------------------------------------------------------------------------------------

    def get(self, incident_id: str) -> Incident:
        """One incident.

        Raises:
            IncidentNotFoundError: If there is none.
        """
        found = self._repo.get(incident_id)
        if found is None:
            raise IncidentNotFoundError(f"no incident with id {incident_id!r}")
        return found

    def detail(self, incident_id: str) -> IncidentDetail:
        """One incident with its history.

        Raises:
            IncidentNotFoundError: If there is none.
        """
        found = self._repo.detail(incident_id)
        if found is None:
            raise IncidentNotFoundError(f"no incident with id {incident_id!r}")
        return found

    def list(self, query: IncidentQuery) -> IncidentPage:
        """Incidents matching ``query``, newest first."""
        return self._repo.list(query)

    def now(self) -> datetime:
        """The service clock's current time."""
        return self._deps.clock()

    def open_by_key(self, correlation_key: str) -> Incident | None:
        """The open incident alarms with ``correlation_key`` merge into, or ``None``."""
        return self._repo.find_open(correlation_key)

    def inbound_key(self, source: str, key: str) -> InboundKey | None:
        """The stored idempotency key of an inbound source, or ``None``."""
        return self._repo.inbound_key(source, key)

    def caller(self, incident: Incident) -> CallerContact | None:
        """The decrypted phone-in caller of ``incident`` (callers check who may see it), or ``None``."""
        if incident.caller_contact is None or self._deps.vault is None:
            return None
        return self._deps.vault.open(incident.id, incident.caller_contact)

    # -- alarms ----------------------------------------------------------------------------------------

    def raise_alarm(self, alarm: Alarm) -> AlarmOutcome:
        """Open an incident for ``alarm``, or count it on the open incident it correlates with.

        Raises:
            UnknownIncidentTypeError: If the type code is not in the taxonomy.
            DuplicateError: If ``alarm.inbound_key`` was used already (the caller looks it up).
        """
        kind = self.taxonomy.get(alarm.type_code)
        key = alarm.correlation_key
        with self._lock:
            if key is not None:
                merged = self._merge(key, alarm.at)
                if merged is not None:
                    return AlarmOutcome(merged, created=False)
            incident = self._open(alarm, kind.name, kind.priority)
            sop = [SopStep(index=index, text=text) for index, text in enumerate(kind.sop)]
            self._repo.add(incident, sop, alarm.inbound_key)
            if key is not None:
                self._correlator.track(key, incident.id, alarm.at)
        incident = self._after_open(incident, alarm)
        self._deps.publish(IncidentMessage.from_domain(incident, "created", alarm.created_by))
        if alarm.received_at is None:
            log.info("incident %s opened: %s (%s)", incident.id, incident.type_code, alarm.source.value)
        else:
            log.info(
                "incident %s opened: %s (%s) alarm_age_ms=%.1f open_ms=%.1f",
                incident.id,
                incident.type_code,
                alarm.source.value,
                (alarm.received_at - alarm.at).total_seconds() * 1000,
                (self._deps.clock() - alarm.received_at).total_seconds() * 1000,
            )
        return AlarmOutcome(incident.id, created=True)

    def _merge(self, key: str, at: datetime) -> str | None:
        incident_id = self._correlator.match(key, at)
        if incident_id is None:
            stored = self._repo.find_open(key)
            last = stored.last_alarm_at if stored is not None else None
            if stored is None or last is None or at - last > self._correlator.window:
                return None
            self._correlator.track(key, stored.id, last)
        return self._correlator.merge(key, at)

    def _open(self, alarm: Alarm, name: str, priority: Priority) -> Incident:
        kind = self.taxonomy.get(alarm.type_code)
        incident_id = new_incident_id()
        site, location = alarm.site_id, alarm.location
        if alarm.camera_id is not None and (site is None or location is None):
            camera = self._deps.cameras.get(alarm.camera_id)
            if camera is not None:  # an alarm from a camera happens where the camera is
                site = site or camera.site_id
                location = location or _point(camera.position)
        chosen = alarm.priority or priority
        vault = self._deps.vault
        if alarm.caller is not None and vault is None:
            raise IncidentInputError("phone-in caller details cannot be stored: no caller key is configured")
        sealed = (
            vault.seal(incident_id, alarm.caller) if vault is not None and alarm.caller is not None else None
        )
        return Incident(
            id=incident_id,
            type_code=kind.code,
            category=kind.category,
            title=alarm.title or name,
            state=IncidentState.NEW,
            priority=chosen,
            source=alarm.source,
            created_at=alarm.at,
            updated_at=alarm.at,
            site_id=site,
            camera_ids=(alarm.camera_id,) if alarm.camera_id is not None else (),
            location=location,
            created_by=alarm.created_by,
            correlation_key=alarm.correlation_key,
            last_alarm_at=alarm.at,
            caller_contact=sealed,
            next_escalation_at=self._escalation.first_due(chosen, alarm.at),
        )

    def _after_open(self, incident: Incident, alarm: Alarm) -> Incident:
        records: list[IncidentRecord] = []
        actor = alarm.created_by or SYSTEM
        if alarm.note:
            records.append(Note(author=actor, at=alarm.at, text=alarm.note))
        if alarm.event_id is not None:
            records.append(Attachment(event_id=alarm.event_id, added_by=actor, at=alarm.at))
        if not records:
            return incident
        return self._mutate(incident.id, lambda current: (_bumped(current, alarm.at), records))

    def flush(self, *, force: bool = False) -> int:
        """Write and announce merged alarm counts that are due (all with ``force``); returns how many."""
        now = self._deps.clock()
        with self._lock:
            drained = self._correlator.drain(now, force=force)
        written = 0
        for pending in drained:
            incident = self._repo.add_alarms(pending.incident_id, pending.count, pending.last_at, now)
            self._deps.publish(IncidentMessage.from_domain(incident, "alarm"))
            written += pending.count
        return written

    # -- workflow --------------------------------------------------------------------------------------

    def transition(
        self, incident_id: str, action: IncidentAction | str, actor: str, reason: str = ""
    ) -> Incident:
        """Apply a workflow action.

        Raises:
            IncidentNotFoundError: If there is no such incident.
            InvalidTransitionError: If the action is not allowed now (carries the allowed ones).
            ResolutionRequiredError: If resolving without a resolution.
        """
        now = self._deps.clock()

        def change(current: Incident) -> tuple[Incident, Sequence[IncidentRecord]]:
            updated, transition = apply_action(current, action, actor, now, reason)
            return updated, [transition]

        incident = self._mutate(incident_id, change)
        if not incident.is_open:
            with self._lock:
                self._correlator.forget_incident(incident_id)
        self._deps.publish(IncidentMessage.from_domain(incident, "transition", actor))
        return incident

    def assign(self, incident_id: str, assignee: Assignee, actor: str) -> Incident:
        """Assign to a user and/or a team (a team must be configured); the user becomes the owner."""
        teams = {team.id for team in self.config.teams}
        if assignee.team is not None and assignee.team not in teams:
            raise IncidentInputError(
                f"unknown team {assignee.team!r} (teams: {', '.join(sorted(teams)) or 'none'})"
            )
        now = self._deps.clock()
        note = Note(author=actor, at=now, text=f"assigned to {_describe(assignee)}")

        def change(current: Incident) -> tuple[Incident, Sequence[IncidentRecord]]:
            owner = assignee.user or current.owner
            return replace(_bumped(current, now), assignee=assignee, owner=owner), [note]

        return self._announce(self._mutate(incident_id, change), "assigned", actor)

    def set_priority(self, incident_id: str, priority: Priority, actor: str) -> Incident:
        """Change the priority (an unacknowledged incident follows the new priority's escalation ladder)."""
        now = self._deps.clock()

        def change(current: Incident) -> tuple[Incident, Sequence[IncidentRecord]]:
            note = Note(author=actor, at=now, text=f"priority {current.priority.value} -> {priority.value}")
            due = current.next_escalation_at
            if current.state is IncidentState.NEW and current.escalation_level == 0:
                due = self._escalation.first_due(priority, current.created_at)
            return replace(_bumped(current, now), priority=priority, next_escalation_at=due), [note]

        return self._announce(self._mutate(incident_id, change), "priority", actor)

    def add_note(self, incident_id: str, actor: str, text: str) -> Incident:
        """Add a note."""
        if not text.strip():
            raise IncidentInputError("a note needs some text")
        now = self._deps.clock()
        note = Note(author=actor, at=now, text=text.strip())
        return self._announce(self._mutate(incident_id, lambda c: (_bumped(c, now), [note])), "note", actor)

    def attach(self, incident_id: str, event_ids: Sequence[str], actor: str) -> Incident:
        """Attach analysis events (their snapshots and clips); the events' cameras become linked cameras."""
        now = self._deps.clock()
        records: list[IncidentRecord] = [
            Attachment(event_id=event_id, added_by=actor, at=now) for event_id in event_ids
        ]
        return self._announce(
            self._mutate(incident_id, lambda c: (_bumped(c, now), records)), "attachment", actor
        )

    def sop_step(
        self, incident_id: str, index: int, actor: str, *, skip_reason: str | None = None
    ) -> Incident:
        """Tick SOP step ``index`` as done, or skip it with a reason.

        Raises:
            IncidentInputError: If there is no such step or a skip has no reason.
        """
        if skip_reason is not None and not skip_reason.strip():
            raise IncidentInputError("skipping an SOP step needs a reason")
        steps = {step.index: step for step in self.detail(incident_id).sop}
        if index not in steps:
            raise IncidentInputError(f"incident {incident_id} has no SOP step {index}")
        now = self._deps.clock()
        state = SopStepState.SKIPPED if skip_reason is not None else SopStepState.DONE
        step = replace(steps[index], state=state, actor=actor, at=now, reason=(skip_reason or "").strip())
        return self._announce(self._mutate(incident_id, lambda c: (_bumped(c, now), [step])), "sop", actor)

    # -- escalation ------------------------------------------------------------------------------------

    def escalate_due(self) -> int:
        """Escalate every unacknowledged incident whose escalation is due; returns how many escalated."""
        now = self._deps.clock()
        escalated = 0
        for incident in self._repo.due_escalations(now):
            step = self._escalation.next_step(incident, now)
            if isinstance(step, Deferral):
                self._reschedule(incident, step.until)
                continue
            if step is None:
                self._reschedule(incident, None)
                continue
            if self._escalate(incident.id, step, now):
                escalated += 1
        return escalated

    def _escalate(self, incident_id: str, step: EscalationStep, now: datetime) -> bool:
        record = Escalation(level=step.level, group=step.group, at=now, reason="not acknowledged in time")

        def change(current: Incident) -> tuple[Incident, Sequence[IncidentRecord]]:
            if current.state is not IncidentState.NEW:
                raise ConflictError(f"incident {incident_id} was acknowledged meanwhile")
            bumped = replace(
                _bumped(current, now), escalation_level=step.level, next_escalation_at=step.next_at
            )
            return bumped, [record]

        try:
            updated = self._mutate(incident_id, change)
        except ConflictError:
            return False
        self._deps.publish(IncidentMessage.from_domain(updated, "escalated", escalated_to=step.group))
        log.warning("incident %s escalated to %s (level %d)", incident_id, step.group, step.level)
        return True

    def _reschedule(self, incident: Incident, until: datetime | None) -> None:
        try:
            self._mutate(
                incident.id,
                lambda current: (
                    replace(current, next_escalation_at=until, revision=current.revision + 1),
                    [],
                ),
            )
        except WatchkeeperError as err:
            log.warning("could not reschedule escalation of %s: %s", incident.id, err)

    # -- plumbing --------------------------------------------------------------------------------------

    def _mutate(self, incident_id: str, change: Mutation) -> Incident:
        for _attempt in range(_RETRIES):
            current = self.get(incident_id)
            updated, records = change(current)
            try:
                return self._repo.update(updated, current.revision, *records)
            except ConflictError:
                continue
        raise ConflictError(f"incident {incident_id} kept changing; try again")

    def _announce(self, incident: Incident, change: IncidentChange, actor: str) -> Incident:
        self._deps.publish(IncidentMessage.from_domain(incident, change, actor))
        return incident


def _point(position: MapPosition | None) -> MapPosition | None:
    """A camera's map position as an incident location: where it is, not where it looks."""
    if position is None:
        return None
    return MapPosition(lat=position.lat, lon=position.lon)


def _bumped(incident: Incident, at: datetime) -> Incident:
    return replace(incident, updated_at=max(at, incident.updated_at), revision=incident.revision + 1)


def _describe(assignee: Assignee) -> str:
    parts = [
        f"user {assignee.user}" if assignee.user else "",
        f"team {assignee.team}" if assignee.team else "",
    ]
    return " and ".join(part for part in parts if part) or "nobody"
