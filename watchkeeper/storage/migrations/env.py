"""Alembic environment: runs on the connection Watchkeeper hands over (no alembic.ini at runtime).

See README.md in this folder for how to add a table or column.
"""

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, create_engine

from watchkeeper.storage.sql.models import Base, UTCDateTime

target_metadata = Base.metadata


def _render_item(type_: str, obj: object, _autogen: AutogenContext) -> str | Literal[False]:
    """Write ``UTCDateTime`` columns as the portable ``sa.DateTime(timezone=True)`` in new revisions."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on ``config.attributes["connection"]`` or, failing that, on ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure_and_run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("give alembic a connection (config.attributes['connection']) or sqlalchemy.url")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run watchkeeper's upgrade()")
run_migrations_online()
