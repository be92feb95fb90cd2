"""The dependency rule: every import-linter contract in .importlinter holds, one test case per contract.

The same contracts run in ``make imports``; running them here too makes a violation fail ``pytest`` alone.
"""

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.architecture.conftest import REPO_ROOT

CONTRACT_PREFIX = "importlinter:contract:"


def read_contracts(config_file: Path) -> configparser.ConfigParser:
    """The parsed .importlinter file."""
    parser = configparser.ConfigParser()
    parser.read(config_file, encoding="utf-8")
    return parser


def contract_ids(config_file: Path) -> list[str]:
    """Identifiers of the contracts declared in ``config_file``."""
    parser = read_contracts(config_file)
    return [
        section.removeprefix(CONTRACT_PREFIX)
        for section in parser.sections()
        if section.startswith(CONTRACT_PREFIX)
    ]


def lint_imports_executable() -> str:
    """``lint-imports`` next to the running interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name("lint-imports")
    if beside.exists():
        return str(beside)
    found = shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed: run `make venv` (import-linter is a dev dependency)")
    return found


def run_lint_imports(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """Run lint-imports in ``root`` on the ``watchkeeper`` package found there."""
    command = [lint_imports_executable(), "--no-cache"]
    for contract in contracts:
        command += ["--contract", contract]
    env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1"}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("contract", contract_ids(REPO_ROOT / ".importlinter"))
def test_import_contract_holds(repo_root: Path, contract: str) -> None:
    result = run_lint_imports(repo_root, contract)
    assert result.returncode == 0, (
        f"import contract {contract!r} is broken:\n{result.stdout}\n{result.stderr}"
    )


def test_contracts_are_declared() -> None:
    assert len(contract_ids(REPO_ROOT / ".importlinter")) >= 5


def test_every_top_level_package_is_placed_in_the_contracts(repo_root: Path, package_dir: Path) -> None:
    text = (repo_root / ".importlinter").read_text(encoding="utf-8")
    packages = sorted(path.parent.name for path in package_dir.glob("*/__init__.py"))
    unplaced = [name for name in packages if f"watchkeeper.{name}\n" not in text]
    assert not unplaced, (
        f"new top-level packages {unplaced} are not named in .importlinter: say which layer they belong to"
    )


@pytest.fixture
def planted_tree(tmp_path: Path, repo_root: Path, package_dir: Path) -> Path:
    """A copy of the package and the contracts, to plant violations in."""
    shutil.copytree(package_dir, tmp_path / "watchkeeper", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(repo_root / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "planted_import", "contract"),
    [
        ("domain/ids.py", "import watchkeeper.config", "domain-is-pure"),
        ("domain/ids.py", "import sqlalchemy", "domain-is-pure"),
        ("recorder/__init__.py", "import watchkeeper.storage.sql", "stages-use-protocols"),
        ("sources/__init__.py", "import watchkeeper.events", "pipeline-flows-downstream"),
        ("runtime/__init__.py", "import watchkeeper.storage.sql", "only-wiring-picks-backends"),
        ("storage/protocols.py", "import watchkeeper.runtime", "app-on-top"),
        ("simulator/__init__.py", "import watchkeeper.sources", "simulator-stands-alone"),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    planted_tree: Path, module: str, planted_import: str, contract: str
) -> None:
    target = planted_tree / "watchkeeper" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{planted_import}\n", encoding="utf-8")

    result = run_lint_imports(planted_tree, contract)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout


def test_wiring_may_import_a_backend(planted_tree: Path) -> None:
    wiring = planted_tree / "watchkeeper" / "runtime" / "wiring.py"
    existing = wiring.read_text(encoding="utf-8") if wiring.exists() else '"""Wiring."""\n'
    wiring.write_text(existing + "\nimport watchkeeper.storage.sql\n", encoding="utf-8")

    result = run_lint_imports(planted_tree, "only-wiring-picks-backends")

    assert result.returncode == 0, result.stdout + result.stderr
