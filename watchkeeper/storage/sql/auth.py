"""Users, role grants, console sessions, API tokens and failed-login counters in SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, Executable, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper.auth.models import (
    ApiTokenRecord,
    LoginThrottle,
    RoleGrant,
    SessionRecord,
    User,
    UserChange,
)
from watchkeeper.domain import CameraId, DuplicateError, NotFoundError, SiteId, ensure_utc
from watchkeeper.storage.sql.engine import Database
from watchkeeper.storage.sql.models import (
    ApiTokenRow,
    LoginThrottleRow,
    RoleGrantRow,
    SessionRow,
    UserRow,
)


def _grant_rows(user_id: int, grants: Iterable[RoleGrant]) -> list[RoleGrantRow]:
    rows = []
    for grant in grants:
        if grant.is_global:
            rows.append(RoleGrantRow(user_id=user_id, role=grant.role))
        rows += [RoleGrantRow(user_id=user_id, role=grant.role, site_id=site) for site in sorted(grant.sites)]
        rows += [
            RoleGrantRow(user_id=user_id, role=grant.role, camera_id=camera)
            for camera in sorted(grant.cameras)
        ]
    return rows


def _grants(rows: Iterable[RoleGrantRow]) -> tuple[RoleGrant, ...]:
    """Group scope rows back into one grant per role (a global row makes the role global)."""
    by_role: dict[str, tuple[set[SiteId], set[CameraId], bool]] = {}
    for row in rows:
        sites, cameras, _is_global = by_role.setdefault(row.role, (set(), set(), False))
        if row.site_id is not None:
            sites.add(SiteId(row.site_id))
        elif row.camera_id is not None:
            cameras.add(CameraId(row.camera_id))
        else:
            by_role[row.role] = (sites, cameras, True)
    return tuple(
        RoleGrant(role) if is_global else RoleGrant(role, frozenset(sites), frozenset(cameras))
        for role, (sites, cameras, is_global) in sorted(by_role.items())
    )


def _load_user(session: Session, row: UserRow) -> User:
    grant_rows = session.scalars(
        select(RoleGrantRow).where(RoleGrantRow.user_id == row.id).order_by(RoleGrantRow.id)
    )
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        password_hash=row.password_hash,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        grants=_grants(grant_rows),
        disabled=row.disabled,
    )


def _user_row(session: Session, username: str) -> UserRow:
    row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
    if row is None:
        raise NotFoundError(f"no user named {username!r}")
    return row


def _rowcount(session: Session, stmt: Executable) -> int:
    result = session.execute(stmt)
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


class SqlUserRepository:
    """Users and their grants in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, user: User) -> User:
        """Store a new user with its grants.

        Raises:
            DuplicateError: If the username is taken.
        """

        def write(session: Session) -> int:
            if session.scalars(select(UserRow.id).where(UserRow.username == user.username)).first():
                raise DuplicateError(f"a user named {user.username!r} already exists")
            row = UserRow(
                username=user.username,
                display_name=user.display_name,
                password_hash=user.password_hash,
                created_at=ensure_utc(user.created_at),
                password_changed_at=ensure_utc(user.password_changed_at),
                disabled=user.disabled,
            )
            session.add(row)
            session.flush()
            session.add_all(_grant_rows(row.id, user.grants))
            return row.id

        try:
            new_id = self._db.write(write)
        except IntegrityError as err:
            raise DuplicateError(f"a user named {user.username!r} already exists") from err
        return replace(user, id=new_id)

    def get(self, username: str) -> User | None:
        """One user by name, or ``None``."""

        def read(session: Session) -> User | None:
            row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
            return None if row is None else _load_user(session, row)

        return self._db.read(read)

    def get_by_id(self, user_id: int) -> User | None:
        """One user by id, or ``None``."""

        def read(session: Session) -> User | None:
            row = session.get(UserRow, user_id)
            return None if row is None else _load_user(session, row)

        return self._db.read(read)

    def list(self) -> Sequence[User]:
        """Every user ordered by username."""

        def read(session: Session) -> list[User]:
            rows = session.scalars(select(UserRow).order_by(UserRow.username)).all()
            return [_load_user(session, row) for row in rows]

        return self._db.read(read)

    def count(self) -> int:
        """How many users exist."""
        return self._db.read(lambda session: int(session.scalar(select(func.count(UserRow.id))) or 0))

    def update(self, username: str, change: UserChange) -> User:
        """Apply ``change``; grants are replaced as a whole.

        Raises:
            NotFoundError: If there is no such user.
        """

        def write(session: Session) -> User:
            row = _user_row(session, username)
            if change.display_name is not None:
                row.display_name = change.display_name
            if change.disabled is not None:
                row.disabled = change.disabled
            if change.grants is not None:
                session.execute(delete(RoleGrantRow).where(RoleGrantRow.user_id == row.id))
                session.add_all(_grant_rows(row.id, change.grants))
            session.flush()
            return _load_user(session, row)

        return self._db.write(write)

    def set_password(self, username: str, password_hash: str, changed_at: datetime) -> None:
        """Replace the password hash.

        Raises:
            NotFoundError: If there is no such user.
        """

        def write(session: Session) -> None:
            row = _user_row(session, username)
            row.password_hash = password_hash
            row.password_changed_at = ensure_utc(changed_at)

        self._db.write(write)

    def delete(self, username: str) -> None:
        """Delete a user with their grants, sessions and tokens.

        Raises:
            NotFoundError: If there is no such user.
        """

        def write(session: Session) -> None:
            row = _user_row(session, username)
            for model in (RoleGrantRow, SessionRow, ApiTokenRow):
                session.execute(delete(model).where(model.user_id == row.id))
            session.delete(row)

        self._db.write(write)


