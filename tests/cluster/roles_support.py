"""Several ``watchkeeper serve --role ...`` processes over one PostgreSQL database and one NATS stream.

Each test gets its own database, JetStream stream, subject prefix and lease bucket, so tests never see each
other's messages or leases; the media folder is shared by every node of a test (as on one host or NFS).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.js.errors
import yaml

from tests.conftest import TEST_ADMIN_PASSWORD, LiveServer, create_user, free_port, write_test_config
from tests.storage.pg import fresh_pg_database
from tests.support.services import require_service
from watchkeeper.bus.nats import NatsBus
from watchkeeper.domain import CameraId, Segment
from watchkeeper.storage.factory import open_store

REPO = Path(__file__).resolve().parents[2]
NATS_URL = "nats://127.0.0.1:4222"
LEASE_TIMEOUT_S = 3.0
"""Short for tests, but not so short that a starved process (a loaded CI machine) loses its leases."""


@dataclass
class Cluster:
    """The shared parts of one test's nodes and the nodes started so far."""

    folder: Path
    database_url: str
    tag: str
    cameras: dict[str, str]
    segment_seconds: float = 2.0
    incidents: bool = False
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def config(self, name: str, port: int, nats_url: str = NATS_URL, **cluster: object) -> Path:
        """Write node ``name``'s configuration (its own folder and port, everything else shared)."""
        path = write_test_config(
            self.folder / name, self.cameras, http_port=port, segment_seconds=self.segment_seconds
        )
        document = yaml.safe_load(path.read_text())
        document["storage"] = {
            "database_url": self.database_url,
            "media_root": str(self.folder / "media"),
            "bus": {
                "type": "nats",
                "url": nats_url,
                "stream": f"WKTEST_{self.tag}",
                "subject_prefix": f"wk{self.tag}",
            },
        }
        document["cluster"] = {
            "leases": "nats",
            "bucket": f"wktest_{self.tag}",
            "heartbeat_s": 0.5,
            "lease_timeout_s": LEASE_TIMEOUT_S,
            **cluster,
        }
        if self.incidents:
            # Every walker crossing (each 6 s footage loop) becomes its own incident.
            document["incidents"] = {
                "analytics": [{"type": "INTRUSION_AFTER_HOURS", "kind": "motion"}],
                "correlation_window_s": 1,
            }
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def start(self, config: Path, port: int, role: str) -> subprocess.Popen[bytes]:
        """Run ``watchkeeper serve --role role`` and wait until its ``/api/health`` answers."""
        process = start_role(config, port, role)
        self.processes.append(process)
        return process

    def start_api(self, name: str, port: int | None = None) -> LiveServer:
        """Start an API node and log the admin in."""
        port = port or free_port()
        server = start_role_server(self.config(name, port), port, "api")
        self.processes.append(server.process)
        return server

    def start_nodes(
        self, workers: dict[str, dict[str, object]], apis: dict[str, int]
    ) -> tuple[list[Worker], list[LiveServer]]:
        """Start workers (id -> ``cluster`` keys) and API nodes (name -> port) at once; wait for them all."""
        worker_configs = {worker_id: (free_port(), keys) for worker_id, keys in workers.items()}
        started: list[Worker] = []
        for worker_id, (port, keys) in worker_configs.items():
            config = self.config(worker_id, port, NATS_URL, worker_id=worker_id, **keys)
            started.append(Worker(worker_id, port, config, launch_role(config, port, "worker")))
        api_configs = {name: self.config(name, port) for name, port in apis.items()}
        if api_configs:
            create_user(next(iter(api_configs.values())), "admin", TEST_ADMIN_PASSWORD, "admin")
        api_processes = {name: launch_role(api_configs[name], port, "api") for name, port in apis.items()}
        self.processes += [worker.process for worker in started] + list(api_processes.values())
        for worker in started:
            wait_healthy(worker.process, worker.config, worker.port)
        servers = []
        for name, port in apis.items():
            wait_healthy(api_processes[name], api_configs[name], port)
            servers.append(log_in(api_configs[name], port, api_processes[name]))
        return started, servers

    def start_worker(self, worker_id: str, nats_url: str = NATS_URL, **cluster: object) -> Worker:
        """Start a worker node named ``worker_id`` (reaching NATS at ``nats_url``)."""
        port = free_port()
        config = self.config(worker_id, port, nats_url, worker_id=worker_id, **cluster)
        return Worker(worker_id, port, config, self.start(config, port, "worker"))

    def segments(self, camera_id: str) -> list[Segment]:
        """The indexed original segments of ``camera_id``, oldest first."""
        store = open_store(self.database_url)
        try:
            return list(store.segments.list(CameraId(camera_id), limit=10_000))
        finally:
            store.close()

    def stop_all(self) -> None:
        """SIGTERM every node still running (SIGKILL after 30 s)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def launch_role(
    config: Path, port: int, role: str, *, host: str | None = None, wrapper: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """Start ``watchkeeper serve --role role --port port`` (without waiting for it).

    ``host`` overrides the listen address; ``wrapper`` runs the command under another one (``ip netns exec
    NAME``, which execs it: the process is the node's own).
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    command = [
        *wrapper,
        sys.executable,
        "-m",
        "watchkeeper",
        "serve",
        "--config",
        str(config),
        "--role",
        role,
    ]
    command += ["--port", str(port)]
    if host is not None:
        command += ["--host", host]
    with config.with_suffix(".log").open("ab") as log_file:
        return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=REPO)


