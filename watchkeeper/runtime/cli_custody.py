"""``watchkeeper audit verify``, ``watchkeeper keys rotate``, ``watchkeeper export pubkey|verify``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from watchkeeper.audit.anchor import AnchorFile
from watchkeeper.audit.log import AuditAction, AuditLog
from watchkeeper.audit.verify import all_records, verify_chain
from watchkeeper.config.loader import load_config
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import WatchkeeperError
from watchkeeper.privacy.bundle_verify import verify_bundle
from watchkeeper.privacy.keys import rewrap_all
from watchkeeper.privacy.signing import ExportSigner
from watchkeeper.storage.protocols import Store

T = TypeVar("T")

audit_app = typer.Typer(help="Check the tamper-evident audit log.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage the master key of encrypted originals.", no_args_is_help=True)
export_app = typer.Typer(
    help="Evidence exports: the signing public key and offline checks.", no_args_is_help=True
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML configuration file.")]


def register_custody_commands(app: typer.Typer) -> None:
    """Add the ``audit``, ``keys`` and ``export`` command groups to ``app``."""
    app.add_typer(audit_app, name="audit")
    app.add_typer(keys_app, name="keys")
    app.add_typer(export_app, name="export")


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(2)


def _with_store(config_file: Path, action: Callable[[WatchkeeperConfig, Store], T]) -> T:
    from watchkeeper.runtime.wiring import open_config_store  # heavy: only when a command runs

    try:
        config = load_config(config_file)
        store = open_config_store(config)
    except WatchkeeperError as err:
        raise _fail(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
    try:
        return action(config, store)
    except WatchkeeperError as err:
        raise _fail(str(err)) from None
    finally:
        store.close()


@audit_app.command("verify")
def audit_verify(config: ConfigOption) -> None:
    """Check every link of the audit chain and the anchors; name the first broken link (exit 1)."""

    def run(loaded: WatchkeeperConfig, store: Store) -> bool:
        anchors = AnchorFile(loaded.custody.paths(loaded.storage.media_root).audit_anchor_file)
        report = verify_chain(all_records(store.audit), anchors.read())
        out = Console(highlight=False)
        if report.ok:
            out.print(f"[green]ok[/] audit log intact: {report.checked} record(s), head #{report.head_seq}")
            return True
        out.print(f"[bold red]broken[/] at record #{report.broken_seq}: {report.problem}")
        return False

    if not _with_store(config, run):
        raise typer.Exit(1)


@keys_app.command("rotate")
def keys_rotate(config: ConfigOption) -> None:
    """Make a new master key and rewrap every data key with it (media is not re-encrypted)."""
    from watchkeeper.runtime.custody import open_key_provider

    def run(loaded: WatchkeeperConfig, store: Store) -> int:
        old = open_key_provider(loaded, store)
        new = old.begin_rotation()
        count = rewrap_all(new, new, store.data_keys)
        new.finish_rotation()
        AuditLog(store.audit).record(
            "system",
            AuditAction.KEYS_ROTATE,
            "keys",
            details={"master_key": new.current_id, "rewrapped": count},
        )
        return count

    count = _with_store(config, run)
    Console(highlight=False).print(f"[green]ok[/] new master key; {count} data key(s) rewrapped")


@export_app.command("pubkey")
def export_pubkey(config: ConfigOption) -> None:
    """Print the public key that verifies this installation's evidence exports (PEM)."""
    try:
        loaded = load_config(config)
        signer = ExportSigner.open(loaded.custody.paths(loaded.storage.media_root).signing_key_file)
    except WatchkeeperError as err:
        raise _fail(str(err)) from None
    sys.stdout.write(signer.public_pem().decode())


@export_app.command("verify")
def export_verify(
    bundle: Annotated[Path, typer.Argument(help="The bundle (.zip or unpacked folder).")],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="PEM public key you trust (`watchkeeper export pubkey`)."),
    ] = None,
) -> None:
    """Check an evidence bundle offline: signature, every file hash, the audit excerpt (exit 1 on failure)."""
    try:
        pem = public_key.read_bytes() if public_key is not None else None
    except OSError as err:
        raise _fail(f"cannot read {public_key}: {err.strerror}") from None
    report = verify_bundle(bundle, pem)
    out = Console(highlight=False, soft_wrap=True)
    if report.key_from_bundle:
        out.print("[yellow]note[/] checked with the key inside the bundle: proves integrity, not origin")
    if report.ok:
        out.print(
            f"[green]ok[/] export {report.export_id}: signature and {report.checked_files} file(s) verified"
        )
        return
    for problem in report.problems:
        out.print(f"[bold red]FAIL[/] {problem}")
    raise typer.Exit(1)
