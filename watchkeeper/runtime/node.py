"""One ``watchkeeper serve`` process: the API side, the camera side, or both, over one store and one bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from watchkeeper.api.context import AppContext
from watchkeeper.bus.protocol import Bus
from watchkeeper.cluster.model import UNFENCED, CameraSpec, WorkerInfo
from watchkeeper.cluster.protocol import CameraLeases
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import CameraId, WatchkeeperError
from watchkeeper.incidents.feed import IncidentFeed
from watchkeeper.recorder.scope import FootageScope
from watchkeeper.runtime.config_follow import ConfigFollower, announcement
from watchkeeper.runtime.custody import AnchorLoop
from watchkeeper.runtime.fleet import CameraFleet
from watchkeeper.runtime.holder_watch import HolderWatch, camera_domains
from watchkeeper.runtime.media_recovery import WorkerRecovery
from watchkeeper.runtime.roles import NodeIdentity, Role
from watchkeeper.runtime.site_media import SiteDirectory
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
        holder_watches: The watches (among ``integrations``) of cameras no worker holds.
        site_directory: The workers other sites' hot footage is read from (among ``integrations``), if any.
    """

    context: AppContext
    incident_feed: IncidentFeed
    integrations: list[Integration] = field(default_factory=list)
    anchor_loop: AnchorLoop | None = None
    holder_watches: list[HolderWatch] = field(default_factory=list)
    site_directory: SiteDirectory | None = None


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
        specs_of: The cameras to lease of an edited configuration (``cluster.factory.camera_specs``).
    """

    fleet: CameraFleet
    cameras: list[CameraSpec]
    info: WorkerInfo | None = None
    leases: CameraLeases | None = None
    metrics: Callable[[], bytes] | None = None
    status_every_s: float = 5.0
    recovery: WorkerRecovery | None = None
    specs_of: Callable[[WatchkeeperConfig], list[CameraSpec]] | None = None


@dataclass(slots=True)
class Runtime:
    """Everything one ``watchkeeper serve`` process runs; build it with ``runtime.wiring.build_runtime``."""

    config: WatchkeeperConfig
    identity: NodeIdentity
    store: Store
    bus: Bus
    api: ApiSide | None = None
    cameras: CameraSide | None = None
    config_path: Path | None = None
    """The configuration file: edits announced by other nodes are re-read from it (None: not followed)."""
    apply_timeout_s: float = 120.0
    """How long an edit on this node's console waits for it to be applied (cameras restart meanwhile)."""
    gate: StoreGate | None = None
    """A worker started without its store: opens it in the background (None: the store was open at start)."""
    _follower: LeaseFollower | None = None
    _repeater: StatusRepeater | None = None
    _config_follower: ConfigFollower | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _apply_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def role(self) -> Role:
        """The role this process runs."""
        return self.identity.role

    async def start(self) -> None:
        """Start the integrations, the incident feed and the cameras (or their leases) on this loop.

        Raises:
            ClusterUnavailableError: The lease server cannot be reached (nothing of the camera side runs).
        """
        self._loop = asyncio.get_running_loop()
        if self.config_path is not None:
            self._config_follower = ConfigFollower(
                self.bus, self.identity.node_id, self.config_path, self.apply_config
            )
            await self._config_follower.start()
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
        """Apply a configuration edit from this node's console live, then announce it to the other nodes.

        ``AppContext.on_config_change``: called from a request thread, it blocks until the edit is applied.

        Raises:
            WatchkeeperError: Applying failed (the file is written; it applies at the next start).
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            raise WatchkeeperError("the node is not running: the change applies when it starts")
        if _running_loop() is loop:
            # Waiting here would block the loop that applies it: the route must call from a worker thread.
            raise WatchkeeperError("internal: a configuration edit was applied from the event loop")
        future = asyncio.run_coroutine_threadsafe(self._apply_and_announce(config, camera_id), loop)
        try:
            future.result(self.apply_timeout_s)
        except TimeoutError as err:
            raise WatchkeeperError(f"not applied within {self.apply_timeout_s:.0f} s") from err

    async def apply_config(self, config: WatchkeeperConfig, camera_id: str | None) -> None:
        """Apply ``config`` (an edit of ``camera_id``, or of no camera) to everything this node runs.

        The camera side restarts the edited camera under its new settings (when it runs here) and leases
        the enabled cameras of ``config``; the API side shows added cameras and watches their holders. The
        editing node and every node following its announcement run this same code.

        Raises:
            WatchkeeperError: A part could not take it (the lease server is away).
        """
        async with self._apply_lock:
            self.config = config
            side = self.cameras
            if side is not None:
                edited = CameraId(camera_id) if camera_id is not None else None
                await asyncio.to_thread(side.fleet.reconfigure, config, edited)
                if side.specs_of is not None:
                    side.cameras = side.specs_of(config)
                if side.leases is not None and side.info is not None:
                    await side.leases.set_cameras(side.cameras)
                if side.recovery is not None:  # as the fleet re-scoped retention and tiering
                    side.recovery.scope = FootageScope.of(config.cluster, config.cameras)
            if self.api is not None:
                enabled = [CameraId(camera.id) for camera in config.cameras if camera.enabled]
                added = self.api.context.statuses.track(CameraId(camera.id) for camera in config.cameras)
                for watch in self.api.holder_watches:
                    watch.set_cameras(enabled, camera_domains(config))
                if self.api.site_directory is not None:
                    self.api.site_directory.set_cameras(config)
                if added:
                    log.info("camera(s) %s added to the configuration", ", ".join(added))

    async def _apply_and_announce(self, config: WatchkeeperConfig, camera_id: str | None) -> None:
        await self.apply_config(config, camera_id)
        if self.config_path is None:
            return
        try:
            message = await asyncio.to_thread(
                announcement, self.identity.node_id, self.config_path, "configuration edited", camera_id
            )
        except OSError as err:
            log.warning("configuration change not announced to the other nodes: %s", err)
            return
        if self._config_follower is not None:
            self._config_follower.applied_sha256 = message.sha256
        try:
            await self.bus.publish(message)
        except WatchkeeperError as err:
            log.warning("configuration change not announced to the other nodes: %s", err)

    async def stop(self) -> None:
        """Stop the cameras (closing and indexing open segments), hand leases back, stop the API side."""
        if self._config_follower is not None:
            await self._config_follower.stop()
        if self.gate is not None:
            await asyncio.to_thread(self.gate.stop)
        if self.cameras is not None:
            await self._stop_cameras(self.cameras)
        if self.api is not None:
            await self.api.incident_feed.stop()
            for integration in self.api.integrations:
                await _stop_quietly(integration)
            if self.api.anchor_loop is not None:
                await asyncio.to_thread(self.api.anchor_loop.stop)

    async def _stop_cameras(self, side: CameraSide) -> None:
        """Stop the status repeats, hand the leases back, recover nothing more, close the cameras."""
        if self._repeater is not None:
            await self._repeater.stop()
        if side.leases is not None:
            await side.leases.stop()
        if self._follower is not None:
            await self._follower.wait()
        if side.recovery is not None:
            await side.recovery.stop()
        await asyncio.to_thread(side.fleet.close)

    async def close(self) -> None:
        """Close the bus and the store (after :meth:`stop`)."""
        await self.bus.close()
        self.store.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _stop_quietly(integration: Integration, timeout_s: float = 10.0) -> None:
    try:
        await asyncio.wait_for(integration.stop(), timeout_s)
    except TimeoutError:
        log.warning("%s did not stop within %.0f s", type(integration).__name__, timeout_s)
