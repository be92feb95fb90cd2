"""The camera workers of one process, started and stopped one camera at a time as leases come and go.

Every index write of a camera carries the fencing token of the lease under which it was recorded; the store
refuses a token older than the newest it has seen for that camera, so a worker that lost a camera without
knowing it (a partition, a pause) cannot overwrite the index of the worker that has it now.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from watchkeeper.bus.messages import BusMessage, CameraStatusMessage
from watchkeeper.cluster.model import UNFENCED, FencingToken
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import CameraId, CameraStatus, Segment
from watchkeeper.domain.outbox import OutboxSnapshot
from watchkeeper.events.motion import EventChange
from watchkeeper.privacy.crypto import SegmentSealer
from watchkeeper.recorder.retention import RetentionLoop, RetentionManager, RetentionPolicy, RetentionSnapshot
from watchkeeper.recorder.scope import FootageScope
from watchkeeper.recorder.tiering import TieringLoop, TieringManager, TieringSnapshot
from watchkeeper.runtime.camera_worker import CameraWorker, WorkerCallbacks, WorkerSettings
from watchkeeper.runtime.metrics import CameraCounters
from watchkeeper.runtime.objects import AnalysisServices
from watchkeeper.runtime.outbox import StoreOutbox
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

Publish = Callable[[BusMessage], None]
"""Hands a message to the bus from a camera thread without waiting (``ThreadBridge.publish``)."""


@dataclass(frozen=True, slots=True)
class FleetParts:
    """What every camera worker of the process shares.

    Attributes:
        config: The configuration (cameras, recording, detection, media folder).
        store: The database (the index, events and fences).
        publish: Puts statuses, segments and events on the bus.
        outbox: Writes index rows and events to ``store`` in order through the local journal (they wait
            there while the store is away) and announces them on the bus.
        analysis: The shared detector and redactor.
        retention: Retention of the media folder (evicts on a full disk too); None runs none.
        sealer: Encrypts finished originals; None leaves them as written.
        tiering: Moves old segments to the warm tier (S3); None keeps everything on the local disk.
    """

    config: WatchkeeperConfig
    store: Store
    publish: Publish
    outbox: StoreOutbox
    analysis: AnalysisServices | None = None
    retention: RetentionManager | None = None
    sealer: SegmentSealer | None = None
    tiering: TieringManager | None = None


class _Held:
    """One running camera: its worker, its token, and whether its statuses still go out."""

    def __init__(self, token: FencingToken) -> None:
        self.token = token
        self.worker: CameraWorker | None = None
        self.announce = True
        self.status: CameraStatus | None = None


class CameraFleet:
    """Camera workers keyed by camera, each one started under a lease's fencing token (thread-safe)."""

    def __init__(self, parts: FleetParts) -> None:
        """Prepare; :meth:`open` starts the shared services, :meth:`start_camera` the cameras."""
        self._parts = parts
        self._lock = threading.Lock()
        self._held: dict[CameraId, _Held] = {}
        self._retention_loop: RetentionLoop | None = None
        self._tiering_loop: TieringLoop | None = None
        self._cameras = {CameraId(camera.id): camera for camera in parts.config.cameras if camera.enabled}
        self.unleased = False
        """True when this process runs every enabled camera itself (one box, no leases)."""

    def open(self) -> None:
        """Start the store outbox and the shared detector (:meth:`start_upkeep` starts the store's loops)."""
        parts = self._parts
        parts.outbox.start()
        if parts.analysis is not None and parts.analysis.detector is not None:
            parts.analysis.detector.start()

    def start_upkeep(self) -> None:
        """Start the retention loop and the tiering loop (they read and write the store)."""
        parts = self._parts
        if parts.retention is not None:
            self._retention_loop = RetentionLoop(parts.retention, parts.config.recording.retention_interval_s)
            self._retention_loop.start()
        if parts.tiering is not None:
            self._tiering_loop = TieringLoop(parts.tiering, parts.config.tiers.interval_s)
            self._tiering_loop.start()

    def close(self) -> None:
        """Stop every camera (each closes and indexes its open segment), the outbox, retention, detector."""
        self.stop_all(announce=True)
        self._parts.outbox.close()
        if self._tiering_loop is not None:
            self._tiering_loop.stop()
            self._tiering_loop = None
        if self._retention_loop is not None:
            self._retention_loop.stop()
            self._retention_loop = None
        analysis = self._parts.analysis
        if analysis is not None and analysis.detector is not None:
            analysis.detector.stop()

    def knows(self, camera_id: CameraId) -> bool:
        """Whether ``camera_id`` is an enabled camera of the configuration."""
        return camera_id in self._cameras

    def start_camera(self, camera_id: CameraId, token: FencingToken) -> bool:
        """Start recording and analysing ``camera_id`` under ``token``; False for an unknown camera.

        A camera already running here (a lease lost and taken back) is restarted under the new token.
        """
        camera = self._cameras.get(camera_id)
        if camera is None:
            log.warning("lease for camera %s, which is not enabled in this configuration: ignored", camera_id)
            return False
        self.stop_camera(camera_id, announce=False)
        held = _Held(token)
        parts = self._parts
        settings = WorkerSettings(
            camera, parts.config.recording, parts.config.detection, parts.config.storage.media_root
        )
        settings = replace(settings, analysis=parts.analysis)
        if parts.sealer is not None:
            settings = replace(settings, finisher=parts.sealer.finisher(camera_id))
        worker = CameraWorker(settings, self._callbacks(camera_id, held))
        held.worker = worker
        with self._lock:
            self._held[camera_id] = held
        worker.start()
        log.info("camera %s started (fencing token %s)", camera_id, token)
        return True

    def release(
        self, camera_id: CameraId, *, announce: bool, token: FencingToken | None = None
    ) -> CameraWorker | None:
        """Forget ``camera_id`` and ask its worker to stop without waiting; returns it to :meth:`join`.

        With ``announce`` False its last statuses (``offline: stopped``) stay off the bus: the camera lives
        on elsewhere and its new owner reports it. With ``token``, only a camera running under that token
        is released (a camera leased again since then keeps running).
        """
        with self._lock:
            held = self._held.get(camera_id)
            if held is None or (token is not None and held.token != token):
                return None
            del self._held[camera_id]
        if held.worker is None:
            return None
        held.announce = announce
        held.worker.request_stop()
        return held.worker

    def silence(self, camera_id: CameraId, token: FencingToken) -> CameraStatus | None:
        """Keep the statuses of ``camera_id`` (running under ``token``) off the bus from now on.

        Returns its last published status (None when it is not running under ``token``).
        """
        with self._lock:
            held = self._held.get(camera_id)
            if held is None or held.token != token:
                return None
            held.announce = False
            return held.status

    @staticmethod
    def join(worker: CameraWorker) -> None:
        """Wait for a released worker (it closes and indexes its open segment)."""
        worker.stop()
        log.info("camera %s stopped", worker.camera_id)

    def stop_camera(self, camera_id: CameraId, *, announce: bool) -> None:
        """Stop ``camera_id`` and wait for it (nothing happens when it does not run here)."""
        worker = self.release(camera_id, announce=announce)
        if worker is not None:
            self.join(worker)

    def stop_all(self, *, announce: bool) -> None:
        """Stop every camera in parallel and wait for all of them."""
        with self._lock:
            running = list(self._held)
        workers = [worker for camera in running if (worker := self.release(camera, announce=announce))]
        for worker in workers:
            self.join(worker)

    def held(self) -> dict[CameraId, FencingToken]:
        """Running cameras and their tokens."""
        with self._lock:
            return {camera: held.token for camera, held in self._held.items()}

    def statuses(self) -> list[CameraStatus]:
        """The latest status of every running camera (to repeat it for API nodes that started later)."""
        with self._lock:
            return [held.status for held in self._held.values() if held.status is not None and held.announce]

    def retention_stats(self) -> RetentionSnapshot | None:
        """Retention's counters since start-up (None without retention)."""
        retention = self._parts.retention
        return retention.stats.snapshot() if retention is not None else None

    def tiering_stats(self) -> TieringSnapshot | None:
        """Tiering's counters since start-up (None without a warm tier)."""
        tiering = self._parts.tiering
        return tiering.stats.snapshot() if tiering is not None else None

    def outbox_stats(self) -> OutboxSnapshot:
        """The store outbox's depth and counters (rows waiting for the shared store)."""
        return self._parts.outbox.snapshot()

    def reconfigure(self, config: WatchkeeperConfig, camera_id: CameraId | None) -> None:
        """Take an edited configuration (the console's settings) and apply it to ``camera_id`` at once.

        Retention takes the new days on its next pass. The edited camera, when it runs here, restarts under
        the new settings and the same fencing token (stops, when it was disabled); a camera that runs nowhere
        starts here only when this process runs every camera itself (``unleased``).
        """
        parts = replace(self._parts, config=config)
        self._parts = parts
        self._cameras = {CameraId(camera.id): camera for camera in config.cameras if camera.enabled}
        if parts.retention is not None:
            parts.retention.policy = RetentionPolicy.from_config(config.recording, config.cameras)
            parts.retention.scope = FootageScope.of(config.cluster, config.cameras)
        if parts.tiering is not None:
            parts.tiering.scope = FootageScope.of(config.cluster, config.cameras)
        if camera_id is None:
            return
        token = self.held().get(camera_id)
        if token is not None:
            self.stop_camera(camera_id, announce=True)
        elif not self.unleased:
            return
        if camera_id in self._cameras:
            self.start_camera(camera_id, token if token is not None else UNFENCED)

    def counters(self) -> list[CameraCounters]:
        """The counters of every running camera (for the metrics)."""
        with self._lock:
            return [held.worker.counters for held in self._held.values() if held.worker is not None]

    def _callbacks(self, camera_id: CameraId, held: _Held) -> WorkerCallbacks:
        outbox, publish, token = self._parts.outbox, self._parts.publish, held.token

        def on_status(status: CameraStatus) -> None:
            if not held.announce:
                log.debug("camera %s %s after release: not published", camera_id, status.state.value)
                return
            held.status = status
            publish(CameraStatusMessage.from_domain(status))

        def on_segment(segment: Segment) -> None:
            outbox.add_segment(segment, token)

        def on_event(change: EventChange) -> None:
            outbox.add_event(change.event, change.change.value, token)

        retention = self._parts.retention
        return WorkerCallbacks(
            on_status=on_status,
            on_segment=on_segment,
            on_event=on_event,
            on_disk_full=retention.free_space if retention is not None else None,
        )
