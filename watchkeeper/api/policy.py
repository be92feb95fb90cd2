"""How a route declares who may call it, and the checks behind the declarations.

Every operation declares exactly one policy as a dependency:

* ``dependencies=[Depends(Public())]`` for the few routes anyone may call (health, login);
* ``Depends(Authenticated())`` for routes about the caller's own account (any logged-in user);
* ``Depends(Require(Permission.X))`` for a permission the principal must hold somewhere (global
  permissions such as ``users.manage`` only through a grant without site/camera scope);
* ``Depends(Require(Permission.X, camera="camera_id"))`` when a path or query parameter names a camera:
  a camera the principal may not see answers 404 exactly like a missing one, and a visible camera without
  the permission answers 403.

Routes that reach a camera through another object (an event, a segment) call :func:`camera_access` on it.
:func:`route_policies` reads the declarations back from an app, so a test can check every route has one.

Authentication: ``Authorization: Bearer <API token>`` or the ``wk_session`` cookie. Cookie requests with an
unsafe method must carry ``X-CSRF-Token`` equal to the session's CSRF token.
"""

# No ``from __future__ import annotations``: FastAPI reads ``Require.__call__``'s annotations at run time.

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute

from watchkeeper.api.deps import get_context
from watchkeeper.api.errors import error_response
from watchkeeper.api.schemas import ErrorOut
from watchkeeper.auth.errors import (
    AuthError,
    CsrfError,
    ForbiddenError,
    InvalidCredentialsError,
    TooManyAttemptsError,
    UnauthenticatedError,
)
from watchkeeper.auth.passwords import same_secret
from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.principal import Principal
from watchkeeper.auth.service import AuthService
from watchkeeper.domain import Camera, CameraId, NotFoundError

SESSION_COOKIE = "wk_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "Not authenticated (`unauthenticated`)"},
    403: {"model": ErrorOut, "description": "Not allowed (`forbidden`, `csrf_failed`)"},
}
"""Documented responses of every protected route."""

_STATUS: dict[type[AuthError], int] = {
    UnauthenticatedError: 401,
    InvalidCredentialsError: 401,
    ForbiddenError: 403,
    CsrfError: 403,
    TooManyAttemptsError: 429,
}


def get_auth(connection: HTTPConnection) -> AuthService:
    """The auth service over this process's store and ``auth`` configuration."""
    context = get_context(connection)
    return AuthService(context.store.auth, context.auth_config, context.passwords)


AuthDep = Annotated[AuthService, Depends(get_auth)]


def bearer_token(connection: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise UnauthenticatedError("the Authorization header must be `Bearer <token>`")
    return value.strip()


def authenticate(connection: HTTPConnection, method: str) -> Principal:
    """The principal of a request or WebSocket handshake (bearer token first, then the session cookie).

    Raises:
        UnauthenticatedError: Without valid credentials.
        CsrfError: For a cookie request with an unsafe method and no matching ``X-CSRF-Token``.
    """
    service = get_auth(connection)
    token = bearer_token(connection)
    if token is not None:
        return service.token_principal(token)
    cookie = connection.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise UnauthenticatedError("log in first (session cookie or `Authorization: Bearer <token>`)")
    principal = service.session_principal(cookie)
    if method.upper() not in SAFE_METHODS:
        sent = connection.headers.get(CSRF_HEADER.lower(), "")
        if principal.csrf_token is None or not same_secret(sent, principal.csrf_token):
            raise CsrfError(f"missing or wrong {CSRF_HEADER} header")
    return principal


def get_principal(request: Request) -> Principal:
    """The authenticated principal of an HTTP request."""
    return authenticate(request, request.method)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def camera_access(
    principal: Principal,
    camera: Camera | None,
    camera_id: str,
    permission: Permission,
    missing: str | None = None,
) -> Camera:
    """``camera`` when the principal may use it for ``permission``.

    Args:
        principal: Who asks.
        camera: The camera (``None`` when it does not exist).
        camera_id: Its id as asked for.
        permission: What the request does with it.
        missing: The not-found message (default: no camera with that id); give the object's own message
            when the camera was reached through an event or a segment.

    Raises:
        NotFoundError: If the camera does not exist or the principal may not see it (same message).
        ForbiddenError: If the principal sees the camera but lacks ``permission`` on it.
    """
    if camera is None or not principal.can(Permission.VIEW_CAMERAS, camera):
        raise NotFoundError(missing or f"no camera with id {camera_id!r}")
    if not principal.can(permission, camera):
        raise ForbiddenError(f"your roles do not allow {permission.value} on camera {camera_id!r}")
    return camera


@dataclass(frozen=True, slots=True)
class Public:
    """Policy of a route anyone may call (no authentication)."""

    def __call__(self) -> None:
        """Nothing to check."""


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Policy of a route about the caller's own account: any authenticated user."""

    def __call__(self, request: Request) -> Principal:
        """Authenticate; returns the principal."""
        return get_principal(request)


@dataclass(frozen=True, slots=True)
class Require:
    """Policy: the principal must hold ``permission`` (on the camera named by parameter ``camera``)."""

    permission: Permission
    camera: str | None = None

    def __call__(self, request: Request) -> Principal:
        """Authenticate and check; returns the principal."""
        principal = get_principal(request)
        if self.camera is not None:
            value = request.path_params.get(self.camera, request.query_params.get(self.camera))
            if value is not None:
                store = get_context(request).store
                camera_access(principal, store.cameras.get(CameraId(str(value))), str(value), self.permission)
                return principal
        if not principal.can(self.permission):
            raise ForbiddenError(f"your roles do not allow {self.permission.value}")
        return principal


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """What one operation declared."""

    operation_id: str
    method: str
    path: str
    public: bool
    authenticated: bool
    requires: tuple[Require, ...] = field(default_factory=tuple)

    @property
    def declared(self) -> bool:
        """True when the operation declares a policy at all."""
        return self.public or self.authenticated or bool(self.requires)


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every ``APIRoute``, also inside included routers (newer FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)
        if isinstance(nested, APIRouter):
            yield from _api_routes(nested.routes)


def route_policies(app: FastAPI) -> dict[str, RoutePolicy]:
    """The declared policy of every operation of ``app`` by operation id (methods joined for multi-method)."""
    policies = {}
    for route in _api_routes(app.routes):
        calls = list(_calls(route.dependant))
        policy = RoutePolicy(
            operation_id=route.operation_id or route.unique_id,
            method=",".join(sorted(route.methods or ())),
            path=route.path,
            public=any(isinstance(call, Public) for call in calls),
            authenticated=any(isinstance(call, Authenticated) for call in calls),
            requires=tuple(call for call in calls if isinstance(call, Require)),
        )
        policies[policy.operation_id] = policy
    return policies


async def _auth_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AuthError):
        raise TypeError(type(exc).__name__)
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 403)
    response = error_response(status, exc.code, str(exc))
    if isinstance(exc, TooManyAttemptsError):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="watchkeeper"'
    return response


def install_auth_errors(app: FastAPI) -> None:
    """Map auth errors to 401/403/429 with the error envelope."""
    app.add_exception_handler(AuthError, _auth_error)
