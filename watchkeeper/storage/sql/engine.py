"""Connections: SQLite with one writer thread and pooled readers, PostgreSQL with a normal pool.

Repositories never open connections themselves: they hand a function of a ``Session`` to
:meth:`Database.read` or :meth:`Database.write`, which runs it in one transaction and returns its result.

* **SQLite** (embedded default): WAL journal, foreign keys on, ``busy_timeout``. Every write goes through
  one writer thread that runs jobs from a queue, each in a ``BEGIN IMMEDIATE`` transaction, so two writers of
  the same process never race for the lock and "database is locked" cannot happen. Reads run in the calling
  thread on a pool of read-only connections; WAL lets them proceed while the writer writes.
* **PostgreSQL** (many hosts): a normal connection pool, every call in its own transaction.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from watchkeeper.domain.errors import StorageUnavailableError

log = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite connection waits for another process's lock before giving up."""
CONNECT_TIMEOUT_S = 3
"""How long opening a PostgreSQL connection may take before the server counts as unreachable."""

LINK_CHECKS: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
"""libpq settings that end a PostgreSQL connection whose link hangs (stops forwarding without a reset):
keepalive probes after 5 s idle, every 2 s, 3 unanswered close it (~11 s); data unacknowledged for 10 s
closes it (``tcp_user_timeout``). Without them a hanging link blocks a call until the kernel gives up on
retransmitting (about 15 minutes)."""

_Job = Callable[[Session], None]


