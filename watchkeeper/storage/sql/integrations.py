"""Webhook deliveries (with dead letters) and the incident change journal, in SQL.

Claiming due deliveries moves their ``next_attempt_at`` forward by a lease inside one write transaction
(the SQLite single writer; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two servers sharing a database
never send the same delivery at the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper.domain import NotFoundError
from watchkeeper.domain.integrations import DeliveryPage, DeliveryState, JournalEntry, WebhookDelivery
from watchkeeper.storage.sql.engine import Database
from watchkeeper.storage.sql.models import IncidentJournalRow, WebhookDeliveryRow


def _delivery(row: WebhookDeliveryRow) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        webhook=row.webhook,
        event=row.event,
        subject_id=row.subject_id,
        payload=row.payload,
        state=DeliveryState(row.state),
        attempts=row.attempts,
        last_error=row.last_error,
        last_status=row.last_status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_attempt_at=row.next_attempt_at,
    )


class SqlWebhookDeliveryRepository:
    """Webhook deliveries: the outbox of the webhook dispatcher and the dead-letter list."""

    def __init__(self, database: Database) -> None:
        """Work on ``database``."""
        self._db = database

    def add(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """Store a new delivery; returns it with its id."""
        row = WebhookDeliveryRow(
            webhook=delivery.webhook,
            event=delivery.event,
            subject_id=delivery.subject_id,
            payload=delivery.payload,
            state=delivery.state.value,
            attempts=delivery.attempts,
            last_error=delivery.last_error,
            last_status=delivery.last_status,
            created_at=delivery.created_at,
            updated_at=delivery.updated_at or delivery.created_at,
            next_attempt_at=delivery.next_attempt_at,
        )

        def write(session: Session) -> WebhookDelivery:
            session.add(row)
            session.flush()
            return _delivery(row)

        return self._db.write(write)

    def get(self, delivery_id: int) -> WebhookDelivery | None:
        """One delivery, or ``None``."""

        def read(session: Session) -> WebhookDelivery | None:
            row = session.get(WebhookDeliveryRow, delivery_id)
            return None if row is None else _delivery(row)

        return self._db.read(read)

    def list(
        self, state: DeliveryState | None = None, webhook: str | None = None, limit: int = 50, offset: int = 0
    ) -> DeliveryPage:
        """Deliveries newest first, optionally of one state and one webhook."""
        conditions = []
        if state is not None:
            conditions.append(WebhookDeliveryRow.state == state.value)
        if webhook is not None:
            conditions.append(WebhookDeliveryRow.webhook == webhook)

        def read(session: Session) -> DeliveryPage:
            total = session.scalar(select(func.count()).select_from(WebhookDeliveryRow).where(*conditions))
            rows = session.scalars(
                select(WebhookDeliveryRow)
                .where(*conditions)
                .order_by(WebhookDeliveryRow.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return DeliveryPage(tuple(_delivery(row) for row in rows), int(total or 0))

        return self._db.read(read)

    def claim(self, now: datetime, lease_until: datetime, limit: int = 50) -> Sequence[WebhookDelivery]:
        """Pending deliveries due at ``now``, oldest first; each is leased until ``lease_until``."""

        def write(session: Session) -> list[WebhookDelivery]:
            stmt = (
                select(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.state == DeliveryState.PENDING.value,
                    WebhookDeliveryRow.next_attempt_at <= now,
                )
                .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list(session.scalars(stmt))
            claimed = [_delivery(row) for row in rows]
            for row in rows:
                row.next_attempt_at = lease_until
            return claimed

        return self._db.write(write)

    def save(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """Write the outcome of an attempt (state, attempts, error, next attempt).

        Raises:
            NotFoundError: If the delivery is gone.
        """
        if delivery.id is None:
            raise NotFoundError("a delivery without an id cannot be saved; add it first")
        delivery_id = delivery.id

        def write(session: Session) -> WebhookDelivery:
            row = session.get(WebhookDeliveryRow, delivery_id)
            if row is None:
                raise NotFoundError(f"no webhook delivery with id {delivery_id}")
            row.state = delivery.state.value
            row.attempts = delivery.attempts
            row.last_error = delivery.last_error
            row.last_status = delivery.last_status
            row.next_attempt_at = delivery.next_attempt_at
            row.updated_at = delivery.updated_at or row.updated_at
            return _delivery(row)

        return self._db.write(write)

    def retry(self, delivery_id: int, now: datetime) -> WebhookDelivery:
        """Send a dead letter again: back to pending, attempts reset, due at ``now``.

        Raises:
            NotFoundError: If no delivery has that id.
        """

        def write(session: Session) -> WebhookDelivery:
            row = session.get(WebhookDeliveryRow, delivery_id)
            if row is None:
                raise NotFoundError(f"no webhook delivery with id {delivery_id}")
            row.state = DeliveryState.PENDING.value
            row.attempts = 0
            row.next_attempt_at = now
            row.updated_at = now
            return _delivery(row)

        return self._db.write(write)

    def prune(self, state: DeliveryState, before: datetime) -> int:
        """Delete deliveries in ``state`` last changed before ``before``; returns how many."""

        def write(session: Session) -> int:
            result = session.execute(
                delete(WebhookDeliveryRow).where(
                    WebhookDeliveryRow.state == state.value, WebhookDeliveryRow.updated_at < before
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

        return self._db.write(write)


def _entry(row: IncidentJournalRow) -> JournalEntry:
    return JournalEntry(
        seq=row.seq, incident_id=row.incident_id, revision=row.revision, payload=row.payload, at=row.at
    )


class SqlIncidentJournal:
    """Incident changes in the order they were announced; consoles resume from a ``seq`` cursor."""

    def __init__(self, database: Database) -> None:
        """Work on ``database``."""
        self._db = database

    def append(self, entry: JournalEntry) -> JournalEntry:
        """Store ``entry`` unless this incident revision is already there; returns the stored entry."""
        existing = self._find(entry.incident_id, entry.revision)
        if existing is not None:
            return existing
        row = IncidentJournalRow(
            incident_id=entry.incident_id, revision=entry.revision, payload=entry.payload, at=entry.at
        )

        def write(session: Session) -> int:
            session.add(row)
            session.flush()
            return row.seq

        try:
            seq = self._db.write(write)
        except IntegrityError:  # another server journalled the same revision first
            stored = self._find(entry.incident_id, entry.revision)
            if stored is None:
                raise
            return stored
        return replace(entry, seq=seq)

    def _find(self, incident_id: str, revision: int) -> JournalEntry | None:
        def read(session: Session) -> JournalEntry | None:
            row = session.scalar(
                select(IncidentJournalRow).where(
                    IncidentJournalRow.incident_id == incident_id, IncidentJournalRow.revision == revision
                )
            )
            return None if row is None else _entry(row)

        return self._db.read(read)

    def after(self, seq: int, limit: int = 500) -> Sequence[JournalEntry]:
        """Entries with a cursor above ``seq``, in order, at most ``limit``."""

        def read(session: Session) -> list[JournalEntry]:
            rows = session.scalars(
                select(IncidentJournalRow)
                .where(IncidentJournalRow.seq > seq)
                .order_by(IncidentJournalRow.seq)
                .limit(limit)
            )
            return [_entry(row) for row in rows]

        return self._db.read(read)

    def last_seq(self) -> int:
        """The newest cursor (0 when the journal is empty)."""
        return self._db.read(
            lambda session: int(session.scalar(select(func.max(IncidentJournalRow.seq))) or 0)
        )

    def prune(self, before: datetime) -> int:
        """Delete entries received before ``before``; returns how many."""

        def write(session: Session) -> int:
            result = session.execute(delete(IncidentJournalRow).where(IncidentJournalRow.at < before))
            return int(getattr(result, "rowcount", 0) or 0)

        return self._db.write(write)
