"""User administration (``users.manage``, global grants only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from watchkeeper.api.custody import audit
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import AUTH_RESPONSES, AuthDep, Require
from watchkeeper.api.schemas.auth import UserIn, UserOut, UserPatch
from watchkeeper.audit.log import AuditAction
from watchkeeper.auth.errors import ForbiddenError
from watchkeeper.auth.models import UserChange
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.domain import NotFoundError

router = APIRouter(tags=["users"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

AdminDep = Depends(Require(Permission.MANAGE_USERS))


@router.get("/api/users", operation_id="listUsers")
def list_users(auth: AuthDep, _admin: Principal = AdminDep) -> list[UserOut]:
    """Every user with their role grants."""
    return [UserOut.of(user) for user in auth.repos.users.list()]


@router.post("/api/users", operation_id="createUser", status_code=201)
def create_user(body: UserIn, request: Request, auth: AuthDep, admin: Principal = AdminDep) -> UserOut:
    """Create a user with role grants."""
    grants = [grant.to_grant() for grant in body.roles]
    created = auth.create_user(body.username, body.password, grants, body.display_name)
    roles = ",".join(grant.role for grant in grants)
    audit(
        request,
        admin.username,
        AuditAction.USER_CHANGE,
        f"user:{body.username}",
        change="create",
        roles=roles,
    )
    return UserOut.of(created)


@router.get("/api/users/{username}", operation_id="getUser")
def get_user(username: str, auth: AuthDep, _admin: Principal = AdminDep) -> UserOut:
    """One user."""
    user = auth.repos.users.get(username)
    if user is None:
        raise NotFoundError(f"no user named {username!r}")
    return UserOut.of(user)


@router.patch("/api/users/{username}", operation_id="updateUser")
def update_user(
    username: str, body: UserPatch, request: Request, auth: AuthDep, admin: Principal = AdminDep
) -> UserOut:
    """Change a user's name, state, grants or password (a new password or disabling ends their sessions)."""
    if username == admin.username and (body.disabled or body.roles is not None):
        raise ForbiddenError("you cannot disable yourself or change your own roles (ask another admin)")
    grants = tuple(grant.to_grant() for grant in body.roles) if body.roles is not None else None
    updated = auth.update_user(
        username, UserChange(display_name=body.display_name, disabled=body.disabled, grants=grants)
    )
    if body.password is not None:
        auth.reset_password(username, body.password)
    changed = ",".join(sorted(body.model_dump(exclude_none=True, exclude={"password"}))) or "password"
    audit(
        request, admin.username, AuditAction.USER_CHANGE, f"user:{username}", change="update", fields=changed
    )
    return UserOut.of(updated)


@router.delete("/api/users/{username}", operation_id="deleteUser", status_code=204)
def delete_user(username: str, request: Request, auth: AuthDep, admin: Principal = AdminDep) -> Response:
    """Delete a user with their sessions and tokens."""
    if username == admin.username:
        raise ForbiddenError("you cannot delete yourself")
    auth.delete_user(username)
    audit(request, admin.username, AuditAction.USER_CHANGE, f"user:{username}", change="delete")
    return Response(status_code=204)
