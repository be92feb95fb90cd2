"""Run the Alembic migrations in ``watchkeeper/storage/migrations`` from code (no alembic.ini)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from watchkeeper.storage.sql.engine import connect_database, parse_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
"""The folder holding env.py, script.py.mako and versions/."""

_PG_MIGRATION_LOCK = 0x57_4B_4D_49  # "WKMI": serialises migrations of several hosts on one PostgreSQL


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` for Watchkeeper's migrations, built in code.

    Args:
        url: Optional database URL (only needed by Alembic commands that open their own connection).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", parse_url(url).render_as_string(hide_password=False))
    return config


def head_revision() -> str | None:
    """The newest revision id in the migrations folder."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at, or ``None`` when it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``connection`` inside its current transaction (the caller commits).

    On PostgreSQL a transaction-level advisory lock makes concurrent upgrades from several hosts wait
    for each other; on SQLite the writer's ``BEGIN IMMEDIATE`` already does.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def upgrade_session(session: Session) -> None:
    """Upgrade to head in ``session``'s transaction (used through ``Database.write``)."""
    upgrade_connection(session.connection())


def upgrade(url: str, revision: str = "head") -> None:
    """Open ``url``, upgrade it to ``revision`` and close it.

    Raises:
        StorageUnavailableError: If the database cannot be reached or opened.
    """
    database = connect_database(url)
    try:
        database.write(lambda session: upgrade_connection(session.connection(), revision))
    finally:
        database.close()
