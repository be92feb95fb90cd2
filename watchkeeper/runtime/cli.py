"""The ``watchkeeper`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from watchkeeper.config.loader import load_config
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import WatchkeeperError
from watchkeeper.runtime.cli_cluster import cluster_app, worker_app
from watchkeeper.runtime.cli_custody import register_custody_commands
from watchkeeper.runtime.cli_secrets import secrets_app
from watchkeeper.runtime.cli_users import users_app
from watchkeeper.runtime.logs import LogFormat, configure_logging
from watchkeeper.runtime.roles import Role, check_role

if TYPE_CHECKING:
    from watchkeeper.simulator import EncodedClip

log = logging.getLogger(__name__)
T = TypeVar("T")

app = typer.Typer(
    name="watchkeeper",
    help="Watchkeeper: privacy-first video management and safety incidents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Check configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(users_app, name="users")
app.add_typer(secrets_app, name="secrets")
app.add_typer(cluster_app, name="cluster")
app.add_typer(worker_app, name="worker")
register_custody_commands(app)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="YAML configuration file (see docs/configuration.md).")
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show stack traces and debug logs.")]
LogFormatOption = Annotated[str, typer.Option("--log-format", help="Log lines as `text` or `json`.")]


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _guard(debug: bool, action: Callable[[], T]) -> T:
    """Run ``action``; a Watchkeeper error becomes one line on stderr and exit code 2 (trace with --debug)."""
    try:
        return action()
    except WatchkeeperError as err:
        if debug:
            raise
        for line in str(err).splitlines() or [type(err).__name__]:
            _err().print(f"[bold red]error:[/] {line}", markup=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _setup_logs(debug: bool, log_format: str) -> None:
    fmt: LogFormat = "json" if log_format == "json" else "text"
    configure_logging("DEBUG" if debug else "INFO", fmt)


@config_app.command("check")
def config_check(
    file: Annotated[Path, typer.Argument(help="The YAML file to validate.")],
    probe: Annotated[
        bool, typer.Option("--probe", help="Also try to open every camera input (a few seconds each).")
    ] = False,
    debug: DebugOption = False,
) -> None:
    """Validate FILE; print every problem with its line and key, exit 2 when invalid."""
    config = _guard(debug, lambda: load_config(file))
    enabled = sum(camera.enabled for camera in config.cameras)
    out = Console(highlight=False)
    out.print(
        f"[green]ok[/] {file}: {len(config.sites)} site(s), {len(config.cameras)} camera(s) "
        f"({enabled} enabled)"
    )
    if probe:
        _guard(debug, lambda: _probe_cameras(config, out))


def _probe_cameras(config: WatchkeeperConfig, out: Console) -> None:
    from watchkeeper.runtime.probe import CameraProbeError, probe_cameras

    results = probe_cameras(config)
    for result in results:
        mark = "[green]ok[/]" if result.ok else "[red]unreachable[/]"
        out.print(f"{mark} camera {result.camera_id} {result.redacted_url}: {result.detail}")
    failed = [r for r in results if not r.ok]
    if failed:
        raise CameraProbeError(f"{len(failed)} of {len(results)} camera input(s) cannot be opened")


@app.command()
def serve(
    config: ConfigOption,
    host: Annotated[str | None, typer.Option(help="Listen address (overrides server.host).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Listen port (overrides server.port).", min=1, max=65535)
    ] = None,
    role: Annotated[
        Role,
        typer.Option(
            help=(
                "`all`: cameras, API and console in this one process (single box). `worker`: record and "
                "analyse the cameras this process leases (health and metrics on the port, no console). "
                "`api`: API, console and integrations only. Split roles need storage.bus.type `nats`."
            ),
            case_sensitive=False,
        ),
    ] = Role.ALL,
    debug: DebugOption = False,
    log_format: LogFormatOption = "text",
) -> None:
    """Record and analyse the configured cameras and serve the console and API (or one part: --role)."""
    _setup_logs(debug, log_format)
    loaded = _guard(debug, lambda: load_config(config))
    _guard(debug, lambda: _run_server(loaded, host, port, role, config))


def _run_server(
    config: WatchkeeperConfig,
    host: str | None,
    port: int | None,
    role: Role = Role.ALL,
    path: Path | None = None,
) -> None:
    from watchkeeper.runtime.server import bind_socket, serve

    check_role(config, role)
    sock = bind_socket(host or config.server.host, port or config.server.port)
    with contextlib.closing(sock):
        asyncio.run(serve(config, sock, role, config_path=path))


@app.command()
def simulate(
    cameras: Annotated[int, typer.Option(help="How many cameras (/cam1 ... /camN).", min=1, max=64)] = 4,
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="RTSP port.", min=1, max=65535)] = 8554,
    debug: DebugOption = False,
) -> None:
    """Serve simulated RTSP cameras with generated footage (for trying Watchkeeper without cameras)."""
    from watchkeeper.simulator import run_forever

    _setup_logs(debug, "text")
    _guard(debug, lambda: run_forever(cameras, host=host, port=port))


@app.command()
def demo(
    config: ConfigOption = Path("examples/demo.yaml"),
    port: Annotated[int, typer.Option(help="RTSP port of the simulated cameras.", min=1, max=65535)] = 8554,
    footage: Annotated[
        Path, typer.Option(help="Real pedestrian footage for the plaza cameras (`make models` fetches it).")
    ] = Path("var/cache/footage/vtest.avi"),
    debug: DebugOption = False,
) -> None:
    """Start 4 simulated cameras and the server with the demo configuration; prints the URL to open."""
    _setup_logs(debug, "text")
    loaded = _guard(debug, lambda: load_config(config))
    with _guard(debug, lambda: _simulated_cameras(len(loaded.cameras) or 4, port, footage)):
        url = f"http://{loaded.server.host}:{loaded.server.port}/"
        _err().print(f"\n[bold]Watchkeeper demo[/] is starting: open [bold cyan]{url}[/] (Ctrl+C stops)\n")
        _guard(debug, lambda: _run_server(loaded, None, None))


def _simulated_cameras(count: int, port: int, footage: Path) -> contextlib.AbstractContextManager[None]:
    from watchkeeper.simulator import serve_simulated_cameras

    @contextlib.contextmanager
    def running() -> Iterator[None]:
        clips = _plaza_footage(count, footage)
        synthetic = count - len(clips)
        with Console(stderr=True).status(f"generating synthetic footage for {synthetic} camera(s)..."):
            server_cm = serve_simulated_cameras(count, port=port, clips=clips)
            server = server_cm.__enter__()
        log.info("simulated cameras on rtsp://127.0.0.1:%s/cam1 ... /cam%s", server.port, count)
        try:
            yield
        finally:
            server_cm.__exit__(None, None, None)

    return running()


def _plaza_footage(count: int, footage: Path) -> dict[str, EncodedClip]:
    """The real-footage clips of the demo's plaza cameras; empty (synthetic everywhere) without the file."""
    from watchkeeper.simulator import PlazaView, SimulatorError, plaza_clips

    if not footage.is_file():
        log.info(
            "real pedestrian footage %s not found: every camera shows synthetic footage, which the object "
            "detector does not see as people (`make models` fetches the real footage)",
            footage,
        )
        return {}
    with Console(stderr=True).status("preparing real footage...") as status:

        def show(view: PlazaView) -> None:
            status.update(f"preparing real footage for {view.path} (encoded once, then cached)...")

        try:
            clips = plaza_clips(footage, footage.parent.parent / "demo", count=count, on_view=show)
        except SimulatorError as err:
            log.warning(
                "cannot use the real footage %s (%s): every camera shows synthetic footage", footage, err
            )
            return {}
    log.info("real pedestrian footage from %s on %s", footage, ", ".join(sorted(clips)))
    return clips


@app.command()
def openapi() -> None:
    """Print the OpenAPI schema of the HTTP API (checked in as openapi.json)."""
    from watchkeeper.api.openapi import render_openapi

    sys.stdout.write(render_openapi())


def main() -> None:
    """Console-script entry point."""
    threading.current_thread().name = "main"
    app()
