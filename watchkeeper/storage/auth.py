"""Repository protocols of authentication: users and their grants, sessions, API tokens, login throttles."""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from watchkeeper.auth.models import ApiTokenRecord, LoginThrottle, SessionRecord, User, UserChange


class UserRepository(Protocol):
    """Local users and their role grants."""

    def add(self, user: User) -> User:
        """Store a new user with its grants; returns it with its ``id`` set.

        Raises:
            DuplicateError: If the username is taken.
        """
        ...

    def get(self, username: str) -> User | None:
        """One user by name, or ``None``."""
        ...

    def get_by_id(self, user_id: int) -> User | None:
        """One user by id, or ``None``."""
        ...

    def list(self) -> Sequence[User]:
        """Every user ordered by username."""
        ...

    def count(self) -> int:
        """How many users exist."""
        ...

    def update(self, username: str, change: UserChange) -> User:
        """Apply ``change`` (grants are replaced as a whole); returns the updated user.

        Raises:
            NotFoundError: If there is no such user.
        """
        ...

    def set_password(self, username: str, password_hash: str, changed_at: datetime) -> None:
        """Replace the password hash.

        Raises:
            NotFoundError: If there is no such user.
        """
        ...

    def delete(self, username: str) -> None:
        """Delete a user with their grants, sessions and tokens.

        Raises:
            NotFoundError: If there is no such user.
        """
        ...


class SessionRepository(Protocol):
    """Server-side console sessions."""

    def add(self, session: SessionRecord) -> None:
        """Store a new session."""
        ...

    def find(self, token_hash: str) -> SessionRecord | None:
        """The session whose secret hashes to ``token_hash`` (active or not), or ``None``."""
        ...

    def touch(self, session_id: str, last_seen_at: datetime, expires_at: datetime) -> None:
        """Slide an active session's idle expiry."""
        ...

    def list(self, user_id: int, now: datetime) -> Sequence[SessionRecord]:
        """The user's active sessions, newest first."""
        ...

    def revoke(self, user_id: int, session_id: str, at: datetime) -> bool:
        """Revoke one of the user's sessions; false when it does not exist or was already revoked."""
        ...

    def revoke_all(self, user_id: int, at: datetime, keep: str | None = None) -> int:
        """Revoke every active session of the user except ``keep``; returns how many."""
        ...

    def known_source(self, user_id: int, source: str, since: datetime) -> bool:
        """True when the user logged in from ``source`` at or after ``since`` (a known-good address)."""
        ...


class ApiTokenRepository(Protocol):
    """Bearer tokens."""

    def add(self, token: ApiTokenRecord) -> None:
        """Store a new token."""
        ...

    def find(self, token_hash: str) -> ApiTokenRecord | None:
        """The token whose secret hashes to ``token_hash`` (active or not), or ``None``."""
        ...

    def touch(self, token_id: str, used_at: datetime) -> None:
        """Record a use of the token."""
        ...

    def list(self, user_id: int) -> Sequence[ApiTokenRecord]:
        """The user's tokens that are not revoked, newest first (expired ones included)."""
        ...

    def revoke(self, user_id: int, token_id: str, at: datetime) -> bool:
        """Revoke one of the user's tokens; false when it does not exist or was already revoked."""
        ...


class LoginThrottleRepository(Protocol):
    """Failed-login counters per account and per source address."""

    def get(self, key: str) -> LoginThrottle | None:
        """The counter of ``key``, or ``None``."""
        ...

    def fail(
        self, key: str, now: datetime, reset_after: timedelta, delay: Callable[[int], timedelta | None]
    ) -> LoginThrottle:
        """Count a failure atomically and block ``key`` until ``now + delay(failures)`` (``None``: no block).

        A counter whose last failure is older than ``reset_after`` starts again at one.
        """
        ...

    def clear(self, key: str) -> None:
        """Forget the counter of ``key``."""
        ...


class AuthRepositories(Protocol):
    """The repositories of authentication."""

    @property
    def users(self) -> UserRepository:
        """Users and grants."""
        ...

    @property
    def sessions(self) -> SessionRepository:
        """Console sessions."""
        ...

    @property
    def tokens(self) -> ApiTokenRepository:
        """API tokens."""
        ...

    @property
    def throttles(self) -> LoginThrottleRepository:
        """Failed-login counters."""
        ...
