"""Fixtures of the contract suites: each runs against every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.pg import migrated_store
from watchkeeper.storage.protocols import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on SQLite, then on a fresh PostgreSQL database."""
    with migrated_store(request.param, tmp_path) as opened:
        yield opened
