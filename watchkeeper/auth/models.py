"""Stored auth records (pure frozen dataclasses, shared by the auth services and the storage backends)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from watchkeeper.domain import CameraId, SiteId


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """A role given to a user, scoped to sites and/or cameras; no sites and no cameras means everything."""

    role: str
    sites: frozenset[SiteId] = field(default_factory=frozenset)
    cameras: frozenset[CameraId] = field(default_factory=frozenset)

    @property
    def is_global(self) -> bool:
        """True when the grant is not limited to any site or camera."""
        return not self.sites and not self.cameras


@dataclass(frozen=True, slots=True)
class User:
    """A local user (the password hash never leaves the auth services)."""

    username: str
    display_name: str
    password_hash: str
    created_at: datetime
    password_changed_at: datetime
    grants: tuple[RoleGrant, ...] = ()
    disabled: bool = False
    id: int | None = None


@dataclass(frozen=True, slots=True)
class UserChange:
    """Fields of a user to change; ``None`` leaves a field as it is."""

    display_name: str | None = None
    disabled: bool | None = None
    grants: tuple[RoleGrant, ...] | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A server-side console session; the cookie holds a secret whose SHA-256 is ``token_hash``."""

    id: str
    user_id: int
    token_hash: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    absolute_expires_at: datetime
    source: str = ""
    user_agent: str = ""
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """True while not revoked and not expired (idle or absolute)."""
        return self.revoked_at is None and now < self.expires_at and now < self.absolute_expires_at


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    """A bearer token for API clients and service accounts, stored as the SHA-256 of the secret."""

    id: str
    user_id: int
    name: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """True while not revoked and not expired."""
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    """Failed-login count of one key (``user:NAME`` or ``addr:IP``) and until when it is blocked."""

    key: str
    failures: int
    last_failure_at: datetime
    blocked_until: datetime | None = None
