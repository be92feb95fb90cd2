"""Fixtures for the architecture tests: paths of the repository and of the package."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (where pyproject.toml, Makefile and .importlinter live)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def package_dir(repo_root: Path) -> Path:
    """The ``watchkeeper`` package folder."""
    return repo_root / "watchkeeper"
