"""The auth service: logins, sessions, API tokens, password changes and user administration.

The ``Authenticator`` protocol is the seam for other identity providers: anything that turns credentials
into a stored :class:`User` (local passwords today, OIDC later) hands that user to
:meth:`AuthService.start_session`; sessions, tokens, roles and backoff stay the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from watchkeeper.auth.errors import InvalidCredentialsError, UnauthenticatedError, UnknownRoleError
from watchkeeper.auth.lockout import KNOWN_SOURCE_DAYS, LoginThrottler, account_key, address_key
from watchkeeper.auth.models import ApiTokenRecord, RoleGrant, SessionRecord, User, UserChange
from watchkeeper.auth.passwords import (
    SESSION_PREFIX,
    TOKEN_PREFIX,
    Passwords,
    generate_password,
    new_id,
    new_secret,
    secret_hash,
)
from watchkeeper.auth.principal import Principal
from watchkeeper.config.auth import AuthConfig
from watchkeeper.domain import NotFoundError, utcnow
from watchkeeper.storage.auth import AuthRepositories

log = logging.getLogger(__name__)

FIRST_ADMIN = "admin"
TOUCH_INTERVAL = timedelta(seconds=60)
"""A session's idle expiry is written at most once a minute (not on every request)."""


class Authenticator(Protocol):
    """Turns credentials into a stored user (the seam for OIDC and other identity providers)."""

    def authenticate(self, username: str, password: str) -> User:
        """The user the credentials prove.

        Raises:
            InvalidCredentialsError: If they prove nobody.
        """
        ...


class LocalPasswordAuthenticator:
    """Users of the local database with argon2id password hashes."""

    def __init__(self, repos: AuthRepositories, passwords: Passwords) -> None:
        """Check passwords against ``repos.users``."""
        self._repos = repos
        self._passwords = passwords

    def authenticate(self, username: str, password: str) -> User:
        """The enabled user with this name and password (one error for every failure)."""
        user = self._repos.users.get(username)
        ok = self._passwords.verify(user.password_hash if user is not None else None, password)
        if user is None or not ok or user.disabled:
            raise InvalidCredentialsError("wrong username or password")
        if self._passwords.needs_rehash(user.password_hash):
            self._repos.users.set_password(user.username, self._passwords.hash(password), utcnow())
        return user


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A new session: its record, the cookie secret (never stored) and the principal."""

    session: SessionRecord
    secret: str
    principal: Principal


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new API token: its record and the secret, shown once."""

    record: ApiTokenRecord
    secret: str


