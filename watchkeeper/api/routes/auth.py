"""Login, logout, the current user, password change, API tokens and sessions of the current user."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from watchkeeper.api.custody import audit
from watchkeeper.api.errors import ERROR_RESPONSES
from watchkeeper.api.policy import (
    AUTH_RESPONSES,
    SESSION_COOKIE,
    AuthDep,
    Authenticated,
    Public,
)
from watchkeeper.api.schemas import ErrorOut
from watchkeeper.api.schemas.auth import (
    LoginIn,
    LoginOut,
    MeOut,
    PasswordIn,
    SessionOut,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
)
from watchkeeper.audit.log import AuditAction
from watchkeeper.auth.errors import AuthError
from watchkeeper.auth.principal import Principal

router = APIRouter(tags=["auth"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

UserDep = Depends(Authenticated())
"""Any authenticated user (these routes concern the caller's own account)."""


def _source(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


@router.post(
    "/api/auth/login",
    operation_id="login",
    dependencies=[Depends(Public())],
    responses={429: {"model": ErrorOut, "description": "Backing off after failed logins (`Retry-After`)"}},
)
def login(body: LoginIn, request: Request, response: Response, auth: AuthDep) -> LoginOut:
    """Check the password and start a session: sets the HTTP-only `wk_session` cookie."""
    try:
        result = auth.login(
            body.username, body.password, _source(request), request.headers.get("user-agent", "")
        )
    except AuthError as err:
        audit(request, body.username, AuditAction.LOGIN_FAILED, f"user:{body.username}", error=err.code)
        raise
    audit(request, body.username, AuditAction.LOGIN, f"user:{body.username}")
    max_age = int(auth.config.session_max_hours * 3600)
    response.set_cookie(
        SESSION_COOKIE,
        result.secret,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.headers["Cache-Control"] = "no-store"
    return LoginOut(user=MeOut.of(result.principal), csrf_token=result.session.csrf_token)


@router.post("/api/auth/logout", operation_id="logout", status_code=204)
def logout(request: Request, auth: AuthDep, principal: Principal = UserDep) -> Response:
    """End the current session and clear its cookie."""
    auth.logout(principal)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/api/auth/me", operation_id="getMe")
def me(principal: Principal = UserDep) -> MeOut:
    """The current user, their role grants and permissions (and the CSRF token of a cookie session)."""
    return MeOut.of(principal)


@router.post("/api/auth/password", operation_id="changePassword", status_code=204)
def change_password(body: PasswordIn, auth: AuthDep, principal: Principal = UserDep) -> Response:
    """Change the current user's password; their other sessions end."""
    auth.change_password(principal, body.current_password, body.new_password)
    return Response(status_code=204)


@router.post("/api/auth/tokens", operation_id="createToken", status_code=201)
def create_token(body: TokenIn, auth: AuthDep, principal: Principal = UserDep) -> TokenCreatedOut:
    """A new API token acting as the current user; the secret is shown only in this answer."""
    issued = auth.issue_token(principal, body.name, body.expires_in_days)
    record = issued.record
    return TokenCreatedOut(id=record.id, name=record.name, token=issued.secret, expires_at=record.expires_at)


@router.get("/api/auth/tokens", operation_id="listTokens")
def list_tokens(auth: AuthDep, principal: Principal = UserDep) -> list[TokenOut]:
    """The current user's API tokens (without secrets)."""
    return [TokenOut.of(token) for token in auth.list_tokens(principal)]


@router.delete("/api/auth/tokens/{token_id}", operation_id="revokeToken", status_code=204)
def revoke_token(token_id: str, auth: AuthDep, principal: Principal = UserDep) -> Response:
    """Revoke one of the current user's API tokens."""
    auth.revoke_token(principal, token_id)
    return Response(status_code=204)


@router.get("/api/auth/sessions", operation_id="listSessions")
def list_sessions(auth: AuthDep, principal: Principal = UserDep) -> list[SessionOut]:
    """The current user's active sessions."""
    return [SessionOut.of(session, principal.session_id) for session in auth.list_sessions(principal)]


@router.delete("/api/auth/sessions/{session_id}", operation_id="revokeSession", status_code=204)
def revoke_session(session_id: str, auth: AuthDep, principal: Principal = UserDep) -> Response:
    """End one of the current user's sessions."""
    auth.revoke_session(principal, session_id)
    return Response(status_code=204)
