"""Request and response models of authentication, API tokens, sessions and users."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.auth.models import ApiTokenRecord, RoleGrant, SessionRecord, User
from watchkeeper.auth.passwords import MAX_PASSWORD_LENGTH
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import CameraId, SiteId

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LoginIn(_Model):
    """Username and password."""

    username: str = Field(min_length=1, max_length=64, description="Login name.")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH, description="Password.")


class GrantOut(_Model):
    """A role and where it applies (no sites and no cameras: everywhere)."""

    role: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    sites: list[str] = Field(default_factory=list, max_length=1000, description="Site ids.")
    cameras: list[str] = Field(default_factory=list, max_length=10000, description="Camera ids.")

    @classmethod
    def of(cls, grant: RoleGrant) -> GrantOut:
        """From a stored grant."""
        return cls(role=grant.role, sites=sorted(grant.sites), cameras=sorted(grant.cameras))

    def to_grant(self) -> RoleGrant:
        """To a grant."""
        return RoleGrant(
            self.role, frozenset(SiteId(s) for s in self.sites), frozenset(CameraId(c) for c in self.cameras)
        )


class MeOut(_Model):
    """The logged-in user, their grants and the permissions they hold somewhere."""

    username: str
    display_name: str
    roles: list[GrantOut]
    permissions: list[str]
    csrf_token: str | None = Field(
        default=None, description="Send as `X-CSRF-Token` with unsafe requests (cookie sessions only)."
    )

    @classmethod
    def of(cls, principal: Principal) -> MeOut:
        """From a principal."""
        return cls(
            username=principal.username,
            display_name=principal.display_name,
            roles=[GrantOut.of(scope.grant) for scope in principal.scopes],
            permissions=sorted(p.value for p in principal.permissions),
            csrf_token=principal.csrf_token,
        )


class LoginOut(_Model):
    """A successful login (the session itself travels in the `wk_session` cookie)."""

    user: MeOut
    csrf_token: str


class PasswordIn(_Model):
    """A password change."""

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class TokenIn(_Model):
    """A new API token."""

    name: str = Field(min_length=1, max_length=100, description="What the token is for.")
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Lifetime; capped by `auth.token_max_days`."
    )


class TokenOut(_Model):
    """An API token (without its secret)."""

    id: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: ApiTokenRecord) -> TokenOut:
        """From a stored token."""
        return cls(
            id=token.id,
            name=token.name,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
        )


class TokenCreatedOut(_Model):
    """A new API token with its secret: shown once, store it now."""

    id: str
    name: str
    token: str = Field(description="Send as `Authorization: Bearer <token>`; it is not shown again.")
    expires_at: datetime


class SessionOut(_Model):
    """An active console session of the user."""

    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    source: str
    user_agent: str
    current: bool

    @classmethod
    def of(cls, session: SessionRecord, current_id: str | None) -> SessionOut:
        """From a stored session."""
        return cls(
            id=session.id,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            expires_at=min(session.expires_at, session.absolute_expires_at),
            source=session.source,
            user_agent=session.user_agent,
            current=session.id == current_id,
        )


class UserOut(_Model):
    """A user as administrators see it (never the password hash)."""

    username: str
    display_name: str
    disabled: bool
    roles: list[GrantOut]
    created_at: datetime
    password_changed_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        """From a stored user."""
        return cls(
            username=user.username,
            display_name=user.display_name,
            disabled=user.disabled,
            roles=[GrantOut.of(grant) for grant in user.grants],
            created_at=user.created_at,
            password_changed_at=user.password_changed_at,
        )


class UserIn(_Model):
    """A new user."""

    username: str = Field(pattern=USERNAME_PATTERN, description="Login name.")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH, description="Initial password.")
    display_name: str = Field(default="", max_length=200)
    roles: list[GrantOut] = Field(default_factory=list, max_length=100)


class UserPatch(_Model):
    """Changes to a user; omitted fields stay as they are (``roles`` replaces every grant)."""

    display_name: str | None = Field(default=None, max_length=200)
    disabled: bool | None = None
    roles: list[GrantOut] | None = Field(default=None, max_length=100)
    password: str | None = Field(
        default=None, min_length=1, max_length=MAX_PASSWORD_LENGTH, description="A new password (resets)."
    )
