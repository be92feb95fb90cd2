"""Request and response models of unmask grants, evidence exports and the retention notice."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from watchkeeper.domain.custody import ExportRecord, UnmaskGrant


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


CameraIds = list[str]


class GrantIn(_Model):
    """An unmask request: originals of these cameras over this range, and why."""

    camera_ids: CameraIds = Field(min_length=1, max_length=50)
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=10, max_length=2000, description="Why the originals are needed.")
    valid_hours: float | None = Field(default=None, gt=0, le=720, description="Default: the configured.")


class GrantDecisionIn(_Model):
    """An approver's note (optional)."""

    note: str = Field(default="", max_length=2000)


class BreakGlassIn(_Model):
    """Emergency access to live originals."""

    camera_ids: CameraIds = Field(min_length=1, max_length=50)
    reason: str = Field(min_length=10, max_length=2000)


class GrantOut(_Model):
    """An unmask grant."""

    id: str
    requester: str
    camera_ids: list[str]
    start: datetime
    end: datetime
    reason: str
    scope: str
    state: str
    requested_at: datetime
    expires_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    note: str
    revoked_by: str | None
    revoked_at: datetime | None
    break_glass: bool

    @classmethod
    def of(cls, grant: UnmaskGrant) -> GrantOut:
        """From the domain grant."""
        return cls(
            id=grant.id,
            requester=grant.requester,
            camera_ids=list(grant.camera_ids),
            start=grant.start,
            end=grant.end,
            reason=grant.reason,
            scope=grant.scope.value,
            state=grant.state.value,
            requested_at=grant.requested_at,
            expires_at=grant.expires_at,
            decided_by=grant.decided_by,
            decided_at=grant.decided_at,
            note=grant.note,
            revoked_by=grant.revoked_by,
            revoked_at=grant.revoked_at,
            break_glass=grant.break_glass,
        )


class ExportIn(_Model):
    """An evidence export: protected footage by default, originals only under an unmask grant."""

    camera_ids: CameraIds = Field(min_length=1, max_length=16)
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=5, max_length=2000)
    rendition: Literal["protected", "original"] = "protected"
    parent_id: str | None = Field(default=None, max_length=64, description="The export this re-exports.")


class ExportOut(_Model):
    """An evidence export."""

    id: str
    created_by: str
    created_at: datetime
    camera_ids: list[str]
    start: datetime
    end: datetime
    reason: str
    rendition: str
    manifest_sha256: str
    grant_id: str | None
    parent_id: str | None
    released_at: datetime | None
    released_by: str | None

    @classmethod
    def of(cls, record: ExportRecord) -> ExportOut:
        """From the domain record."""
        return cls(
            id=record.id,
            created_by=record.created_by,
            created_at=record.created_at,
            camera_ids=list(record.camera_ids),
            start=record.start,
            end=record.end,
            reason=record.reason,
            rendition=record.rendition,
            manifest_sha256=record.manifest_sha256,
            grant_id=record.grant_id,
            parent_id=record.parent_id,
            released_at=record.released_at,
            released_by=record.released_by,
        )


class RetentionOut(_Model):
    """How long footage is kept (the console shows it)."""

    retain_days: int = Field(description="Days recordings are kept.")
    event_retain_days: int = Field(description="Days footage overlapping an event is kept.")
    encrypt_originals: bool


class WsBreakGlass(BaseModel):
    """WebSocket message to approvers: someone broke the glass (emergency access to live originals)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["break_glass"] = "break_glass"
    grant_id: str
    requester: str
    camera_ids: list[str]
    reason: str
    at: datetime
    expires_at: datetime
