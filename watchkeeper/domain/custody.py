"""Chain of custody: the hash-chained audit log, unmask grants, wrapped data keys and evidence exports."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from watchkeeper.domain.errors import WatchkeeperError
from watchkeeper.domain.ids import CameraId

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first audit record."""


class GrantRefusedError(WatchkeeperError):
    """An unmask grant operation is not allowed (self-approval, wrong state, expired)."""

    code = "grant_refused"


class NoGrantError(WatchkeeperError):
    """Originals were asked for without a valid unmask grant covering the camera and time."""

    code = "unmask_grant_required"


def canonical_json(value: object) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept (what audit hashes and manifests are over)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened, before it is chained: who did what to which object, from where and why.

    ``details`` is a canonical JSON object (use :func:`canonical_json`), ``"{}"`` when there is nothing more.
    """

    at: datetime
    actor: str
    action: str
    target: str = ""
    client: str = ""
    reason: str = ""
    details: str = "{}"

    def chained(self, seq: int, prev_hash: str) -> AuditRecord:
        """The record at position ``seq`` after a record whose hash is ``prev_hash``."""
        record = AuditRecord(
            seq,
            self.at,
            self.actor,
            self.action,
            self.target,
            self.client,
            self.reason,
            self.details,
            prev_hash,
        )
        return replace(record, hash=record.compute_hash())


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored audit record; ``hash`` is SHA-256 over the canonical JSON of every other field."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    client: str
    reason: str
    details: str
    prev_hash: str
    hash: str = ""

    def canonical(self) -> dict[str, object]:
        """The hashed fields as a JSON-ready mapping."""
        return {
            "seq": self.seq,
            "at": _iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "client": self.client,
            "reason": self.reason,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        """SHA-256 (hex) of :meth:`canonical` as canonical JSON."""
        return hashlib.sha256(canonical_json(self.canonical()).encode()).hexdigest()

    def as_json(self) -> dict[str, object]:
        """The record with its hash, as written to audit excerpts."""
        return {**self.canonical(), "hash": self.hash}


class GrantState(StrEnum):
    """Where an unmask grant is in its life."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    REVOKED = "revoked"


class GrantScope(StrEnum):
    """What a grant unmasks: recorded originals, or (break glass) live originals."""

    RECORDINGS = "recordings"
    LIVE = "live"


@dataclass(frozen=True, slots=True)
class UnmaskGrant:
    """Access to originals of cameras over ``[start, end)``, asked for by one user, decided by another."""

    id: str
    requester: str
    camera_ids: tuple[CameraId, ...]
    start: datetime
    end: datetime
    reason: str
    requested_at: datetime
    valid_hours: float
    scope: GrantScope = GrantScope.RECORDINGS
    state: GrantState = GrantState.PENDING
    expires_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""
    revoked_by: str | None = None
    revoked_at: datetime | None = None
    break_glass: bool = False

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a grant's end must be after its start")
        if not self.camera_ids:
            raise ValueError("a grant names at least one camera")
        if not self.reason.strip():
            raise ValueError("a grant needs a reason")

    def active(self, now: datetime) -> bool:
        """True while approved, not revoked and not expired."""
        return self.state is GrantState.APPROVED and self.expires_at is not None and now < self.expires_at

    def covers(self, camera_id: CameraId, start: datetime, end: datetime, now: datetime) -> bool:
        """True when active at ``now`` for ``camera_id`` with ``[start, end)`` inside the grant's range."""
        return self.active(now) and camera_id in self.camera_ids and self.start <= start and end <= self.end


@dataclass(frozen=True, slots=True)
class DataKeyRecord:
    """A camera's data key of one day, wrapped (encrypted) by the master key ``master_key_id``."""

    id: str
    camera_id: CameraId
    day: date
    master_key_id: str
    wrapped: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One evidence export: its bundle, what it covers, and the evidence locks holding its footage."""

    id: str
    created_by: str
    created_at: datetime
    camera_ids: tuple[CameraId, ...]
    start: datetime
    end: datetime
    reason: str
    rendition: str
    bundle: str
    manifest_sha256: str
    lock_ids: tuple[int, ...] = ()
    grant_id: str | None = None
    parent_id: str | None = None
    released_at: datetime | None = None
    released_by: str | None = None
