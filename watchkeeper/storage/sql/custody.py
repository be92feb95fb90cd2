"""The chain of custody in SQL: audit log, unmask grants, wrapped data keys and evidence exports.

Audit appends serialise: on SQLite through the single writer, on PostgreSQL through a transaction-level
advisory lock, so two writers never chain onto the same head.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper.domain import CameraId, ConflictError, NotFoundError, ensure_utc
from watchkeeper.domain.custody import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    DataKeyRecord,
    ExportRecord,
    GrantScope,
    GrantState,
    UnmaskGrant,
)
from watchkeeper.storage.sql.engine import Database
from watchkeeper.storage.sql.models import AuditRow, DataKeyRow, EvidenceExportRow, UnmaskGrantRow

_PG_AUDIT_LOCK = 0x57_4B_41_55  # "WKAU": one audit append at a time


def _audit(row: AuditRow) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        client=row.client,
        reason=row.reason,
        details=row.details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class SqlAuditRepository:
    """The audit log in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Chain ``entry`` after the current head in one write transaction."""

        def write(session: Session) -> AuditRecord:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK})
            head = session.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).first()
            seq, prev = (1, GENESIS_HASH) if head is None else (head.seq + 1, head.hash)
            record = entry.chained(seq, prev)
            session.add(
                AuditRow(
                    seq=record.seq,
                    at=ensure_utc(record.at),
                    actor=record.actor,
                    action=record.action,
                    target=record.target,
                    client=record.client,
                    reason=record.reason,
                    details=record.details,
                    prev_hash=record.prev_hash,
                    hash=record.hash,
                )
            )
            return record

        return self._db.write(write)

    def head(self) -> AuditRecord | None:
        """The newest record, or ``None``."""

        def read(session: Session) -> AuditRecord | None:
            row = session.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).first()
            return None if row is None else _audit(row)

        return self._db.read(read)

    def page(self, after_seq: int, limit: int = 1000) -> Sequence[AuditRecord]:
        """Records after ``after_seq`` in chain order."""

        def read(session: Session) -> list[AuditRecord]:
            query = select(AuditRow).where(AuditRow.seq > after_seq).order_by(AuditRow.seq).limit(limit)
            return [_audit(row) for row in session.scalars(query)]

        return self._db.read(read)

    def about(self, targets: Collection[str], limit: int = 10000) -> Sequence[AuditRecord]:
        """Records whose target is one of ``targets``, in chain order."""
        wanted = sorted(set(targets))
        if not wanted:
            return []

        def read(session: Session) -> list[AuditRecord]:
            query = select(AuditRow).where(AuditRow.target.in_(wanted)).order_by(AuditRow.seq).limit(limit)
            return [_audit(row) for row in session.scalars(query)]

        return self._db.read(read)


def _grant(row: UnmaskGrantRow) -> UnmaskGrant:
    return UnmaskGrant(
        id=row.id,
        requester=row.requester,
        camera_ids=tuple(CameraId(c) for c in json.loads(row.camera_ids)),
        start=row.start,
        end=row.end,
        reason=row.reason,
        requested_at=row.requested_at,
        valid_hours=row.valid_hours,
        scope=GrantScope(row.scope),
        state=GrantState(row.state),
        expires_at=row.expires_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=row.note,
        revoked_by=row.revoked_by,
        revoked_at=row.revoked_at,
        break_glass=row.break_glass,
    )


def _fill_grant(row: UnmaskGrantRow, grant: UnmaskGrant) -> None:
    row.requester = grant.requester
    row.camera_ids = json.dumps(list(grant.camera_ids))
    row.start = ensure_utc(grant.start)
    row.end = ensure_utc(grant.end)
    row.reason = grant.reason
    row.requested_at = ensure_utc(grant.requested_at)
    row.valid_hours = grant.valid_hours
    row.scope = grant.scope.value
    row.state = grant.state.value
    row.expires_at = grant.expires_at
    row.decided_by = grant.decided_by
    row.decided_at = grant.decided_at
    row.note = grant.note
    row.revoked_by = grant.revoked_by
    row.revoked_at = grant.revoked_at
    row.break_glass = grant.break_glass


class SqlGrantRepository:
    """Unmask grants in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, grant: UnmaskGrant) -> UnmaskGrant:
        """Store a new grant."""

        def write(session: Session) -> UnmaskGrant:
            row = UnmaskGrantRow(id=grant.id)
            _fill_grant(row, grant)
            session.add(row)
            session.flush()
            return _grant(row)

        return self._db.write(write)

    def get(self, grant_id: str) -> UnmaskGrant | None:
        """One grant, or ``None``."""

        def read(session: Session) -> UnmaskGrant | None:
            row = session.get(UnmaskGrantRow, grant_id)
            return None if row is None else _grant(row)

        return self._db.read(read)

    def list(self, requester: str | None = None, limit: int = 200) -> Sequence[UnmaskGrant]:
        """Grants newest first."""

        def read(session: Session) -> list[UnmaskGrant]:
            query = select(UnmaskGrantRow).order_by(UnmaskGrantRow.requested_at.desc()).limit(limit)
            if requester is not None:
                query = query.where(UnmaskGrantRow.requester == requester)
            return [_grant(row) for row in session.scalars(query)]

        return self._db.read(read)

    def save(self, grant: UnmaskGrant, expected_state: str) -> UnmaskGrant:
        """Replace a grant whose state is still ``expected_state``."""

        def write(session: Session) -> UnmaskGrant:
            row = session.get(UnmaskGrantRow, grant.id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no unmask grant with id {grant.id!r}")
            if row.state != expected_state:
                raise ConflictError(f"unmask grant {grant.id} is {row.state}, no longer {expected_state}")
            _fill_grant(row, grant)
            session.flush()
            return _grant(row)

        return self._db.write(write)


def _key(row: DataKeyRow) -> DataKeyRecord:
    return DataKeyRecord(
        id=row.id,
        camera_id=CameraId(row.camera_id),
        day=date.fromisoformat(row.day),
        master_key_id=row.master_key_id,
        wrapped=bytes(row.wrapped),
        created_at=row.created_at,
    )


class SqlDataKeyRepository:
    """Wrapped data keys in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, record: DataKeyRecord) -> DataKeyRecord:
        """Store a key, or return the one that camera and day already has."""

        def write(session: Session) -> DataKeyRecord:
            existing = session.scalars(
                select(DataKeyRow).where(
                    DataKeyRow.camera_id == record.camera_id, DataKeyRow.day == record.day.isoformat()
                )
            ).first()
            if existing is not None:
                return _key(existing)
            row = DataKeyRow(
                id=record.id,
                camera_id=record.camera_id,
                day=record.day.isoformat(),
                master_key_id=record.master_key_id,
                wrapped=record.wrapped,
                created_at=ensure_utc(record.created_at),
            )
            session.add(row)
            session.flush()
            return _key(row)

        try:
            return self._db.write(write)
        except IntegrityError:
            # Another process made that day's key at the same moment: use theirs.
            stored = self._find(record.camera_id, record.day)
            if stored is None:
                raise
            return stored

    def keep(self, record: DataKeyRecord) -> None:
        """Insert ``record`` unless its id exists (safe to replay)."""

        def write(session: Session) -> None:
            if session.get(DataKeyRow, record.id) is not None:
                return
            session.add(
                DataKeyRow(
                    id=record.id,
                    camera_id=record.camera_id,
                    day=record.day.isoformat(),
                    master_key_id=record.master_key_id,
                    wrapped=record.wrapped,
                    created_at=ensure_utc(record.created_at),
                )
            )

        try:
            self._db.write(write)
        except IntegrityError:
            if self.get(record.id) is None:  # not a replay racing another: a real conflict
                raise

    def _find(self, camera_id: CameraId, day: date) -> DataKeyRecord | None:
        def read(session: Session) -> DataKeyRecord | None:
            row = session.scalars(
                select(DataKeyRow).where(DataKeyRow.camera_id == camera_id, DataKeyRow.day == day.isoformat())
            ).first()
            return None if row is None else _key(row)

        return self._db.read(read)

    def get(self, key_id: str) -> DataKeyRecord | None:
        """One key, or ``None``."""

        def read(session: Session) -> DataKeyRecord | None:
            row = session.get(DataKeyRow, key_id)
            return None if row is None else _key(row)

        return self._db.read(read)

    def list(self) -> Sequence[DataKeyRecord]:
        """Every key, by id."""

        def read(session: Session) -> list[DataKeyRecord]:
            return [_key(row) for row in session.scalars(select(DataKeyRow).order_by(DataKeyRow.id))]

        return self._db.read(read)

    def rewrap(self, key_id: str, master_key_id: str, wrapped: bytes) -> None:
        """Replace a key's wrapping."""

        def write(session: Session) -> None:
            row = session.get(DataKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"no data key {key_id!r}")
            row.master_key_id = master_key_id
            row.wrapped = wrapped

        self._db.write(write)

    def count(self) -> int:
        """How many keys exist."""
        return self._db.read(lambda session: int(session.scalar(select(func.count(DataKeyRow.id))) or 0))


def _export(row: EvidenceExportRow) -> ExportRecord:
    return ExportRecord(
        id=row.id,
        created_by=row.created_by,
        created_at=row.created_at,
        camera_ids=tuple(CameraId(c) for c in json.loads(row.camera_ids)),
        start=row.start,
        end=row.end,
        reason=row.reason,
        rendition=row.rendition,
        bundle=row.bundle,
        manifest_sha256=row.manifest_sha256,
        lock_ids=tuple(int(i) for i in json.loads(row.lock_ids)),
        grant_id=row.grant_id,
        parent_id=row.parent_id,
        released_at=row.released_at,
        released_by=row.released_by,
    )


def _fill_export(row: EvidenceExportRow, record: ExportRecord) -> None:
    row.created_by = record.created_by
    row.created_at = ensure_utc(record.created_at)
    row.camera_ids = json.dumps(list(record.camera_ids))
    row.start = ensure_utc(record.start)
    row.end = ensure_utc(record.end)
    row.reason = record.reason
    row.rendition = record.rendition
    row.bundle = record.bundle
    row.manifest_sha256 = record.manifest_sha256
    row.lock_ids = json.dumps(list(record.lock_ids))
    row.grant_id = record.grant_id
    row.parent_id = record.parent_id
    row.released_at = record.released_at
    row.released_by = record.released_by


class SqlExportRepository:
    """Evidence exports in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, record: ExportRecord) -> ExportRecord:
        """Store a new export."""

        def write(session: Session) -> ExportRecord:
            row = EvidenceExportRow(id=record.id)
            _fill_export(row, record)
            session.add(row)
            session.flush()
            return _export(row)

        return self._db.write(write)

    def get(self, export_id: str) -> ExportRecord | None:
        """One export, or ``None``."""

        def read(session: Session) -> ExportRecord | None:
            row = session.get(EvidenceExportRow, export_id)
            return None if row is None else _export(row)

        return self._db.read(read)

    def list(self, limit: int = 200) -> Sequence[ExportRecord]:
        """Exports newest first."""

        def read(session: Session) -> list[ExportRecord]:
            query = select(EvidenceExportRow).order_by(EvidenceExportRow.created_at.desc()).limit(limit)
            return [_export(row) for row in session.scalars(query)]

        return self._db.read(read)

    def save(self, record: ExportRecord) -> ExportRecord:
        """Replace an export."""

        def write(session: Session) -> ExportRecord:
            row = session.get(EvidenceExportRow, record.id)
            if row is None:
                raise NotFoundError(f"no export with id {record.id!r}")
            _fill_export(row, record)
            session.flush()
            return _export(row)

        return self._db.write(write)
