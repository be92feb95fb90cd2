"""Fixtures of the storage tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.pg import fresh_pg_database, migrated_store
from watchkeeper.storage.protocols import Store


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite URL in a fresh temporary folder."""
    return f"sqlite:///{tmp_path / 'wk.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest) -> str:
    """Each backend's fresh database URL in turn."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on each backend in turn."""
    with migrated_store(request.param, tmp_path) as opened:
        yield opened