def parse_url(url: str | URL) -> URL:
    """Parse a database URL; ``postgresql://`` selects the installed psycopg 3 driver.

    Raises:
        ValueError: If the URL cannot be parsed or names an unsupported database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise ValueError(f"not a database URL: {mask_url_text(str(url))}") from err
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgresql+psycopg"):
            return parsed.set(drivername="postgresql+psycopg")
        raise ValueError(f"unsupported PostgreSQL driver {parsed.drivername!r}; use postgresql+psycopg://")
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:") or parsed.database.startswith("file::memory:"):
            raise ValueError(
                "in-memory SQLite is not supported; give a file path such as sqlite:///data/wk.db"
            )
        return parsed
    raise ValueError(f"unsupported database {backend!r}; use sqlite:///PATH or postgresql+psycopg://...")


def mask_url(url: URL) -> str:
    """Render ``url`` with its password replaced by ``***``."""
    return url.render_as_string(hide_password=True)


def mask_url_text(url: str) -> str:
    """Mask the password of a URL given as text, even when it does not parse."""
    try:
        return mask_url(make_url(url))
    except ArgumentError:
        return "<unparseable database URL>"


def _error_reason(err: BaseException) -> str:
    """A one-line reason from a driver error (the first line of the innermost message)."""
    inner = err.orig if isinstance(err, DBAPIError) and err.orig is not None else err
    lines = [line.strip() for line in str(inner).splitlines() if line.strip()]
    if not lines:
        return type(inner).__name__
    reason = lines[0]
    # psycopg: 'connection failed: connection to server at "h" (h), port p failed: Connection refused'
    if reason.startswith("connection failed:") and "failed: " in reason[len("connection failed:") :]:
        reason = reason.rsplit("failed: ", 1)[1]
    return reason[:1].lower() + reason[1:]


class Database(ABC):
    """One database: runs functions of a ``Session`` in read or write transactions."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.safe_url = mask_url(url)

    @property
    def dialect_name(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    @abstractmethod
    def read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in a read transaction and return its result."""

    @abstractmethod
    def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in a write transaction, commit, and return its result (roll back on error)."""

    @abstractmethod
    def close(self) -> None:
        """Release every connection; later calls raise ``StorageUnavailableError``."""

    def unavailable(self, err: BaseException, action: str = "reach") -> StorageUnavailableError:
        """A one-line ``StorageUnavailableError`` for ``err`` that never shows the password."""
        reason = _error_reason(err)
        if self.url.password:
            reason = reason.replace(str(self.url.password), "***")
        return StorageUnavailableError(f"cannot {action} database at {self.safe_url}: {reason}")


def _run_in_session(engine: Engine, fn: Callable[[Session], T]) -> T:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return fn(session)


class _SqliteWriter:
    """The one thread that writes a SQLite database; jobs queue up and run one at a time."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Session], T], safe_url: str) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("a write job may not submit another write job (it would wait for itself)")
        future: Future[T] = Future()

        def job(session: Session) -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                with session.begin():
                    result = fn(session)
            except BaseException as err:
                future.set_exception(err)  # the waiting caller re-raises it
                if not isinstance(err, Exception):
                    raise
                return
            future.set_result(result)

        with self._lock:
            if self._closed:
                raise StorageUnavailableError(f"the store for {safe_url} is closed")
            self._queue.put(job)
        return future.result()

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            with Session(self._engine, expire_on_commit=False) as session:
                job(session)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()


def _sqlite_connect_listener(read_only: bool) -> Callable[[Any, ConnectionPoolEntry], None]:
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
            else:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    return on_connect


def _sqlite_engine(url: URL, *, read_only: bool, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0 if not read_only else pool_size,
        pool_timeout=60,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _sqlite_connect_listener(read_only))
    begin_sql = "BEGIN" if read_only else "BEGIN IMMEDIATE"
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin_sql))
    return engine


def _check_sqlite_folder(url: URL, safe_url: str) -> None:
    """Create the database's folder if needed and make sure it is writable (WAL needs side files)."""
    folder = Path(url.database or "").expanduser().resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise StorageUnavailableError(
            f"cannot open database at {safe_url}: folder {folder} cannot be created ({reason.lower()})"
        ) from err
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageUnavailableError(f"cannot open database at {safe_url}: folder {folder} is not writable")


class SqliteDatabase(Database):
    """SQLite with one writer thread (``BEGIN IMMEDIATE``) and a pool of read-only connections."""

    def __init__(self, url: URL, readers: int = 4) -> None:
        super().__init__(url)
        _check_sqlite_folder(url, self.safe_url)
        self._write_engine = _sqlite_engine(url, read_only=False, pool_size=1)
        self._read_engine = _sqlite_engine(url, read_only=True, pool_size=readers)
        try:
            with self._write_engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except (OperationalError, InterfaceError) as err:
            self._write_engine.dispose()
            self._read_engine.dispose()
            raise self.unavailable(err, "open") from err
        self._writer = _SqliteWriter(
            self._write_engine, name=f"sqlite-writer:{Path(url.database or '').name}"
        )

    def read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` on a pooled read-only connection in the calling thread."""
        try:
            return _run_in_session(self._read_engine, fn)
        except (OperationalError, InterfaceError) as err:
            raise self.unavailable(err, "read") from err

    def write(self, fn: Callable[[Session], T]) -> T:
        """Queue ``fn`` for the writer thread and wait for its result."""
        try:
            return self._writer.submit(fn, self.safe_url)
        except (OperationalError, InterfaceError) as err:
            raise self.unavailable(err, "write") from err

    def close(self) -> None:
        """Stop the writer (after the queued jobs) and close every connection."""
        self._writer.close()
        self._write_engine.dispose()
        self._read_engine.dispose()
        log.debug("closed sqlite database %s", self.safe_url)


class PostgresDatabase(Database):
    """PostgreSQL through psycopg 3 with a normal pool; each call runs in its own transaction."""

    def __init__(self, url: URL, pool_size: int = 5, max_overflow: int = 10, *, check: bool = True) -> None:
        """Pool connections to ``url``; with ``check`` connect once now (else at the first call).

        Raises:
            StorageUnavailableError: ``check`` and the server cannot be reached.
        """
        super().__init__(url)
        self._engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S, **LINK_CHECKS},
        )
        self._closed = False
        if not check:
            return
        try:
            with self._engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except (OperationalError, InterfaceError) as err:
            self._engine.dispose()
            raise self.unavailable(err) from err

    def _check_open(self) -> None:
        if self._closed:
            raise StorageUnavailableError(f"the store for {self.safe_url} is closed")

    def read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in a transaction on a pooled connection."""
        return self.write(fn)

    def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in a transaction on a pooled connection and commit."""
        self._check_open()
        try:
            return _run_in_session(self._engine, fn)
        except (OperationalError, InterfaceError) as err:
            raise self.unavailable(err) from err

    def close(self) -> None:
        """Close every pooled connection."""
        self._closed = True
        self._engine.dispose()


def connect_database(url: str | URL, *, check: bool = True) -> Database:
    """Open the database named by ``url`` (no migrations).

    Without ``check`` a PostgreSQL server is not contacted until the first call (SQLite, a local file,
    is always opened at once).

    Raises:
        ValueError: If the URL is malformed or names an unsupported database.
        StorageUnavailableError: If the server cannot be reached or the SQLite folder is not writable.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SqliteDatabase(parsed)
    return PostgresDatabase(parsed, check=check)