def _session(row: SessionRow) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        token_hash=row.token_hash,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        absolute_expires_at=row.absolute_expires_at,
        source=row.source,
        user_agent=row.user_agent,
        revoked_at=row.revoked_at,
    )


class SqlSessionRepository:
    """Console sessions in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, session: SessionRecord) -> None:
        """Store a new session."""
        row = SessionRow(
            id=session.id,
            user_id=session.user_id,
            token_hash=session.token_hash,
            csrf_token=session.csrf_token,
            created_at=ensure_utc(session.created_at),
            last_seen_at=ensure_utc(session.last_seen_at),
            expires_at=ensure_utc(session.expires_at),
            absolute_expires_at=ensure_utc(session.absolute_expires_at),
            source=session.source[:64],
            user_agent=session.user_agent[:200],
            revoked_at=session.revoked_at,
        )
        self._db.write(lambda db_session: db_session.add(row))

    def find(self, token_hash: str) -> SessionRecord | None:
        """The session whose secret hashes to ``token_hash``, or ``None``."""
        query = select(SessionRow).where(SessionRow.token_hash == token_hash)
        return self._db.read(lambda session: next((_session(row) for row in session.scalars(query)), None))

    def touch(self, session_id: str, last_seen_at: datetime, expires_at: datetime) -> None:
        """Slide an active session's idle expiry."""
        stmt = (
            update(SessionRow)
            .where(SessionRow.id == session_id, SessionRow.revoked_at.is_(None))
            .values(last_seen_at=ensure_utc(last_seen_at), expires_at=ensure_utc(expires_at))
        )
        self._db.write(lambda session: session.execute(stmt))

    def list(self, user_id: int, now: datetime) -> Sequence[SessionRecord]:
        """The user's active sessions, newest first."""
        moment = ensure_utc(now)
        query = (
            select(SessionRow)
            .where(
                SessionRow.user_id == user_id,
                SessionRow.revoked_at.is_(None),
                SessionRow.expires_at > moment,
                SessionRow.absolute_expires_at > moment,
            )
            .order_by(SessionRow.created_at.desc(), SessionRow.id)
        )
        return self._db.read(lambda session: [_session(row) for row in session.scalars(query)])

    def revoke(self, user_id: int, session_id: str, at: datetime) -> bool:
        """Revoke one of the user's sessions; false when missing or already revoked."""
        stmt = (
            update(SessionRow)
            .where(
                SessionRow.id == session_id, SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None)
            )
            .values(revoked_at=ensure_utc(at))
        )
        return self._db.write(lambda session: _rowcount(session, stmt) > 0)

    def revoke_all(self, user_id: int, at: datetime, keep: str | None = None) -> int:
        """Revoke every active session of the user except ``keep``; returns how many."""
        stmt = update(SessionRow).where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
        if keep is not None:
            stmt = stmt.where(SessionRow.id != keep)
        final = stmt.values(revoked_at=ensure_utc(at))
        return self._db.write(lambda session: _rowcount(session, final))

    def known_source(self, user_id: int, source: str, since: datetime) -> bool:
        """True when the user logged in from ``source`` at or after ``since``."""
        query = (
            select(SessionRow.id)
            .where(
                SessionRow.user_id == user_id,
                SessionRow.source == source[:64],
                SessionRow.created_at >= ensure_utc(since),
            )
            .limit(1)
        )
        return self._db.read(lambda session: session.scalars(query).first() is not None)


