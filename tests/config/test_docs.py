"""docs/configuration.md is generated from the models and must not go stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from watchkeeper.config.docs import REGENERATE_COMMAND, render_config_docs


def test_docs_are_up_to_date(repo_root: Path) -> None:
    docs = repo_root / "docs" / "configuration.md"
    current = docs.read_text(encoding="utf-8") if docs.exists() else ""
    assert current == render_config_docs(), (
        f"docs/configuration.md is stale; regenerate it with: {REGENERATE_COMMAND}"
    )


def test_docs_cover_every_section_and_bound() -> None:
    text = render_config_docs()
    for name in ("WatchkeeperConfig", "CameraConfig", "CameraInputConfig", "MotionConfig", "NatsBusConfig"):
        assert f"## `{name}`" in text
    assert "| `port` | integer | `8080` | >= 1, <= 65535 |" in text
    assert "chosen by `type`" in text


def test_docs_module_writes_to_stdout(repo_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "watchkeeper.config.docs"],
        capture_output=True,
        text=True,
        check=True,
        cwd=repo_root,
        timeout=60,
    )
    assert result.stdout == render_config_docs()
