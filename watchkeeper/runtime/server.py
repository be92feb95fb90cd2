"""``watchkeeper serve``: API + console + camera workers in one process, or one of them (``--role``)."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from watchkeeper.api.app import create_app
from watchkeeper.config.editor import ConfigEditor
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.server import ServerConfig
from watchkeeper.domain import WatchkeeperError
from watchkeeper.runtime.logs import set_log_node
from watchkeeper.runtime.node import Runtime
from watchkeeper.runtime.roles import Role, RoleConfigError
from watchkeeper.runtime.wiring import VERSION, build_runtime
from watchkeeper.runtime.worker_http import WorkerMedia, create_worker_app

log = logging.getLogger(__name__)


class PortInUseError(WatchkeeperError):
    """The HTTP port cannot be bound."""

    code = "port_in_use"


class TlsSetupError(WatchkeeperError):
    """The configured certificate or key cannot be used."""

    code = "tls_setup"


def check_tls(server: ServerConfig) -> None:
    """Load the configured certificate and key once, so a bad pair is a clear error before anything starts.

    Raises:
        TlsSetupError: the certificate or key is missing, unreadable or does not match.
    """
    tls = server.tls
    if tls is None:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(tls.cert_file, tls.key_file)
    except ssl.SSLError as err:
        reason = f"not a matching PEM certificate and unencrypted key ({err.reason or err})"
        raise TlsSetupError(
            f"cannot use TLS certificate {tls.cert_file} / key {tls.key_file}: {reason}"
        ) from err
    except OSError as err:
        reason = (err.strerror or str(err)).lower()
        raise TlsSetupError(
            f"cannot use TLS certificate {tls.cert_file} / key {tls.key_file}: {reason}"
        ) from err


def uvicorn_config(app: FastAPI, server: ServerConfig) -> uvicorn.Config:
    """The uvicorn settings for ``server``: TLS when configured, proxy headers only from trusted proxies."""
    tls = server.tls
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="auto",
        # Console messages are small JSON; compressing each one for each console cost a fifth of the event
        # loop with 200 consoles connected (py-spy, benchmarks/alarm_latency.py).
        ws_per_message_deflate=False,
        proxy_headers=bool(server.trusted_proxies),
        forwarded_allow_ips=list(server.trusted_proxies) or None,
        ssl_certfile=tls.cert_file if tls is not None else None,
        ssl_keyfile=tls.key_file if tls is not None else None,
    )


class GracefulServer(uvicorn.Server):
    """A uvicorn server that lets Watchkeeper finish its own shutdown after a signal.

    Stock uvicorn re-raises SIGINT/SIGTERM once it has stopped serving, which kills the process before the
    camera workers close their open segments. This variant only asks the server to exit; ``serve`` then
    stops the workers (closing and indexing in-flight segments), closes the bus and the store, and returns.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Route SIGINT/SIGTERM to a graceful exit without re-raising them afterwards."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


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


async def serve(
    config: WatchkeeperConfig,
    sock: socket.socket,
    role: Role = Role.ALL,
    static_dir: Path | None = None,
    config_path: Path | None = None,
) -> None:
    """Run ``role`` until cancelled or interrupted (Ctrl-C / SIGTERM).

    ``all`` and ``api`` serve the API and console on ``sock``; ``worker`` serves its health and metrics.
    With ``config_path`` the console's settings pages edit that file and the runtime applies edits live.
    """
    check_tls(config.server)
    host, port = sock.getsockname()[:2]
    runtime = await build_runtime(config, role, port=port, static_dir=static_dir)
    set_log_node(runtime.identity.node_id, role.value)
    runtime.config_path = config_path  # edits announced by other nodes are re-read from it
    if config_path is not None and runtime.api is not None:
        runtime.api.context = replace(
            runtime.api.context,
            config_editor=ConfigEditor(config_path),
            on_config_change=runtime.apply_config_change,
        )
    try:
        app = _http_app(runtime)
        server = GracefulServer(uvicorn_config(app, config.server))
        await runtime.start()
        scheme = "https" if config.server.tls is not None else "http"
        what = "health and metrics" if runtime.api is None else "console and API"
        log.info(
            "%s node %s: %s at %s://%s:%s/", role.value, runtime.identity.node_id, what, scheme, host, port
        )
        await server.serve(sockets=[sock])
    finally:
        await runtime.stop()
        await runtime.close()
        log.info("stopped")


def _http_app(runtime: Runtime) -> FastAPI:
    if runtime.api is not None:
        return create_app(runtime.api.context, runtime.config.server)
    side = runtime.cameras
    if side is None or side.metrics is None:
        raise RoleConfigError(f"role {runtime.role.value} runs neither the API nor cameras")
    secret = runtime.config.cluster.media_secret
    media = WorkerMedia(
        runtime.config.storage.media_root, None if secret is None else secret.get_secret_value()
    )
    return create_worker_app(runtime.identity, side.fleet, side.metrics, VERSION, media)