class AuthService:
    """Everything the API and the CLI do with users, sessions and tokens."""

    def __init__(
        self,
        repos: AuthRepositories,
        config: AuthConfig,
        passwords: Passwords | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Work on ``repos`` with the roles, lifetimes and backoff of ``config``."""
        self.repos = repos
        self.config = config
        self.passwords = passwords or Passwords()
        self._clock = clock
        self.authenticator: Authenticator = LocalPasswordAuthenticator(repos, self.passwords)
        self.throttler = LoginThrottler(repos.throttles, config.lockout)

    # --- principals ---------------------------------------------------------------------------------

    def principal_of(
        self, user: User, session: SessionRecord | None = None, token_id: str | None = None
    ) -> Principal:
        """Resolve ``user``'s grants against the configured roles."""
        if user.id is None:
            raise ValueError("a stored user has an id")
        return Principal(
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            scopes=Principal.resolve(user.grants, self.config.roles),
            session_id=session.id if session is not None else None,
            csrf_token=session.csrf_token if session is not None else None,
            token_id=token_id,
        )

    def _active_user(self, user_id: int) -> User:
        user = self.repos.users.get_by_id(user_id)
        if user is None or user.disabled:
            raise UnauthenticatedError("the user of this session no longer exists or is disabled")
        return user

    def session_principal(self, secret: str) -> Principal:
        """The principal of a session cookie; slides its idle expiry.

        Raises:
            UnauthenticatedError: If the session is unknown, expired or revoked, or its user is gone.
        """
        now = self._clock()
        session = self.repos.sessions.find(secret_hash(secret)) if secret.startswith(SESSION_PREFIX) else None
        if session is None or not session.active(now):
            raise UnauthenticatedError("the session is missing, expired or revoked; log in again")
        user = self._active_user(session.user_id)
        if now - session.last_seen_at >= TOUCH_INTERVAL:
            expires = min(now + self._idle(), session.absolute_expires_at)
            self.repos.sessions.touch(session.id, now, expires)
        return self.principal_of(user, session=session)

    def token_principal(self, secret: str) -> Principal:
        """The principal of a bearer token.

        Raises:
            UnauthenticatedError: If the token is unknown, expired or revoked, or its user is gone.
        """
        now = self._clock()
        token = self.repos.tokens.find(secret_hash(secret)) if secret.startswith(TOKEN_PREFIX) else None
        if token is None or not token.active(now):
            raise UnauthenticatedError("the API token is invalid, expired or revoked")
        user = self._active_user(token.user_id)
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
            self.repos.tokens.touch(token.id, now)
        return self.principal_of(user, token_id=token.id)

    # --- login and sessions -------------------------------------------------------------------------

    def _idle(self) -> timedelta:
        return timedelta(minutes=self.config.session_idle_minutes)

    def login(self, username: str, password: str, source: str, user_agent: str = "") -> LoginResult:
        """Check the password (with backoff) and start a session.

        Raises:
            TooManyAttemptsError: While the account or the address is backing off.
            InvalidCredentialsError: On a wrong username or password.
        """
        now = self._clock()
        keys = [address_key(source)]
        known = self.repos.users.get(username)
        since = now - timedelta(days=KNOWN_SOURCE_DAYS)
        if known is None or known.id is None or not self.repos.sessions.known_source(known.id, source, since):
            keys.append(account_key(username))
        self.throttler.check(keys, now)
        try:
            user = self.authenticator.authenticate(username, password)
        except InvalidCredentialsError:
            self.throttler.failed([address_key(source), account_key(username)], now)
            log.warning("failed login for %r from %s", username[:64], source)
            raise
        self.throttler.succeeded(username)
        log.info("user %s logged in from %s", user.username, source)
        return self.start_session(user, source, user_agent)

    def start_session(self, user: User, source: str, user_agent: str = "") -> LoginResult:
        """Open a session for an authenticated user (any ``Authenticator``)."""
        if user.id is None:
            raise ValueError("a stored user has an id")
        now = self._clock()
        secret = new_secret(SESSION_PREFIX)
        absolute = now + timedelta(hours=self.config.session_max_hours)
        session = SessionRecord(
            id=new_id(),
            user_id=user.id,
            token_hash=secret_hash(secret),
            csrf_token=new_id() + new_id(),
            created_at=now,
            last_seen_at=now,
            expires_at=min(now + self._idle(), absolute),
            absolute_expires_at=absolute,
            source=source,
            user_agent=user_agent,
        )
        self.repos.sessions.add(session)
        return LoginResult(session=session, secret=secret, principal=self.principal_of(user, session=session))

    def logout(self, principal: Principal) -> None:
        """Revoke the principal's session (no-op for token requests)."""
        if principal.session_id is not None:
            self.repos.sessions.revoke(principal.user_id, principal.session_id, self._clock())

    def list_sessions(self, principal: Principal) -> Sequence[SessionRecord]:
        """The principal's active sessions."""
        return self.repos.sessions.list(principal.user_id, self._clock())

    def revoke_session(self, principal: Principal, session_id: str) -> None:
        """Revoke one of the principal's sessions.

        Raises:
            NotFoundError: If the principal has no such active session.
        """
        if not self.repos.sessions.revoke(principal.user_id, session_id, self._clock()):
            raise NotFoundError(f"no active session with id {session_id!r}")

    def change_password(self, principal: Principal, current: str, new: str) -> None:
        """Change the principal's password and revoke their other sessions.

        Raises:
            InvalidCredentialsError: If ``current`` is wrong.
            WeakPasswordError: If ``new`` is too short or too long.
        """
        user = self._active_user(principal.user_id)
        if not self.passwords.verify(user.password_hash, current):
            raise InvalidCredentialsError("the current password is wrong")
        self.repos.users.set_password(user.username, self.passwords.hash(new), self._clock())
        self.repos.sessions.revoke_all(principal.user_id, self._clock(), keep=principal.session_id)

    # --- API tokens ---------------------------------------------------------------------------------

    def issue_token(self, principal: Principal, name: str, expires_in_days: int | None = None) -> IssuedToken:
        """A new bearer token of the principal, expiring after at most ``token_max_days``."""
        now = self._clock()
        days = min(expires_in_days or self.config.token_max_days, self.config.token_max_days)
        secret = new_secret(TOKEN_PREFIX)
        record = ApiTokenRecord(
            id=new_id(),
            user_id=principal.user_id,
            name=name,
            token_hash=secret_hash(secret),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        self.repos.tokens.add(record)
        log.info("user %s created API token %s (%s)", principal.username, record.id, name)
        return IssuedToken(record=record, secret=secret)

    def list_tokens(self, principal: Principal) -> Sequence[ApiTokenRecord]:
        """The principal's tokens that are not revoked."""
        return self.repos.tokens.list(principal.user_id)

    def revoke_token(self, principal: Principal, token_id: str) -> None:
        """Revoke one of the principal's tokens.

        Raises:
            NotFoundError: If the principal has no such token.
        """
        if not self.repos.tokens.revoke(principal.user_id, token_id, self._clock()):
            raise NotFoundError(f"no API token with id {token_id!r}")

    # --- administration -----------------------------------------------------------------------------

    def check_grants(self, grants: Sequence[RoleGrant]) -> None:
        """Refuse grants of roles the configuration does not define.

        Raises:
            UnknownRoleError: Naming the role and the defined ones.
        """
        for grant in grants:
            if grant.role not in self.config.roles:
                defined = ", ".join(sorted(self.config.roles))
                raise UnknownRoleError(f"unknown role {grant.role!r} (roles defined: {defined})")

    def create_user(
        self, username: str, password: str, grants: Sequence[RoleGrant], display_name: str = ""
    ) -> User:
        """Create a user.

        Raises:
            DuplicateError: If the name is taken.
            UnknownRoleError: If a grant names an undefined role.
            WeakPasswordError: If the password is too short or too long.
        """
        self.check_grants(grants)
        now = self._clock()
        user = User(
            username=username,
            display_name=display_name or username,
            password_hash=self.passwords.hash(password),
            created_at=now,
            password_changed_at=now,
            grants=tuple(grants),
        )
        created = self.repos.users.add(user)
        log.info("created user %s", username)
        return created

    def update_user(self, username: str, change: UserChange) -> User:
        """Change a user's name, state or grants; disabling revokes their sessions."""
        if change.grants is not None:
            self.check_grants(change.grants)
        updated = self.repos.users.update(username, change)
        if change.disabled and updated.id is not None:
            self.repos.sessions.revoke_all(updated.id, self._clock())
        return updated

    def reset_password(self, username: str, password: str) -> None:
        """Set a new password, revoke the user's sessions and clear their login backoff.

        Raises:
            NotFoundError: If there is no such user.
            WeakPasswordError: If the password is too short or too long.
        """
        user = self.repos.users.get(username)
        if user is None or user.id is None:
            raise NotFoundError(f"no user named {username!r}")
        self.repos.users.set_password(username, self.passwords.hash(password), self._clock())
        self.repos.sessions.revoke_all(user.id, self._clock())
        self.repos.throttles.clear(account_key(username))

    def delete_user(self, username: str) -> None:
        """Delete a user with their sessions and tokens."""
        self.repos.users.delete(username)
        log.info("deleted user %s", username)

    def ensure_first_admin(self) -> str | None:
        """Create ``admin`` with a generated password when there is no user at all; returns the password."""
        if self.repos.users.count() > 0:
            return None
        password = generate_password()
        self.create_user(FIRST_ADMIN, password, [RoleGrant("admin")], display_name="Administrator")
        return password
