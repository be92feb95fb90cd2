"""The ``auth`` section: roles (permission sets), session lifetime and login backoff."""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from watchkeeper.auth.permissions import Permission, default_roles
from watchkeeper.config.base import ConfigModel

ROLE_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"


class LockoutConfig(ConfigModel):
    """Exponential backoff after failed logins, per account and per source address.

    There is no permanent lock: after ``free_attempts`` failures each further failure blocks the account (or
    address) for twice as long as the previous one, never longer than ``max_delay_s``, so an attacker can
    slow the admin down but never lock them out for good (and ``watchkeeper users reset-password`` clears it).
    """

    free_attempts: int = Field(
        default=5,
        title="Free attempts",
        description="Failed logins allowed before backoff starts.",
        ge=1,
        le=100,
    )
    base_delay_s: float = Field(
        default=1.0,
        title="First delay",
        description="Block after the first failure past the free ones.",
        gt=0,
        le=3600,
    )
    max_delay_s: float = Field(
        default=300.0,
        title="Longest delay",
        description="Cap of the backoff (no permanent lockout).",
        gt=0,
        le=86400,
    )
    reset_after_s: float = Field(
        default=900.0,
        title="Forget failures after",
        description="Seconds without a failure after which the failure count starts again.",
        gt=0,
        le=86400 * 7,
    )

    @model_validator(mode="after")
    def _cap_above_base(self) -> Self:
        if self.max_delay_s < self.base_delay_s:
            raise PydanticCustomError("lockout_cap", "max_delay_s must be at least base_delay_s")
        return self


def _default_role_table() -> dict[str, list[Permission]]:
    return default_roles()


class AuthConfig(ConfigModel):
    """Who may do what: roles, sessions, API tokens and login backoff."""

    roles: dict[str, list[Permission]] = Field(
        default_factory=_default_role_table,
        title="Roles",
        description=(
            "Role name -> permissions. Users are granted roles scoped to sites or cameras (or everything). "
            "Defaults: viewer, operator, investigator, approver, admin; `admin` must keep `users.manage`."
        ),
        max_length=64,
    )
    session_idle_minutes: int = Field(
        default=30,
        title="Session idle timeout",
        description="A console session ends after this many minutes without a request (sliding).",
        ge=1,
        le=24 * 60,
    )
    session_max_hours: float = Field(
        default=12.0,
        title="Session lifetime",
        description="A console session ends this many hours after login, however active.",
        gt=0,
        le=24 * 30,
    )
    token_max_days: int = Field(
        default=365,
        title="Longest API token lifetime",
        description="API tokens expire after at most this many days (the default when none is asked for).",
        ge=1,
        le=3650,
    )
    lockout: LockoutConfig = Field(
        default_factory=LockoutConfig, title="Login backoff", description="Failed-login backoff."
    )

    @model_validator(mode="after")
    def _check_roles(self) -> Self:
        for name in self.roles:
            if re.fullmatch(ROLE_NAME_PATTERN, name) is None:
                raise PydanticCustomError(
                    "role_name",
                    "role name {name!r} must match {pattern}",
                    {"name": name, "pattern": ROLE_NAME_PATTERN},
                )
        admin = self.roles.get("admin")
        if admin is None or Permission.MANAGE_USERS not in admin:
            raise PydanticCustomError("admin_role", "the admin role must exist and hold users.manage")
        return self
