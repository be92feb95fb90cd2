"""``watchkeeper serve``: API + console + camera workers in one process."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import uvicorn

from watchkeeper.api.app import create_app
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import WatchkeeperError
from watchkeeper.runtime.wiring import build_runtime

log = logging.getLogger(__name__)


class PortInUseError(WatchkeeperError):
    """The HTTP port cannot be bound."""

    code = "port_in_use"


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the listening socket up front so a busy port is a clear error, not a log line.

    Raises:
        PortInUseError: the address is taken or not available.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise PortInUseError(f"cannot listen on {host}:{port}: {(err.strerror or str(err)).lower()}") from err
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def serve(config: WatchkeeperConfig, sock: socket.socket, static_dir: Path | None = None) -> None:
    """Run until cancelled or interrupted (Ctrl-C / SIGTERM)."""
    runtime = await build_runtime(config, static_dir=static_dir)
    app = create_app(runtime.context)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws="auto"))
    runtime.start_workers(asyncio.get_running_loop())
    host, port = sock.getsockname()[:2]
    log.info("console and API at http://%s:%s/", host, port)
    try:
        await server.serve(sockets=[sock])
    finally:
        await asyncio.to_thread(runtime.stop_workers)
        await runtime.bus.close()
        runtime.store.close()
        log.info("stopped")
