"""``SqlIncidentRepository``: incidents and their child records in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Select, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper.domain import CameraId, ConflictError, DuplicateError, MapPosition, NotFoundError, SiteId
from watchkeeper.domain.incidents import (
    OPEN_STATES,
    AlarmSource,
    Assignee,
    Attachment,
    Escalation,
    InboundKey,
    Incident,
    IncidentAction,
    IncidentCategory,
    IncidentDetail,
    IncidentPage,
    IncidentQuery,
    IncidentRecord,
    IncidentState,
    Note,
    Priority,
    SopStep,
    SopStepState,
    Transition,
)
from watchkeeper.storage.sql.engine import Database
from watchkeeper.storage.sql.models import (
    InboundKeyRow,
    IncidentAttachmentRow,
    IncidentCameraRow,
    IncidentEscalationRow,
    IncidentNoteRow,
    IncidentRow,
    IncidentSopStepRow,
    IncidentTransitionRow,
)

_OPEN = sorted(state.value for state in OPEN_STATES)


def _head_values(incident: Incident) -> dict[str, Any]:
    location = incident.location
    return {
        "type_code": incident.type_code,
        "category": incident.category.value,
        "title": incident.title,
        "state": incident.state.value,
        "priority": incident.priority.value,
        "source": incident.source.value,
        "created_at": incident.created_at,
        "updated_at": incident.updated_at,
        "site_id": incident.site_id,
        "lat": location.lat if location is not None else None,
        "lon": location.lon if location is not None else None,
        "created_by": incident.created_by,
        "owner": incident.owner,
        "assignee_user": incident.assignee.user,
        "assignee_team": incident.assignee.team,
        "correlation_key": incident.correlation_key,
        "alarm_count": incident.alarm_count,
        "last_alarm_at": incident.last_alarm_at,
        "resolution": incident.resolution,
        "caller_contact": incident.caller_contact,
        "revision": incident.revision,
        "escalation_level": incident.escalation_level,
        "next_escalation_at": incident.next_escalation_at,
    }


def _incident(row: IncidentRow, cameras: Sequence[str]) -> Incident:
    location = MapPosition(lat=row.lat, lon=row.lon) if row.lat is not None and row.lon is not None else None
    return Incident(
        id=row.id,
        type_code=row.type_code,
        category=IncidentCategory(row.category),
        title=row.title,
        state=IncidentState(row.state),
        priority=Priority(row.priority),
        source=AlarmSource(row.source),
        created_at=row.created_at,
        updated_at=row.updated_at,
        site_id=SiteId(row.site_id) if row.site_id is not None else None,
        camera_ids=tuple(CameraId(camera) for camera in cameras),
        location=location,
        created_by=row.created_by,
        owner=row.owner,
        assignee=Assignee(user=row.assignee_user, team=row.assignee_team),
        correlation_key=row.correlation_key,
        alarm_count=row.alarm_count,
        last_alarm_at=row.last_alarm_at,
        resolution=row.resolution,
        caller_contact=row.caller_contact,
        revision=row.revision,
        escalation_level=row.escalation_level,
        next_escalation_at=row.next_escalation_at,
    )


def _cameras_of(session: Session, ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {incident_id: [] for incident_id in ids}
    if not ids:
        return found
    stmt = (
        select(IncidentCameraRow)
        .where(IncidentCameraRow.incident_id.in_(ids))
        .order_by(IncidentCameraRow.incident_id, IncidentCameraRow.position)
    )
    for row in session.scalars(stmt):
        found[row.incident_id].append(row.camera_id)
    return found


def _heads(session: Session, rows: Sequence[IncidentRow]) -> list[Incident]:
    cameras = _cameras_of(session, [row.id for row in rows])
    return [_incident(row, cameras[row.id]) for row in rows]


def _one(session: Session, incident_id: str) -> Incident | None:
    row = session.get(IncidentRow, incident_id)
    return None if row is None else _heads(session, [row])[0]


def _sop_row(incident_id: str, step: SopStep) -> IncidentSopStepRow:
    return IncidentSopStepRow(
        incident_id=incident_id,
        step=step.index,
        text=step.text,
        state=step.state.value,
        actor=step.actor,
        at=step.at,
        reason=step.reason,
    )


def _add_record(session: Session, incident_id: str, record: IncidentRecord) -> None:
    if isinstance(record, Transition):
        session.add(
            IncidentTransitionRow(
                incident_id=incident_id,
                action=record.action.value,
                source=record.source.value,
                target=record.target.value,
                actor=record.actor,
                at=record.at,
                reason=record.reason,
            )
        )
    elif isinstance(record, SopStep):
        session.merge(_sop_row(incident_id, record))
    elif isinstance(record, Note):
        session.add(
            IncidentNoteRow(incident_id=incident_id, author=record.author, at=record.at, text=record.text)
        )
    elif isinstance(record, Attachment):
        session.merge(
            IncidentAttachmentRow(
                incident_id=incident_id, event_id=record.event_id, added_by=record.added_by, at=record.at
            )
        )
    else:
        session.add(
            IncidentEscalationRow(
                incident_id=incident_id,
                level=record.level,
                group_id=record.group,
                at=record.at,
                reason=record.reason,
            )
        )


def _filtered(stmt: Select[Any], query: IncidentQuery) -> Select[Any]:
    conditions: list[Any] = []
    if query.states:
        conditions.append(IncidentRow.state.in_([state.value for state in query.states]))
    if query.type_codes:
        conditions.append(IncidentRow.type_code.in_(query.type_codes))
    if query.priorities:
        conditions.append(IncidentRow.priority.in_([priority.value for priority in query.priorities]))
    if query.site_ids:
        conditions.append(IncidentRow.site_id.in_(query.site_ids))
    if query.camera_ids:
        conditions.append(IncidentRow.id.in_(_with_cameras(query.camera_ids)))
    if query.owner is not None:
        conditions.append(IncidentRow.owner == query.owner)
    if query.since is not None:
        conditions.append(IncidentRow.created_at >= query.since)
    if query.until is not None:
        conditions.append(IncidentRow.created_at < query.until)
    if query.visible_sites is not None or query.visible_cameras is not None:
        conditions.append(_visible(query))
    return stmt.where(*conditions)


def _with_cameras(cameras: frozenset[CameraId]) -> Select[Any]:
    return select(IncidentCameraRow.incident_id).where(IncidentCameraRow.camera_id.in_(cameras))


def _visible(query: IncidentQuery) -> Any:
    sites = query.visible_sites or frozenset()
    cameras = query.visible_cameras or frozenset()
    return or_(IncidentRow.site_id.in_(sites), IncidentRow.id.in_(_with_cameras(cameras)))


class SqlIncidentRepository:
    """Incidents in SQL (heads in ``incidents``, child records in ``incident_*``)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, incident: Incident, sop: Sequence[SopStep], key: InboundKey | None = None) -> Incident:
        """Store a new incident with its checklist (and its idempotency key) atomically.

        Raises:
            DuplicateError: If the id or the idempotency key is taken.
        """

        def write(session: Session) -> None:
            session.add(IncidentRow(id=incident.id, **_head_values(incident)))
            session.flush()
            for position, camera in enumerate(incident.camera_ids):
                session.add(IncidentCameraRow(incident_id=incident.id, camera_id=camera, position=position))
            for step in sop:
                session.add(_sop_row(incident.id, step))
            if key is not None:
                session.add(
                    InboundKeyRow(
                        source=key.source,
                        key=key.key,
                        body_sha256=key.body_sha256,
                        incident_id=incident.id,
                        at=key.at,
                    )
                )
            session.flush()

        try:
            self._db.write(write)
        except IntegrityError as err:
            raise DuplicateError(f"incident {incident.id!r} or its idempotency key already exists") from err
        return incident

    def get(self, incident_id: str) -> Incident | None:
        """The head of one incident, or ``None``."""
        return self._db.read(lambda session: _one(session, incident_id))

    def detail(self, incident_id: str) -> IncidentDetail | None:
        """One incident with every child record, or ``None``."""
        return self._db.read(lambda session: _detail(session, incident_id))

    def list(self, query: IncidentQuery) -> IncidentPage:
        """Incidents matching ``query``, newest first."""

        def read(session: Session) -> IncidentPage:
            total = session.scalar(_filtered(select(func.count()).select_from(IncidentRow), query)) or 0
            stmt = _filtered(select(IncidentRow), query).order_by(
                IncidentRow.created_at.desc(), IncidentRow.id
            )
            rows = list(session.scalars(stmt.limit(query.limit).offset(query.offset)))
            return IncidentPage(items=tuple(_heads(session, rows)), total=total)

        return self._db.read(read)

    def update(self, incident: Incident, expected_revision: int, *records: IncidentRecord) -> Incident:
        """Replace the head (checking the revision) and add ``records`` in one transaction.

        Raises:
            NotFoundError: If there is no such incident.
            ConflictError: If the stored revision is not ``expected_revision``.
        """

        def write(session: Session) -> None:
            stmt = (
                update(IncidentRow)
                .where(IncidentRow.id == incident.id, IncidentRow.revision == expected_revision)
                .values(**_head_values(incident))
            )
            result = session.execute(stmt)
            if not isinstance(result, CursorResult) or result.rowcount != 1:
                if session.get(IncidentRow, incident.id) is None:
                    raise NotFoundError(f"no incident with id {incident.id!r}")
                raise ConflictError(f"incident {incident.id} changed meanwhile; reload it and try again")
            session.execute(delete(IncidentCameraRow).where(IncidentCameraRow.incident_id == incident.id))
            for position, camera in enumerate(incident.camera_ids):
                session.add(IncidentCameraRow(incident_id=incident.id, camera_id=camera, position=position))
            for record in records:
                _add_record(session, incident.id, record)

        self._db.write(write)
        return incident

    def add_alarms(
        self, incident_id: str, count: int, last_alarm_at: datetime, updated_at: datetime
    ) -> Incident:
        """Count ``count`` more merged alarms atomically; returns the new head.

        Raises:
            NotFoundError: If there is no such incident.
        """

        def write(session: Session) -> Incident:
            stmt = (
                update(IncidentRow)
                .where(IncidentRow.id == incident_id)
                .values(
                    alarm_count=IncidentRow.alarm_count + count,
                    revision=IncidentRow.revision + 1,
                    last_alarm_at=last_alarm_at,
                    updated_at=updated_at,
                )
            )
            session.execute(stmt)
            session.expire_all()
            found = _one(session, incident_id)
            if found is None:
                raise NotFoundError(f"no incident with id {incident_id!r}")
            return found

        return self._db.write(write)

    def find_open(self, correlation_key: str) -> Incident | None:
        """The newest open incident with that correlation key, or ``None``."""

        def read(session: Session) -> Incident | None:
            stmt = (
                select(IncidentRow)
                .where(IncidentRow.correlation_key == correlation_key, IncidentRow.state.in_(_OPEN))
                .order_by(IncidentRow.created_at.desc())
                .limit(1)
            )
            rows = list(session.scalars(stmt))
            return _heads(session, rows)[0] if rows else None

        return self._db.read(read)

    def due_escalations(self, now: datetime, limit: int = 100) -> Sequence[Incident]:
        """New incidents whose next escalation is due by ``now``, oldest due first."""

        def read(session: Session) -> list[Incident]:
            stmt = (
                select(IncidentRow)
                .where(
                    IncidentRow.state == IncidentState.NEW.value,
                    IncidentRow.next_escalation_at.is_not(None),
                    IncidentRow.next_escalation_at <= now,
                )
                .order_by(IncidentRow.next_escalation_at)
                .limit(limit)
            )
            return _heads(session, list(session.scalars(stmt)))

        return self._db.read(read)

    def inbound_key(self, source: str, key: str) -> InboundKey | None:
        """The idempotency key of an inbound source, or ``None``."""

        def read(session: Session) -> InboundKey | None:
            row = session.get(InboundKeyRow, (source, key))
            if row is None:
                return None
            return InboundKey(
                source=row.source,
                key=row.key,
                body_sha256=row.body_sha256,
                incident_id=row.incident_id,
                at=row.at,
            )

        return self._db.read(read)


