"""ORM tables. Rows never leave the ``sql`` package: repositories convert them to domain dataclasses."""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names so migrations can refer to them on every backend."""


class UTCDateTime(TypeDecorator[datetime]):
    """A portable timestamp column that stores UTC and always returns aware UTC datetimes.

    PostgreSQL stores it as ``timestamp with time zone``; SQLite as text without a zone, which is why the
    value is normalised to UTC before it is written and tagged as UTC when it is read. Naive datetimes are
    rejected because their zone is unknown.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise an aware datetime to UTC (naive ones are refused)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"expected an aware datetime, got naive {value.isoformat()}")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def big_id() -> BigInteger:
    """An id column type of tables that grow with recording: ``bigint`` on PostgreSQL.

    SQLite keeps ``INTEGER`` there: only an ``INTEGER PRIMARY KEY`` is the (already 64-bit) row id that
    numbers new rows by itself.
    """
    return BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every Watchkeeper table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SiteRow(Base):
    """A site."""

    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class CameraRow(Base):
    """A camera and its optional map position (credentials are never stored)."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[str] = mapped_column(String(64), ForeignKey("sites.id"), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    fov_deg: Mapped[float | None] = mapped_column(Float)
    floor: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class SegmentRow(Base):
    """One recorded segment file."""

    __tablename__ = "segments"
    __table_args__ = (
        Index("ix_segments_camera_id_start", "camera_id", "start"),
        Index("ix_segments_camera_id_rendition_start", "camera_id", "rendition", "start"),
        Index("ix_segments_tier_end", "tier", "end"),
        Index("ix_segments_camera_id_tier_start", "camera_id", "tier", "start"),
        Index("ix_segments_camera_id_tier_end", "camera_id", "tier", "end"),
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    video_codec: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    keyframes: Mapped[int] = mapped_column(Integer)
    audio_codec: Mapped[str | None] = mapped_column(String(32))
    rendition: Mapped[str] = mapped_column(String(16), default="original", server_default="original")
    tier: Mapped[str] = mapped_column(String(8), default="hot", server_default="hot")
    object_key: Mapped[str | None] = mapped_column(String(1024))
    sha256: Mapped[str | None] = mapped_column(String(64))


class EventRow(Base):
    """One analysis event."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_camera_id_start", "camera_id", "start"),
        Index("ix_events_start", "start"),
        Index("ix_events_object_class_start", "object_class", "start"),
        Index("ix_events_kind_start", "kind", "start"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    score: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(200), default="")
    rule: Mapped[str | None] = mapped_column(String(200))
    zone: Mapped[str | None] = mapped_column(String(200))
    object_class: Mapped[str | None] = mapped_column(String(200))
    track_id: Mapped[int | None] = mapped_column(BigInteger)
    best_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    direction: Mapped[str | None] = mapped_column(String(8))
    object_count: Mapped[int | None] = mapped_column(Integer)