def wait_healthy(
    process: subprocess.Popen[bytes], config: Path, port: int, timeout_s: float = 90, host: str = "127.0.0.1"
) -> None:
    """Wait until the node's ``/api/health`` answers; fail with its log when it exits or never answers."""
    log_path = config.with_suffix(".log")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"node exited with {process.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{host}:{port}/api/health", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"node did not answer within {timeout_s:g} s:\n{log_path.read_text()}")


def start_role(config: Path, port: int, role: str) -> subprocess.Popen[bytes]:
    """Run ``watchkeeper serve --role role --port port`` and wait until its ``/api/health`` answers."""
    process = launch_role(config, port, role)
    wait_healthy(process, config, port)
    return process


def log_in(config: Path, port: int, process: subprocess.Popen[bytes]) -> LiveServer:
    """Log the test admin in to the API node on ``port``."""
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/auth/login",
        json={"username": "admin", "password": TEST_ADMIN_PASSWORD},
        timeout=10,
    )
    response.raise_for_status()
    return LiveServer(
        f"http://127.0.0.1:{port}",
        config,
        process,
        config.with_suffix(".log"),
        admin_password=TEST_ADMIN_PASSWORD,
        session_cookie=response.cookies["wk_session"],
        csrf_token=response.json()["csrf_token"],
    )


def start_role_server(config: Path, port: int, role: str) -> LiveServer:
    """Start an ``api`` (or ``all``) node over ``config`` with the test admin, and log the admin in."""
    create_user(config, "admin", TEST_ADMIN_PASSWORD, "admin")
    return log_in(config, port, start_role(config, port, role))


@dataclass
class Worker:
    """A running worker node."""

    worker_id: str
    port: int
    config: Path
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"
    """Where its HTTP port listens (a network namespace's address for a partitioned worker)."""

    def cameras(self) -> list[str]:
        """The cameras the worker records now (its ``/api/health``); empty when it does not answer."""
        try:
            response = httpx.get(f"http://{self.host}:{self.port}/api/health", timeout=2)
        except httpx.HTTPError:
            return []
        return list(response.json()["cameras"]) if response.status_code == 200 else []

    def kill(self) -> None:
        """SIGKILL: no lease released, no segment closed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def log_text(self) -> str:
        """The node's log so far."""
        return self.config.with_suffix(".log").read_text(errors="replace")


@contextlib.contextmanager
def cluster_rig(folder: Path, cameras: dict[str, str], **options: Any) -> Iterator[Cluster]:
    """A fresh database, stream and lease bucket for one test; afterwards nodes stop and both are deleted."""
    require_service("NATS", "127.0.0.1", 4222)
    tag = uuid.uuid4().hex[:10]
    with fresh_pg_database() as url:
        rig = Cluster(folder, url, tag, cameras, **options)
        try:
            yield rig
        finally:
            rig.stop_all()
            asyncio.run(_delete_stream(rig))


async def _delete_stream(rig: Cluster) -> None:
    bus = NatsBus(NATS_URL, stream=f"WKTEST_{rig.tag}", subject_prefix=f"wk{rig.tag}")
    await bus.start()
    try:
        await bus.delete_stream()
    finally:
        await bus.close()
    client = await nats.connect(NATS_URL)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await client.jetstream().delete_key_value(f"wktest_{rig.tag}")
    finally:
        await client.close()


def recording_gaps(segments: list[Segment], after: datetime) -> list[float]:
    """Seconds between the end of what was recorded so far and each later segment's start (overlaps: 0)."""
    gaps: list[float] = []
    covered: datetime | None = None
    for segment in sorted(segments, key=lambda item: item.start):
        if segment.end < after:
            covered = segment.end if covered is None else max(covered, segment.end)
            continue
        if covered is not None:
            gaps.append(max(0.0, (segment.start - covered).total_seconds()))
        covered = segment.end if covered is None else max(covered, segment.end)
    return gaps


class NatsLink:
    """A TCP hop to NATS (or any TCP service) that the test can cut: bytes dropped, as on a link that is down.

    Connections stay open while cut, so the node notices only through its own timeouts, as it would on a
    real partition (no reset, no refusal).
    """

    def __init__(
        self, target_port: int = 4222, *, listen_host: str = "127.0.0.1", target_host: str = "127.0.0.1"
    ) -> None:
        """Forward ``listen_host:<free port>`` to ``target_host:target_port`` once entered."""
        self._target_port = target_port
        self._target_host = target_host
        self.host = listen_host
        self._cut = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-link", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The NATS URL a node behind this link uses."""
        return f"nats://{self.host}:{self.port}"

    def __enter__(self) -> NatsLink:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, self.host, 0), self._loop
        ).result(10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def cut(self) -> None:
        """Drop every byte from now on, both ways."""
        self._cut.set()

    def restore(self) -> None:
        """Forward again (connections that timed out meanwhile are re-made by the node)."""
        self._cut.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self._target_host, self._target_port
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pump(reader, upstream_writer), self._pump(upstream_reader, writer), return_exceptions=True
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self._cut.is_set():
                    writer.write(data)
                    await writer.drain()
        finally:
            writer.close()
