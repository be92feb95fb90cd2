"""``watchkeeper users ...`` and the first-run admin."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from watchkeeper.auth.permissions import Permission
from watchkeeper.auth.service import AuthService
from watchkeeper.config.loader import load_config
from watchkeeper.runtime.cli import app
from watchkeeper.runtime.wiring import create_first_admin, open_config_store

runner = CliRunner()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "wk.yaml"
    document = {
        "sites": [{"id": "a", "name": "A"}],
        "storage": {"database_url": "sqlite:///data/wk.db", "media_root": "data/media"},
    }
    path.write_text(yaml.safe_dump(document))
    return path


def _users(config_file: Path, *args: str, password: str | None = None) -> tuple[int, str]:
    command = ["users", *args, "--config", str(config_file)]
    if password is not None:
        command.append("--password-stdin")
    result = runner.invoke(app, command, input=None if password is None else password + "\n")
    return result.exit_code, result.output


def test_add_list_and_reset_password(config_file: Path) -> None:
    code, out = _users(
        config_file, "add", "--username", "ops", "--role", "viewer", "--site", "a", password="first password"
    )
    assert (code, "created user ops" in out) == (0, True)
    code, out = _users(config_file, "list")
    assert code == 0
    assert "ops: viewer (site a)" in out
    code, _ = _users(config_file, "reset-password", "--username", "ops", password="second password")
    assert code == 0
    config = load_config(config_file)
    store = open_config_store(config)
    try:
        auth = AuthService(store.auth, config.auth)
        assert auth.login("ops", "second password", "127.0.0.1").principal.username == "ops"
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("add", "--username", "x", "--role", "root"), "long enough pw", "unknown role 'root'"),
        (("add", "--username", "x", "--role", "viewer"), "short", "at least 10 characters"),
        (("reset-password", "--username", "ghost"), "long enough pw", "no user named 'ghost'"),
        (("add", "--username", "x", "--role", "viewer"), "", "no password on stdin"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    config_file: Path, args: tuple[str, ...], password: str, message: str
) -> None:
    code, out = _users(config_file, *args, password=password)
    assert code == 2
    assert message in out


def test_first_run_prints_a_generated_admin_password_once(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_config(config_file)
    store = open_config_store(config)
    try:
        create_first_admin(store, config)
        shown = capsys.readouterr().err
        password = shown.split("password\n\n", 1)[1].split()[0]
        assert len(password) >= 16
        create_first_admin(store, config)
        assert capsys.readouterr().err == ""
        principal = AuthService(store.auth, config.auth).login("admin", password, "127.0.0.1").principal
        assert principal.can(Permission.MANAGE_USERS)
    finally:
        store.close()