class EvidenceLockRow(Base):
    """A range of a camera's recording that retention must not delete until released."""

    __tablename__ = "evidence_locks"
    __table_args__ = (Index("ix_evidence_locks_camera_id_start", "camera_id", "start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserRow(Base):
    """A local user (argon2id password hash)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class RoleGrantRow(Base):
    """One scope of a role grant: a site, a camera, or (both empty) everything."""

    __tablename__ = "role_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str | None] = mapped_column(String(64))
    camera_id: Mapped[str | None] = mapped_column(String(64))


class SessionRow(Base):
    """A console session; the cookie secret is stored as its SHA-256 only."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    absolute_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiTokenRow(Base):
    """A bearer token; the secret is stored as its SHA-256 only."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginThrottleRow(Base):
    """Failed-login counter of an account (``user:NAME``) or a source address (``addr:IP``)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IncidentRow(Base):
    """The head of an incident (child records in the ``incident_*`` tables)."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_created_at", "created_at"),
        Index("ix_incidents_state_next_escalation_at", "state", "next_escalation_at"),
        Index("ix_incidents_correlation_key", "correlation_key"),
        Index("ix_incidents_site_id", "site_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type_code: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    site_id: Mapped[str | None] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(200))
    assignee_user: Mapped[str | None] = mapped_column(String(200))
    assignee_team: Mapped[str | None] = mapped_column(String(64))
    correlation_key: Mapped[str | None] = mapped_column(String(300))
    alarm_count: Mapped[int] = mapped_column(BigInteger)
    last_alarm_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(Text)
    caller_contact: Mapped[bytes | None] = mapped_column(LargeBinary)
    revision: Mapped[int] = mapped_column(Integer)
    escalation_level: Mapped[int] = mapped_column(Integer)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def _incident_fk() -> Mapped[str]:
    return mapped_column(String(64), ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)


class IncidentCameraRow(Base):
    """A camera linked to an incident."""

    __tablename__ = "incident_cameras"
    __table_args__ = (Index("ix_incident_cameras_camera_id", "camera_id"),)

    incident_id: Mapped[str] = _incident_fk()
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class IncidentTransitionRow(Base):
    """A state change: who, when, from, to and why."""

    __tablename__ = "incident_transitions"

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)


class IncidentSopStepRow(Base):
    """One SOP checklist step of an incident."""

    __tablename__ = "incident_sop_steps"

    incident_id: Mapped[str] = _incident_fk()
    step: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)


class IncidentNoteRow(Base):
    """A handler's note."""

    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)


class IncidentAttachmentRow(Base):
    """An analysis event attached to an incident."""

    __tablename__ = "incident_attachments"

    incident_id: Mapped[str] = _incident_fk()
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentEscalationRow(Base):
    """An escalation of an unacknowledged incident."""

    __tablename__ = "incident_escalations"

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[int] = mapped_column(Integer)
    group_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)


class InboundKeyRow(Base):
    """The idempotency key of an inbound alarm and the incident it created."""

    __tablename__ = "inbound_alarm_keys"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[str] = mapped_column(String(64), ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDeliveryRow(Base):
    """One outbound webhook delivery: pending, delivered or dead (a dead letter)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook", "webhook"),
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    webhook: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentJournalRow(Base):
    """One announced incident change; ``seq`` is the cursor reconnecting consoles resume from."""

    __tablename__ = "incident_journal"
    __table_args__ = (
        UniqueConstraint("incident_id", "revision", name="uq_incident_journal_incident_id_revision"),
        Index("ix_incident_journal_at", "at"),
    )

    seq: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRow(Base):
    """One audit record: append-only, each holding the hash of the one before (``seq`` is the chain order)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target"), Index("ix_audit_log_at", "at"))

    seq: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    client: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class UnmaskGrantRow(Base):
    """An unmask grant (camera ids as a JSON list)."""

    __tablename__ = "unmask_grants"
    __table_args__ = (Index("ix_unmask_grants_requester", "requester"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    requester: Mapped[str] = mapped_column(String(200))
    camera_ids: Mapped[str] = mapped_column(Text)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_hours: Mapped[float] = mapped_column(Float)
    scope: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    break_glass: Mapped[bool] = mapped_column(Boolean)


class DataKeyRow(Base):
    """A camera's data key of one day, wrapped by a master key kept outside the database."""

    __tablename__ = "data_keys"
    __table_args__ = (Index("ix_data_keys_camera_id_day", "camera_id", "day"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))
    master_key_id: Mapped[str] = mapped_column(String(64))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EvidenceExportRow(Base):
    """An evidence export bundle and the evidence locks holding its source footage (ids as JSON lists)."""

    __tablename__ = "evidence_exports"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    camera_ids: Mapped[str] = mapped_column(Text)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    rendition: Mapped[str] = mapped_column(String(16))
    bundle: Mapped[str] = mapped_column(String(1024))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    lock_ids: Mapped[str] = mapped_column(Text)
    grant_id: Mapped[str | None] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(200))


class FenceRow(Base):
    """The newest fencing token seen for a camera's index writes (camera leases, issue 10)."""

    __tablename__ = "fences"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
