"""Fixtures for configuration tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

GOOD_CONFIG = """\
sites:
  - id: main
    name: Main site
cameras:
  - id: gate
    name: Gate
    site: main
    inputs:
      - url: rtsp://127.0.0.1:8554/gate
        roles: [record, detect]
"""

WriteConfig = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write dedented YAML to ``<tmp>/conf/watchkeeper.yaml`` and return its path."""

    def write(text: str) -> Path:
        folder = tmp_path / "conf"
        folder.mkdir(exist_ok=True)
        path = folder / "watchkeeper.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def repo_root() -> Path:
    """The repository root."""
    return REPO_ROOT
