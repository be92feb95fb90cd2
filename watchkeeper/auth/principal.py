"""Who is asking and what they may do: a user's grants resolved against the configured roles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from watchkeeper.auth.models import RoleGrant
from watchkeeper.auth.permissions import GLOBAL_PERMISSIONS, Permission
from watchkeeper.domain import Camera, Site


@dataclass(frozen=True, slots=True)
class ScopedPermissions:
    """The permissions one grant gives, and where."""

    grant: RoleGrant
    permissions: frozenset[Permission]

    def covers(self, permission: Permission, target: Camera | Site | None) -> bool:
        """True when this grant gives ``permission`` on ``target`` (``None``: anywhere / globally)."""
        if permission not in self.permissions:
            return False
        if self.grant.is_global:
            return True
        if target is None or permission in GLOBAL_PERMISSIONS:
            return False
        if isinstance(target, Camera):
            return target.id in self.grant.cameras or target.site_id in self.grant.sites
        return target.id in self.grant.sites


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user with their resolved grants.

    Attributes:
        user_id: Database id of the user.
        username: Login name.
        display_name: Name to show.
        scopes: One entry per grant, with the permissions of its role.
        session_id: The console session behind the request, if any.
        csrf_token: That session's CSRF token, if any.
        token_id: The API token behind the request, if any.
    """

    user_id: int
    username: str
    display_name: str
    scopes: tuple[ScopedPermissions, ...]
    session_id: str | None = None
    csrf_token: str | None = None
    token_id: str | None = None

    @staticmethod
    def resolve(
        grants: Iterable[RoleGrant], roles: Mapping[str, Iterable[Permission]]
    ) -> tuple[ScopedPermissions, ...]:
        """Scopes for ``grants``; a grant of a role the configuration no longer defines gives nothing."""
        return tuple(ScopedPermissions(grant, frozenset(roles.get(grant.role, ()))) for grant in grants)

    @property
    def permissions(self) -> frozenset[Permission]:
        """Every permission the user holds somewhere."""
        return frozenset().union(*(scope.permissions for scope in self.scopes))

    def can(self, permission: Permission, target: Camera | Site | None = None) -> bool:
        """True when the user holds ``permission`` on ``target``.

        With ``target`` ``None``: for a global permission, whether a global grant gives it; for a camera
        permission, whether the user holds it on at least one site or camera.
        """
        if target is None and permission not in GLOBAL_PERMISSIONS:
            return any(permission in scope.permissions for scope in self.scopes)
        return any(scope.covers(permission, target) for scope in self.scopes)

    def sees_everything(self, permission: Permission) -> bool:
        """True when a global grant gives ``permission`` (no per-camera filtering needed)."""
        return any(scope.grant.is_global and permission in scope.permissions for scope in self.scopes)

    def visible_cameras(
        self, cameras: Iterable[Camera], permission: Permission = Permission.VIEW_CAMERAS
    ) -> list[Camera]:
        """The cameras of ``cameras`` on which the user holds ``permission`` (order kept)."""
        return [camera for camera in cameras if self.can(permission, camera)]
