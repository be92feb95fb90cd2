"""``watchkeeper users ...``: create users and reset passwords from the host (no HTTP needed)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from watchkeeper.auth.models import RoleGrant
from watchkeeper.auth.service import AuthService
from watchkeeper.config.loader import load_config
from watchkeeper.domain import CameraId, SiteId, WatchkeeperError

T = TypeVar("T")

users_app = typer.Typer(help="Manage local users (create, reset passwords, list).", no_args_is_help=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="YAML configuration file (its database holds the users).")
]
UsernameOption = Annotated[str, typer.Option("--username", "-u", help="Login name.")]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(2)


def _with_service(config_file: Path, action: Callable[[AuthService], T]) -> T:
    """Run ``action`` on the auth service of the configured database; errors become one line, exit 2."""
    from watchkeeper.runtime.wiring import open_config_store  # heavy: only when a command runs

    try:
        config = load_config(config_file)
        store = open_config_store(config)
    except WatchkeeperError as err:
        raise _fail(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
    try:
        return action(AuthService(store.auth, config.auth))
    except WatchkeeperError as err:
        raise _fail(str(err)) from None
    finally:
        store.close()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise _fail("no password on stdin")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def add_user(
    config: ConfigOption,
    username: UsernameOption,
    role: Annotated[list[str], typer.Option("--role", "-r", help="Role to grant (repeatable).")],
    site: Annotated[list[str] | None, typer.Option("--site", help="Limit the roles to this site.")] = None,
    camera: Annotated[
        list[str] | None, typer.Option("--camera", help="Limit the roles to this camera.")
    ] = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Create a user with roles, everywhere or limited to --site/--camera."""
    sites = frozenset(SiteId(value) for value in site or [])
    cameras = frozenset(CameraId(value) for value in camera or [])
    grants = [RoleGrant(name, sites, cameras) for name in role]
    password = _read_password(password_stdin)
    _with_service(config, lambda auth: auth.create_user(username, password, grants))
    Console(highlight=False).print(f"[green]ok[/] created user {username}")


@users_app.command("reset-password")
def reset_password(
    config: ConfigOption, username: UsernameOption, password_stdin: PasswordStdinOption = False
) -> None:
    """Set a new password; ends the user's sessions and clears their login backoff."""
    password = _read_password(password_stdin)
    _with_service(config, lambda auth: auth.reset_password(username, password))
    Console(highlight=False).print(f"[green]ok[/] new password set for {username}")


@users_app.command("list")
def list_users(config: ConfigOption) -> None:
    """Print every user with their role grants."""
    users = _with_service(config, lambda auth: auth.repos.users.list())
    out = Console(highlight=False)
    for user in users:
        grants = ", ".join(_describe(grant) for grant in user.grants) or "no roles"
        state = " (disabled)" if user.disabled else ""
        out.print(f"{user.username}{state}: {grants}", markup=False)


def _describe(grant: RoleGrant) -> str:
    if grant.is_global:
        return f"{grant.role} (everywhere)"
    scope = [f"site {s}" for s in sorted(grant.sites)] + [f"camera {c}" for c in sorted(grant.cameras)]
    return f"{grant.role} ({', '.join(scope)})"
