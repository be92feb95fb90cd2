"""The ``watchkeeper`` command is declared, installed and is what the Makefile's demo runs."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

EXPECTED_TARGET = "watchkeeper.runtime.cli:main"


def test_pyproject_declares_the_console_script(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project.get("scripts", {}).get("watchkeeper") == EXPECTED_TARGET


def test_the_installed_distribution_exposes_the_console_script() -> None:
    scripts = metadata.entry_points(group="console_scripts", name="watchkeeper")
    assert [script.value for script in scripts] == [EXPECTED_TARGET], "reinstall with `make venv`"


def test_the_console_script_target_is_a_callable(repo_root: Path) -> None:
    module, _, function = EXPECTED_TARGET.partition(":")
    source = repo_root / (module.replace(".", "/") + ".py")
    assert source.exists(), f"{source} is missing"
    assert re.search(rf"^def {function}\(", source.read_text(encoding="utf-8"), re.MULTILINE)


def test_the_makefile_runs_the_console_script(repo_root: Path) -> None:
    makefile = (repo_root / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:.*\bvenv\b.*\bweb\b", makefile, re.MULTILINE)
    assert "$(BIN)/watchkeeper demo --config" in makefile
    assert re.search(r"^test:.*\bsystem-deps\b.*\bvenv\b.*\bweb\b", makefile, re.MULTILINE)