def _token(row: ApiTokenRow) -> ApiTokenRecord:
    return ApiTokenRecord(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SqlApiTokenRepository:
    """API tokens in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, token: ApiTokenRecord) -> None:
        """Store a new token."""
        row = ApiTokenRow(
            id=token.id,
            user_id=token.user_id,
            name=token.name,
            token_hash=token.token_hash,
            created_at=ensure_utc(token.created_at),
            expires_at=ensure_utc(token.expires_at),
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )
        self._db.write(lambda session: session.add(row))

    def find(self, token_hash: str) -> ApiTokenRecord | None:
        """The token whose secret hashes to ``token_hash``, or ``None``."""
        query = select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash)
        return self._db.read(lambda session: next((_token(row) for row in session.scalars(query)), None))

    def touch(self, token_id: str, used_at: datetime) -> None:
        """Record a use of the token."""
        stmt = update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=ensure_utc(used_at))
        self._db.write(lambda session: session.execute(stmt))

    def list(self, user_id: int) -> Sequence[ApiTokenRecord]:
        """The user's tokens that are not revoked, newest first."""
        query = (
            select(ApiTokenRow)
            .where(ApiTokenRow.user_id == user_id, ApiTokenRow.revoked_at.is_(None))
            .order_by(ApiTokenRow.created_at.desc(), ApiTokenRow.id)
        )
        return self._db.read(lambda session: [_token(row) for row in session.scalars(query)])

    def revoke(self, user_id: int, token_id: str, at: datetime) -> bool:
        """Revoke one of the user's tokens; false when missing or already revoked."""
        stmt = (
            update(ApiTokenRow)
            .where(
                ApiTokenRow.id == token_id, ApiTokenRow.user_id == user_id, ApiTokenRow.revoked_at.is_(None)
            )
            .values(revoked_at=ensure_utc(at))
        )
        return self._db.write(lambda session: _rowcount(session, stmt) > 0)


def _throttle(row: LoginThrottleRow) -> LoginThrottle:
    return LoginThrottle(
        key=row.key,
        failures=row.failures,
        last_failure_at=row.last_failure_at,
        blocked_until=row.blocked_until,
    )


class SqlLoginThrottleRepository:
    """Failed-login counters in SQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def get(self, key: str) -> LoginThrottle | None:
        """The counter of ``key``, or ``None``."""

        def read(session: Session) -> LoginThrottle | None:
            row = session.get(LoginThrottleRow, key)
            return None if row is None else _throttle(row)

        return self._db.read(read)

    def fail(
        self, key: str, now: datetime, reset_after: timedelta, delay: Callable[[int], timedelta | None]
    ) -> LoginThrottle:
        """Count a failure and block ``key`` until ``now + delay(failures)``, in one write transaction."""
        moment = ensure_utc(now)

        def write(session: Session) -> LoginThrottle:
            row = session.get(LoginThrottleRow, key, with_for_update=True)
            if row is None:
                row = LoginThrottleRow(key=key, failures=0, last_failure_at=moment, blocked_until=None)
                session.add(row)
            elif moment - row.last_failure_at > reset_after:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = moment
            wait = delay(row.failures)
            row.blocked_until = None if wait is None else moment + wait
            session.flush()
            return _throttle(row)

        try:
            return self._db.write(write)
        except IntegrityError:  # a concurrent first failure inserted the row: count again on top of it
            return self._db.write(write)

    def clear(self, key: str) -> None:
        """Forget the counter of ``key``."""
        stmt = delete(LoginThrottleRow).where(LoginThrottleRow.key == key)
        self._db.write(lambda session: session.execute(stmt))


class SqlAuthRepositories:
    """The auth repositories of one database."""

    def __init__(self, database: Database) -> None:
        self._users = SqlUserRepository(database)
        self._sessions = SqlSessionRepository(database)
        self._tokens = SqlApiTokenRepository(database)
        self._throttles = SqlLoginThrottleRepository(database)

    @property
    def users(self) -> SqlUserRepository:
        """Users and grants."""
        return self._users

    @property
    def sessions(self) -> SqlSessionRepository:
        """Console sessions."""
        return self._sessions

    @property
    def tokens(self) -> SqlApiTokenRepository:
        """API tokens."""
        return self._tokens

    @property
    def throttles(self) -> SqlLoginThrottleRepository:
        """Failed-login counters."""
        return self._throttles
