"""One ``watchkeeper serve`` process: the API side, the camera side, or both, over one store and one bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from watchkeeper.api.context import AppContext
from watchkeeper.bus.protocol import Bus
from watchkeeper.cluster.model import UNFENCED, CameraSpec, WorkerInfo
from watchkeeper.cluster.protocol import CameraLeases
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import CameraId
from watchkeeper.incidents.feed import IncidentFeed
from watchkeeper.runtime.custody import AnchorLoop
from watchkeeper.runtime.fleet import CameraFleet
from watchkeeper.runtime.media_recovery import WorkerRecovery
from watchkeeper.runtime.roles import NodeIdentity, Role
from watchkeeper.runtime.store_gate import StoreGate
from watchkeeper.runtime.worker_node import LeaseFollower, StatusRepeater
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)


class Integration(Protocol):
    """Something that runs on the bus's event loop beside the API (broadcast, MQTT, webhooks)."""

    async def start(self) -> None:
        """Subscribe and start its tasks."""
        ...

    async def stop(self) -> None:
        """Stop its tasks."""
        ...


@dataclass(slots=True)
class ApiSide:
    """What an ``api`` (or ``all``) process runs beside the HTTP server.

    Attributes:
        context: What the routes use (store, bus, status board, hub, incidents, custody...).
        incident_feed: Turns events and camera statuses from the bus into incidents (shared durable consumers,
            so several API nodes split the work).
        integrations: WebSocket broadcast, MQTT and webhooks (each with its own durable consumer).
        anchor_loop: Writes the audit chain head to the anchor file.
    """

    context: AppContext
    incident_feed: IncidentFeed
    integrations: list[Integration] = field(default_factory=list)
    anchor_loop: AnchorLoop | None = None


@dataclass(slots=True)
class CameraSide:
    """What a ``worker`` (or ``all``) process runs: the camera workers and, across hosts, their leases.

    Attributes:
        fleet: The camera workers.
        cameras: The cameras to lease (enabled ones, with their site pins).
        info: What this worker advertises (with leases).
        leases: Camera leases; None starts every camera at once (one process, no fencing).
        metrics: Renders this process's Prometheus metrics (the worker's ``/metrics``).
        status_every_s: How often the statuses of the running cameras are repeated on the bus.
        recovery: Crash recovery of the cameras this worker takes (with leases; the media folder is shared).
    """

    fleet: CameraFleet
    cameras: list[CameraSpec]
    info: WorkerInfo | None = None
    leases: CameraLeases | None = None
    metrics: Callable[[], bytes] | None = None
    status_every_s: float = 5.0
    recovery: WorkerRecovery | None = None


@dataclass(slots=True)
class Runtime:
    """Everything one ``watchkeeper serve`` process runs; build it with ``runtime.wiring.build_runtime``."""

    config: WatchkeeperConfig
    identity: NodeIdentity
    store: Store
    bus: Bus
    api: ApiSide | None = None
    cameras: CameraSide | None = None
    gate: StoreGate | None = None
    """A worker started without its store: opens it in the background (None: the store was open at start)."""
    _follower: LeaseFollower | None = None
    _repeater: StatusRepeater | None = None

    @property
    def role(self) -> Role:
        """The role this process runs."""
        return self.identity.role

    async def start(self) -> None:
        """Start the integrations, the incident feed and the cameras (or their leases) on this loop.

        Raises:
            ClusterUnavailableError: The lease server cannot be reached (nothing of the camera side runs).
        """
        if self.api is not None:
            for integration in self.api.integrations:
                await integration.start()
            await self.api.incident_feed.start()
            if self.api.anchor_loop is not None:
                self.api.anchor_loop.start()
        side = self.cameras
        if side is None:
            return
        await asyncio.to_thread(side.fleet.open)
        await asyncio.to_thread(self.after_store, "retention and tiering", side.fleet.start_upkeep)
        if side.leases is None or side.info is None:
            side.fleet.unleased = True
            for spec in side.cameras:
                await asyncio.to_thread(side.fleet.start_camera, spec.camera_id, UNFENCED)
            return
        if side.recovery is not None:
            side.recovery.check_index()
        if self.gate is not None:
            self.gate.start()
        await side.leases.start(side.info, side.cameras)
        self._follower = LeaseFollower(
            side.leases, side.fleet, self.bus, float(self.config.recording.segment_seconds), side.recovery
        )
        await self._follower.start()
        self._repeater = StatusRepeater(side.fleet, self.bus, side.status_every_s)
        self._repeater.start()
        log.info(
            "worker %s takes part in camera leasing (%s camera(s) known)",
            side.info.worker_id,
            len(side.cameras),
        )

    def after_store(self, name: str, job: Callable[[], object]) -> None:
        """Run ``job`` now, or (a worker started without its store) once the store answers (blocking)."""
        if self.gate is None:
            job()
            return
        self.gate.after_ready(name, job)

    def apply_config_change(self, config: WatchkeeperConfig, camera_id: str | None) -> None:
        """Apply a configuration edit from the console live (``AppContext.on_config_change``; blocking)."""
        self.config = config
        if self.cameras is not None:
            self.cameras.fleet.reconfigure(config, CameraId(camera_id) if camera_id is not None else None)

    async def stop(self) -> None:
        """Stop the cameras (closing and indexing open segments), hand leases back, stop the API side."""
        side = self.cameras
        if self.gate is not None:
            await asyncio.to_thread(self.gate.stop)
        if side is not None:
            if self._repeater is not None:
                await self._repeater.stop()
            if side.leases is not None:
                await side.leases.stop()
            if self._follower is not None:
                await self._follower.wait()
            if side.recovery is not None:
                await side.recovery.stop()
            await asyncio.to_thread(side.fleet.close)
        if self.api is not None:
            await self.api.incident_feed.stop()
            for integration in self.api.integrations:
                await _stop_quietly(integration)
            if self.api.anchor_loop is not None:
                await asyncio.to_thread(self.api.anchor_loop.stop)

    async def close(self) -> None:
        """Close the bus and the store (after :meth:`stop`)."""
        await self.bus.close()
        self.store.close()


async def _stop_quietly(integration: Integration, timeout_s: float = 10.0) -> None:
    try:
        await asyncio.wait_for(integration.stop(), timeout_s)
    except TimeoutError:
        log.warning("%s did not stop within %.0f s", type(integration).__name__, timeout_s)
