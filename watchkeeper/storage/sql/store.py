"""``SqlStore``: the ``Store`` protocol over one SQLite or PostgreSQL database."""

from types import TracebackType

from watchkeeper.storage.sql.auth import SqlAuthRepositories
from watchkeeper.storage.sql.custody import (
    SqlAuditRepository,
    SqlDataKeyRepository,
    SqlExportRepository,
    SqlGrantRepository,
)
from watchkeeper.storage.sql.engine import Database
from watchkeeper.storage.sql.fences import SqlFenceRepository
from watchkeeper.storage.sql.incidents import SqlIncidentRepository
from watchkeeper.storage.sql.integrations import SqlIncidentJournal, SqlWebhookDeliveryRepository
from watchkeeper.storage.sql.repositories import (
    SqlCameraRepository,
    SqlEventRepository,
    SqlSegmentRepository,
    SqlSiteRepository,
)
from watchkeeper.storage.sql.retention import SqlEvidenceLockRepository, SqlRetentionRepository
from watchkeeper.storage.sql.tiers import SqlTierRepository


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
        self._evidence_locks = SqlEvidenceLockRepository(database)
        self._retention = SqlRetentionRepository(database)
        self._tiers = SqlTierRepository(database)
        self._fences = SqlFenceRepository(database)
        self._auth = SqlAuthRepositories(database)
        self._incidents = SqlIncidentRepository(database)
        self._webhook_deliveries = SqlWebhookDeliveryRepository(database)
        self._incident_journal = SqlIncidentJournal(database)
        self._audit = SqlAuditRepository(database)
        self._grants = SqlGrantRepository(database)
        self._data_keys = SqlDataKeyRepository(database)
        self._exports = SqlExportRepository(database)

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

    @property
    def evidence_locks(self) -> SqlEvidenceLockRepository:
        """Evidence-lock repository."""
        return self._evidence_locks

    @property
    def retention(self) -> SqlRetentionRepository:
        """Retention and recovery queries over the recording index."""
        return self._retention

    @property
    def tiers(self) -> SqlTierRepository:
        """Storage tier queries (hot segments to move, the switch to warm)."""
        return self._tiers

    @property
    def fences(self) -> SqlFenceRepository:
        """Fencing tokens and fenced index writes (camera leases across workers)."""
        return self._fences

    @property
    def auth(self) -> SqlAuthRepositories:
        """Users, sessions, API tokens and login counters."""
        return self._auth

    @property
    def incidents(self) -> SqlIncidentRepository:
        """Incidents and inbound-alarm idempotency keys."""
        return self._incidents

    @property
    def webhook_deliveries(self) -> SqlWebhookDeliveryRepository:
        """Outbound webhook deliveries and dead letters."""
        return self._webhook_deliveries

    @property
    def incident_journal(self) -> SqlIncidentJournal:
        """The incident change journal consoles replay from."""
        return self._incident_journal

    @property
    def audit(self) -> SqlAuditRepository:
        """The hash-chained audit log."""
        return self._audit

    @property
    def grants(self) -> SqlGrantRepository:
        """Unmask grants."""
        return self._grants

    @property
    def data_keys(self) -> SqlDataKeyRepository:
        """Wrapped data keys of encrypted originals."""
        return self._data_keys

    @property
    def exports(self) -> SqlExportRepository:
        """Evidence exports."""
        return self._exports

    def close(self) -> None:
        """Finish queued writes, stop the writer and release connections (idempotent)."""
        self._db.close()

    def __enter__(self) -> "SqlStore":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
