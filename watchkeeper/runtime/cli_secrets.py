"""``watchkeeper secrets ...``: keep camera passwords and other secrets encrypted next to the config file.

Values are read from stdin (or a hidden prompt on a terminal), never from the command line, and never
printed: ``list`` shows names only. The configuration refers to them as ``${secret:NAME}``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from watchkeeper.config.secretstore import SecretStore, SecretStoreError, check_secret_name

T = TypeVar("T")

secrets_app = typer.Typer(
    help="Manage encrypted secrets (camera passwords, tokens) referenced as ${secret:NAME} in the config.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="YAML configuration file (secrets.enc and secrets.key sit beside it)."
    ),
]
NameArgument = Annotated[str, typer.Argument(help="Secret name (letters, digits, '_', '.', '-').")]


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(2)


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _store_action(config: Path, action: Callable[[SecretStore], T]) -> T:
    """Open the store beside ``config`` and run ``action``; a store error becomes one line, exit 2."""
    folder = config.absolute().parent
    if not folder.is_dir():
        raise _fail(f"folder {folder} of the configuration file does not exist")
    try:
        return action(SecretStore.open(folder))
    except SecretStoreError as err:
        raise _fail(str(err)) from None


def _read_value() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("Value", hide_input=True, confirmation_prompt=True))
    value = sys.stdin.read()
    return value.removesuffix("\n").removesuffix("\r")


@secrets_app.command("set")
def set_secret(config: ConfigOption, name: NameArgument) -> None:
    """Store (or replace) secret NAME; the value is read from stdin, never from the command line."""
    try:
        check_secret_name(name)
    except SecretStoreError as err:
        raise _fail(str(err)) from None
    value = _read_value()
    if not value:
        raise _fail(f"no value for secret {name!r} on stdin")
    store = _store_action(config, lambda current: current.with_value(name, value))
    _out().print(f"[green]ok[/] stored secret {name} in {store.path} (key file {store.key_path})")


@secrets_app.command("list")
def list_secrets(config: ConfigOption) -> None:
    """Print the names of the stored secrets, one per line (never their values)."""
    names = _store_action(config, lambda store: store.names())
    out = _out()
    for name in names:
        out.print(name, markup=False)


@secrets_app.command("remove")
def remove_secret(config: ConfigOption, name: NameArgument) -> None:
    """Delete secret NAME (a config still referring to it will then fail to load)."""
    store = _store_action(config, lambda current: current.without(name))
    _out().print(f"[green]ok[/] removed secret {name} from {store.path}", markup=True)
