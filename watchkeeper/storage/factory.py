"""``open_store``: the one way to get a ``Store`` from a database URL."""

import logging

from watchkeeper.storage.protocols import Store
from watchkeeper.storage.sql.engine import connect_database
from watchkeeper.storage.sql.migrate import upgrade_session
from watchkeeper.storage.sql.store import SqlStore

log = logging.getLogger(__name__)


def open_store(url: str) -> Store:
    """Open the database at ``url``, migrate it to the newest schema and return its store.

    Args:
        url: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (embedded default; the folder is
            created when missing) or ``postgresql+psycopg://user:password@host:5432/db`` (``postgresql://``
            works too and selects psycopg 3).

    Raises:
        StorageUnavailableError: If the server cannot be reached, the database does not exist, or the
            SQLite folder cannot be created or written. The message is one line and masks the password.
        ValueError: If ``url`` is not a supported database URL.
    """
    database = connect_database(url)
    try:
        database.write(upgrade_session)
    except BaseException:
        database.close()
        raise
    log.info("opened %s store at %s", database.dialect_name, database.safe_url)
    return SqlStore(database)


class PendingStore:
    """A store whose server may not answer yet: usable at once, migrated by :meth:`open` once it answers.

    Every call of ``store`` raises ``StorageUnavailableError`` while the server is away (as for any store);
    call :meth:`open` until it succeeds before relying on the schema.
    """

    def __init__(self, url: str) -> None:
        """A store over ``url`` that does not contact the server yet.

        Raises:
            ValueError: If ``url`` is not a supported database URL.
            StorageUnavailableError: An SQLite folder that cannot be created or written.
        """
        self._database = connect_database(url, check=False)
        self.store: Store = SqlStore(self._database)

    @property
    def safe_url(self) -> str:
        """The URL without its password."""
        return self._database.safe_url

    def open(self) -> None:
        """Migrate the database to the newest schema (safe to repeat).

        Raises:
            StorageUnavailableError: The server cannot be reached (one line, password masked).
        """
        self._database.write(upgrade_session)
        log.info("opened %s store at %s", self._database.dialect_name, self._database.safe_url)
