"""``watchkeeper cluster status`` and ``watchkeeper worker drain``: look at and steer the camera workers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from watchkeeper.cluster.model import ClusterStatus, LeaseState, WorkerId, WorkerState
from watchkeeper.cluster.protocol import ClusterControl
from watchkeeper.config.loader import load_config
from watchkeeper.domain import WatchkeeperError

T = TypeVar("T")

cluster_app = typer.Typer(help="Look at the camera workers of a multi-process setup.", no_args_is_help=True)
worker_app = typer.Typer(help="Steer one camera worker (drain it before maintenance).", no_args_is_help=True)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="YAML configuration file (its `cluster:` section names the bucket)."),
]


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(2)


def _with_control(config_file: Path, action: Callable[[ClusterControl], Awaitable[T]]) -> T:
    """Run ``action`` on the cluster of ``config_file``; errors become one line on stderr and exit code 2."""
    from watchkeeper.runtime.wiring import open_cluster_control  # heavy: only when a command runs

    async def run() -> T:
        control = await open_cluster_control(load_config(config_file))
        try:
            return await action(control)
        finally:
            await control.close()

    try:
        return asyncio.run(run())
    except WatchkeeperError as err:
        raise _fail(str(err).splitlines()[0] if str(err) else type(err).__name__) from None


def _ago(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "-"
    return f"{(now - then).total_seconds():.1f} s ago"


def workers_table(status: ClusterStatus) -> Table:
    """One row per worker: state, capacity, cameras and last heartbeat."""
    table = Table(title=f"Workers ({len(status.workers)})", title_justify="left")
    for column in ("worker", "host", "state", "site", "hardware", "cameras", "last heartbeat"):
        table.add_column(column)
    for worker in status.workers:
        table.add_row(
            worker.info.worker_id,
            worker.info.host,
            _state(worker),
            worker.info.site or "-",
            worker.info.hardware,
            f"{worker.load}/{worker.info.capacity}: {', '.join(worker.cameras) or '-'}",
            _ago(status.at, worker.last_heartbeat),
        )
    return table


def _state(worker: WorkerState) -> str:
    if not worker.alive:
        return "[red]dead[/]"
    return "[yellow]draining[/]" if worker.draining else "[green]alive[/]"


def leases_table(status: ClusterStatus) -> Table:
    """One row per camera lease: owner, fencing token, renewal lag and expiry."""
    table = Table(title=f"Camera leases ({len(status.leases)})", title_justify="left")
    for column in ("camera", "owner", "token", "renewed (lag)", "expires in", "handover to"):
        table.add_column(column)
    for lease in status.leases:
        table.add_row(
            lease.camera_id,
            _owner(status, lease),
            str(lease.token),
            _ago(status.at, lease.renewed_at),
            _expires(status.at, lease),
            lease.handover_to or "-",
        )
    return table


def _owner(status: ClusterStatus, lease: LeaseState) -> str:
    if lease.owner is None:
        return "[red]unassigned[/]"
    worker = status.worker(lease.owner)
    if worker is None or not worker.alive:
        return f"[red]{lease.owner} (dead)[/]"
    return lease.owner


def _expires(now: datetime, lease: LeaseState) -> str:
    if lease.expires_at is None:
        return "-"
    left = (lease.expires_at - now).total_seconds()
    return f"{left:.1f} s" if left >= 0 else f"[red]expired {-left:.1f} s ago[/]"


@cluster_app.command("status")
def cluster_status(config: ConfigOption) -> None:
    """Show the workers (cameras each, last heartbeat) and every camera lease (owner, token, lag)."""

    async def read(control: ClusterControl) -> ClusterStatus:
        return await control.status()

    status = _with_control(config, read)
    out = Console(highlight=False)
    out.print(workers_table(status))
    out.print(leases_table(status))
    unassigned = sum(lease.owner is None for lease in status.leases)
    if unassigned:
        out.print(f"[red]{unassigned} camera(s) not recorded by any worker[/]")
    for site in status.unreachable:
        out.print(
            f"[red]site {site.domain} not readable now ({site.reason}): "
            "its workers and leases are not shown[/]"
        )


@worker_app.command("drain")
def worker_drain(
    worker_id: Annotated[str, typer.Argument(help="Worker id, as `watchkeeper cluster status` shows it.")],
    config: ConfigOption,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until the worker holds no camera.")
    ] = True,
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the handover.", min=1, max=3600)
    ] = 120.0,
) -> None:
    """Move WORKER_ID's cameras to other workers one by one (no gap over a segment); it takes no new ones."""
    out = Console(highlight=False)

    async def drain(control: ClusterControl) -> ClusterStatus | None:
        await control.drain(WorkerId(worker_id))
        if not wait:
            return None
        with out.status(f"handing the cameras of {worker_id} over..."):
            return await control.wait_drained(WorkerId(worker_id), timeout_s)

    try:
        status = _with_control(config, drain)
    except TimeoutError:
        raise _fail(f"worker {worker_id} still holds cameras after {timeout_s:g} s") from None
    if status is None:
        out.print(f"[green]ok[/] worker {worker_id} is draining")
        return
    left = status.worker(WorkerId(worker_id))
    kept = left.cameras if left is not None else ()
    if kept:
        out.print(f"[yellow]worker {worker_id} keeps {', '.join(kept)}: no other worker can take them[/]")
        raise typer.Exit(1)
    out.print(f"[green]ok[/] worker {worker_id} drained: it holds no camera")


@worker_app.command("undrain")
def worker_undrain(
    worker_id: Annotated[str, typer.Argument(help="Worker id, as `watchkeeper cluster status` shows it.")],
    config: ConfigOption,
) -> None:
    """Let a drained WORKER_ID take cameras again."""

    async def undrain(control: ClusterControl) -> None:
        await control.undrain(WorkerId(worker_id))

    _with_control(config, undrain)
    Console(highlight=False).print(f"[green]ok[/] worker {worker_id} takes cameras again")
