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
