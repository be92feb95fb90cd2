"""Auth errors with stable codes; the API maps them to 401/403/429."""

from __future__ import annotations

from watchkeeper.domain import WatchkeeperError


class AuthError(WatchkeeperError):
    """Base of authentication and authorization errors."""

    code = "auth_error"


class UnauthenticatedError(AuthError):
    """No valid session or token came with the request (missing, forged, expired, revoked, user gone)."""

    code = "unauthenticated"


class InvalidCredentialsError(AuthError):
    """Wrong username or password (one message for both, so usernames cannot be probed)."""

    code = "invalid_credentials"


class ForbiddenError(AuthError):
    """Authenticated, but the user's roles do not allow this."""

    code = "forbidden"


class CsrfError(AuthError):
    """A cookie-authenticated unsafe request without the session's ``X-CSRF-Token``."""

    code = "csrf_failed"


class TooManyAttemptsError(AuthError):
    """Login is backing off after failures; try again after ``retry_after_s`` seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after_s: int) -> None:
        """Carry the number of seconds to wait (sent as ``Retry-After``)."""
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnknownRoleError(WatchkeeperError):
    """A grant names a role the configuration does not define."""

    code = "unknown_role"


class WeakPasswordError(WatchkeeperError):
    """A new password is too short or too long."""

    code = "weak_password"