def _detail(session: Session, incident_id: str) -> IncidentDetail | None:
    incident = _one(session, incident_id)
    if incident is None:
        return None
    transitions = session.scalars(
        select(IncidentTransitionRow)
        .where(IncidentTransitionRow.incident_id == incident_id)
        .order_by(IncidentTransitionRow.id)
    )
    steps = session.scalars(
        select(IncidentSopStepRow)
        .where(IncidentSopStepRow.incident_id == incident_id)
        .order_by(IncidentSopStepRow.step)
    )
    notes = session.scalars(
        select(IncidentNoteRow).where(IncidentNoteRow.incident_id == incident_id).order_by(IncidentNoteRow.id)
    )
    attachments = session.scalars(
        select(IncidentAttachmentRow)
        .where(IncidentAttachmentRow.incident_id == incident_id)
        .order_by(IncidentAttachmentRow.at, IncidentAttachmentRow.event_id)
    )
    escalations = session.scalars(
        select(IncidentEscalationRow)
        .where(IncidentEscalationRow.incident_id == incident_id)
        .order_by(IncidentEscalationRow.id)
    )
    return IncidentDetail(
        incident=incident,
        transitions=tuple(
            Transition(
                action=IncidentAction(row.action),
                source=IncidentState(row.source),
                target=IncidentState(row.target),
                actor=row.actor,
                at=row.at,
                reason=row.reason,
            )
            for row in transitions
        ),
        sop=tuple(
            SopStep(
                index=row.step,
                text=row.text,
                state=SopStepState(row.state),
                actor=row.actor,
                at=row.at,
                reason=row.reason,
            )
            for row in steps
        ),
        notes=tuple(Note(author=row.author, at=row.at, text=row.text, id=row.id) for row in notes),
        attachments=tuple(
            Attachment(event_id=row.event_id, added_by=row.added_by, at=row.at) for row in attachments
        ),
        escalations=tuple(
            Escalation(level=row.level, group=row.group_id, at=row.at, reason=row.reason)
            for row in escalations
        ),
    )
