"""``SqlStore``: the ``Store`` protocol over one SQLite or PostgreSQL database."""

from types import TracebackType

from watchkeeper.storage.sql.engine import Database
from watchkeeper.storage.sql.repositories import (
    SqlCameraRepository,
    SqlEventRepository,
    SqlSegmentRepository,
    SqlSiteRepository,
)


class SqlStore:
    """All repositories of one SQL database; safe to share between threads.

    Build it with :func:`watchkeeper.storage.factory.open_store`, which also migrates the database.
    """

    def __init__(self, database: Database) -> None:
        self._db = database
        self._sites = SqlSiteRepository(database)
        self._cameras = SqlCameraRepository(database)
        self._segments = SqlSegmentRepository(database)
        self._events = SqlEventRepository(database)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect_name

    @property
    def safe_url(self) -> str:
        """The database URL with its password masked (fit for logs and errors)."""
        return self._db.safe_url

    @property
    def sites(self) -> SqlSiteRepository:
        """Site repository."""
        return self._sites

    @property
    def cameras(self) -> SqlCameraRepository:
        """Camera repository."""
        return self._cameras

    @property
    def segments(self) -> SqlSegmentRepository:
        """Segment repository."""
        return self._segments

    @property
    def events(self) -> SqlEventRepository:
        """Event repository."""
        return self._events

    def close(self) -> None:
        """Finish queued writes, stop the writer and release connections (idempotent)."""
        self._db.close()

    def __enter__(self) -> "SqlStore":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
