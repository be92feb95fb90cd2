"""A fresh, uniquely named PostgreSQL database for one test, dropped afterwards."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import psycopg
from psycopg import sql

from tests.support.services import require_service
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Create ``wk_test_<random>`` via the ``postgres`` maintenance DB, yield its URL, drop it."""
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    name = f"wk_test_{uuid4().hex[:12]}"
    admin = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def migrated_store(backend: str, folder: Path) -> Iterator[Store]:
    """A migrated store on ``backend``: ``sqlite`` in ``folder``, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        opened = open_store(f"sqlite:///{folder / 'wk.db'}")
        try:
            yield opened
        finally:
            opened.close()
        return
    with fresh_pg_database() as url:
        opened = open_store(url)
        try:
            yield opened
        finally:
            opened.close()
