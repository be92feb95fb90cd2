"""Fixtures shared by the recorder tests: a short real clip and a real SQLite index."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import TEST_FOOTAGE
from watchkeeper.simulator import write_mp4
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5 s MP4 of the test footage (a module that needs another length defines its own)."""
    return write_mp4(replace(TEST_FOOTAGE, duration_s=5.0), tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite index in the test's folder, closed afterwards."""
    opened = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    yield opened
    opened.close()
