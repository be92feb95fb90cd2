"""What one ``watchkeeper serve`` process does: everything, camera work only, or the API only.

* ``all`` (the default): the single-box process of old: camera workers, API, console and integrations.
* ``worker``: records and analyses the cameras it holds leases for (``cluster:`` section); publishes their
  statuses, segments and events on the bus; writes the index with fencing tokens; serves only a small
  health and metrics port, no console.
* ``api``: the API, console, incident feed, integrations (MQTT, webhooks, WebSocket broadcast) and a camera
  status board fed from the bus; no camera worker.

Worker and API processes talk only through the bus and the database, so both must be shared: the bus must
be NATS JetStream. Several processes may share a SQLite file on one host; across hosts use PostgreSQL.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from enum import StrEnum

from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.storage import NatsBusConfig
from watchkeeper.domain import WatchkeeperError


class Role(StrEnum):
    """The part a ``watchkeeper serve`` process plays."""

    ALL = "all"
    WORKER = "worker"
    API = "api"

    @property
    def runs_cameras(self) -> bool:
        """Whether this process records and analyses cameras."""
        return self is not Role.API

    @property
    def serves_api(self) -> bool:
        """Whether this process serves the API, the console and the integrations."""
        return self is not Role.WORKER


class RoleConfigError(WatchkeeperError):
    """The configuration cannot run the requested role (for example a split role on the local bus)."""

    code = "role_config"


def check_role(config: WatchkeeperConfig, role: Role) -> None:
    """Refuse a split role that could not reach its peers.

    Raises:
        RoleConfigError: ``worker`` or ``api`` with ``storage.bus.type: local`` (or, for ``worker``, with
            ``cluster.leases: local``), naming the key to change.
    """
    if role is Role.ALL:
        return
    if not isinstance(config.storage.bus, NatsBusConfig):
        raise RoleConfigError(
            f"--role {role.value} needs a shared bus: set storage.bus.type to `nats` (NATS JetStream); "
            "the `local` bus reaches only this process (use --role all for a single process)"
        )
    if role is Role.WORKER and config.cluster.leases != "nats":
        raise RoleConfigError(
            "--role worker needs camera leases shared between workers: set cluster.leases to `nats` "
            "(the `local` leases give every camera to every worker)"
        )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:60] or "host"


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Who this process is in logs, metrics and ``cluster status``.

    Attributes:
        node_id: Worker id (``cluster.worker_id`` or ``<host>-<pid>``) or API node name (``<host>-<port>``).
        role: The role it runs.
    """

    node_id: str
    role: Role

    @classmethod
    def of(cls, config: WatchkeeperConfig, role: Role, port: int) -> NodeIdentity:
        """The identity of a process running ``role`` on ``port`` with ``config``."""
        host = _slug(socket.gethostname())
        if role is Role.WORKER:
            return cls(config.cluster.worker_id or f"{host}-{os.getpid()}", role)
        return cls(f"{host}-{port}", role)
