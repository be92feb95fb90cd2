"""The only place that picks concrete backends and connects the stages to them."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import sys
import tempfile
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from watchkeeper.analyzers.detect import build_detector
from watchkeeper.analyzers.scheduler import DetectorService, SchedulerSettings
from watchkeeper.analyzers.zones import FrameSize
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import IncidentBroadcaster, LiveHub, StatusBoard
from watchkeeper.auth.service import AuthService
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import BusMessage, CameraStatusMessage, EventMessage, SegmentMessage
from watchkeeper.bus.nats import NatsBus
from watchkeeper.bus.protocol import Bus
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.storage import BusConfig, NatsBusConfig
from watchkeeper.config.tiers import TiersConfig
from watchkeeper.domain import CameraId, CameraStatus, Segment, WatchkeeperError, utcnow
from watchkeeper.events.motion import EventChange
from watchkeeper.events.rules import RuleEngine
from watchkeeper.incidents.crypto import CallerVault, load_or_create_key
from watchkeeper.incidents.equipment import DiskUsageProbe
from watchkeeper.incidents.feed import IncidentFeed
from watchkeeper.incidents.service import IncidentDeps, IncidentService
from watchkeeper.incidents.sources import AlarmSources
from watchkeeper.incidents.taxonomy import Taxonomy
from watchkeeper.integrations.mqtt import MqttBridge
from watchkeeper.integrations.prometheus import PrometheusExporter
from watchkeeper.integrations.webhooks import WebhookDispatcher
from watchkeeper.media.protocol import ObjectStore, ObjectStoreError, SegmentFiles
from watchkeeper.media.s3 import S3ObjectStore, S3Settings
from watchkeeper.privacy import PersonBlur
from watchkeeper.privacy.faces import FaceDetector, FaceModelError
from watchkeeper.privacy.live import LiveOriginals
from watchkeeper.privacy.live_feed import LiveFeed
from watchkeeper.privacy.rendition import PrivacyServices
from watchkeeper.recorder.recovery import recover_media
from watchkeeper.recorder.retention import RetentionLoop, RetentionManager, RetentionPolicy
from watchkeeper.recorder.tiering import TieringLoop, TieringManager, TieringPolicy
from watchkeeper.runtime.camera_worker import CameraWorker, WorkerCallbacks, WorkerSettings
from watchkeeper.runtime.custody import (
    AnchorLoop,
    BreakGlassNotice,
    anchor_loop,
    build_custody,
    sealed_opener,
    segment_finisher,
)
from watchkeeper.runtime.metrics import RuntimeMetrics
from watchkeeper.runtime.objects import AnalysisServices
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

VERSION = "0.1.0"


class MediaRootError(WatchkeeperError):
    """The media folder cannot be created or written."""

    code = "media_root_unwritable"


def build_bus(config: BusConfig) -> Bus:
    """The bus backend chosen by ``storage.bus.type``."""
    if isinstance(config, NatsBusConfig):
        return NatsBus(
            url=config.url.get_secret_value(), stream=config.stream, subject_prefix=config.subject_prefix
        )
    return LocalBus()


class AnalysisSetupError(WatchkeeperError):
    """A camera's zones and rules do not fit the detector (for example a class the model does not have)."""

    code = "analysis_setup"


def build_analysis_services(config: WatchkeeperConfig) -> AnalysisServices:
    """Load the shared detector (when object detection is on and a camera is enabled) and the redactor.

    Raises:
        DetectorError: The model is missing (with the advice to run ``make models``), not ONNX, or unlike
            its configured format.
        AnalysisSetupError: A camera's rule names a class the detector does not have.
    """
    detection = config.detection
    names = detection.detector.class_names
    redactor = PersonBlur([names.index("person")] if "person" in names else [])
    cameras = [camera for camera in config.cameras if camera.enabled]
    privacy = build_privacy_services(config)
    live = LiveFeed()
    if not detection.objects.enabled or not cameras:
        return AnalysisServices(None, redactor, privacy=privacy, live=live)
    for camera in cameras:
        try:
            RuleEngine.for_camera(camera, FrameSize(640, 360), names)
        except ValueError as err:
            raise AnalysisSetupError(f"camera {camera.id}: {err}") from err
    detector = build_detector(detection.detector)
    service = DetectorService(detector, SchedulerSettings(queue_depth=detection.objects.queue_depth))
    return AnalysisServices(service, redactor, privacy=privacy, live=live)


def build_privacy_services(config: WatchkeeperConfig) -> PrivacyServices:
    """The protected rendition's shared parts; without the face model faces are not blurred (a warning)."""
    names = config.detection.detector.class_names
    faces = None
    if config.privacy.faces.enabled and any(camera.enabled for camera in config.cameras):
        try:
            faces = FaceDetector(config.privacy.faces.model, config.privacy.faces.threshold)
        except FaceModelError as err:
            log.warning("faces outside person boxes are NOT blurred: %s", err)
    return PrivacyServices(
        config=config.privacy,
        segment_seconds=float(config.recording.segment_seconds),
        person_classes=(names.index("person"),) if "person" in names else (),
        faces=faces,
        live=LiveOriginals(),
    )


def check_media_root(media_root: Path) -> None:
    """Create the media folder and prove it is writable.

    Raises:
        MediaRootError: with a one-line reason.
    """
    try:
        media_root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=media_root, prefix=".write-test-"):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise MediaRootError(f"media folder {media_root} is not writable: {reason.lower()}") from err


def sync_inventory(store: Store, config: WatchkeeperConfig) -> None:
    """Write the configured sites and cameras into the database."""
    for site in config.sites:
        store.sites.upsert(site.to_domain())
    for camera in config.cameras:
        store.cameras.upsert(camera.to_domain())


class ThreadBridge:
    """Lets camera-worker threads publish on the asyncio bus without blocking their packet loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, bus: Bus) -> None:
        """Bridge to ``bus`` running on ``loop``."""
        self._loop = loop
        self._bus = bus

    def publish(self, message: BusMessage) -> None:
        """Schedule a publish; failures are logged, never raised into the worker."""
        self.submit(self._bus.publish(message))

    def submit(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` on the loop from any thread."""
        if self._loop.is_closed():
            coroutine.close()
            return
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        future.add_done_callback(_log_failure)


def _log_failure(future: Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("bus publish failed: %s", future.exception())


def worker_callbacks(store: Store, bridge: ThreadBridge) -> WorkerCallbacks:
    """Connect a worker's outputs to the index, the event table and the bus."""

    def on_status(status: CameraStatus) -> None:
        bridge.publish(CameraStatusMessage.from_domain(status))

    def on_segment(segment: Segment) -> None:
        try:
            indexed = store.segments.add(segment)
        except WatchkeeperError as err:
            log.error("indexing %s failed: %s", segment.path, err)  # noqa: TRY400
            return
        bridge.publish(SegmentMessage.from_domain(indexed))

    def on_event(change: EventChange) -> None:
        try:
            store.events.upsert(change.event)
        except WatchkeeperError as err:
            log.error("storing event %s failed: %s", change.event.id, err)  # noqa: TRY400
        bridge.publish(EventMessage.from_domain(change.event, change.change.value))

    return WorkerCallbacks(on_status=on_status, on_segment=on_segment, on_event=on_event)


class Integration(Protocol):
    """Something that runs on the bus's event loop beside the API (broadcast, MQTT, webhooks)."""

    async def start(self) -> None:
        """Subscribe and start its tasks."""
        ...

    async def stop(self) -> None:
        """Stop its tasks."""
        ...


def api_node_name(config: WatchkeeperConfig) -> str:
    """A name for this API server fit for a durable consumer: host name and port."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:60] or "host"
    return f"{host}-{config.server.port}"


def build_integrations(config: WatchkeeperConfig, store: Store, bus: Bus, hub: LiveHub) -> list[Integration]:
    """The incident broadcaster (WebSocket + journal), and MQTT and webhooks when configured.

    Every one reads the bus through durable consumers, so a restart resumes where it stopped.
    """
    section = config.integrations
    found: list[Integration] = [
        IncidentBroadcaster(
            bus, store.incident_journal, hub, f"api-live-{api_node_name(config)}", section.journal_keep_s
        )
    ]
    if section.mqtt.enabled:
        sites = [site.to_domain() for site in config.sites]
        cameras = [camera.to_domain() for camera in config.cameras if camera.enabled]
        found.append(MqttBridge(bus, section.mqtt, store.incidents, sites, cameras))
    if section.webhooks:
        found.append(WebhookDispatcher(bus, store.webhook_deliveries, section))
    return found


def _stop_on(loop: asyncio.AbstractEventLoop, integration: Integration, timeout_s: float = 10.0) -> None:
    """Stop ``integration`` from another thread than the loop's (blocking up to ``timeout_s``)."""
    if loop.is_closed():
        return
    future = asyncio.run_coroutine_threadsafe(integration.stop(), loop)
    try:
        future.result(timeout=timeout_s)
    except TimeoutError:
        log.warning("%s did not stop within %.0f s", type(integration).__name__, timeout_s)


@dataclass(slots=True)
class Runtime:
    """Everything one ``watchkeeper serve`` process runs."""

    config: WatchkeeperConfig
    store: Store
    bus: Bus
    context: AppContext
    workers: list[CameraWorker]
    retention: RetentionManager | None = None
    retention_loop: RetentionLoop | None = None
    tiering: TieringManager | None = None
    tiering_loop: TieringLoop | None = None
    analysis: AnalysisServices | None = None
    incident_feed: IncidentFeed | None = None
    integrations: list[Integration] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    anchor_loop: AnchorLoop | None = None

    def start_workers(self, loop: asyncio.AbstractEventLoop) -> None:
        """Create and start a worker per enabled camera."""
        bridge = ThreadBridge(loop, self.bus)
        self.loop = loop
        for integration in self.integrations or ():
            bridge.submit(integration.start())
        if self.incident_feed is not None:
            bridge.submit(self.incident_feed.start())
        callbacks = worker_callbacks(self.store, bridge)
        if self.retention is not None:
            callbacks = replace(callbacks, on_disk_full=self.retention.free_space)
            self.retention_loop = RetentionLoop(self.retention, self.config.recording.retention_interval_s)
            self.retention_loop.start()
        if self.tiering is not None:
            self.tiering_loop = TieringLoop(self.tiering, self.config.tiers.interval_s)
            self.tiering_loop.start()
        if self.analysis is not None and self.analysis.detector is not None:
            self.analysis.detector.start()
        media_root = self.context.media_root
        sealer = segment_finisher(self.context.custody, self.config)
        if self.anchor_loop is not None:
            self.anchor_loop.start()
        for camera in self.config.cameras:
            if not camera.enabled:
                continue
            settings = WorkerSettings(
                camera, self.config.recording, self.config.detection, media_root, analysis=self.analysis
            )
            if sealer is not None:
                settings = replace(settings, finisher=sealer.finisher(CameraId(camera.id)))
            worker = CameraWorker(settings, callbacks)
            self.workers.append(worker)
            worker.start()

    def stop_workers(self) -> None:
        """Stop every worker (blocking; run it in a thread from async code)."""
        if self.tiering_loop is not None:
            self.tiering_loop.stop()
            self.tiering_loop = None
        if self.retention_loop is not None:
            self.retention_loop.stop()
            self.retention_loop = None
        for worker in self.workers:
            worker.request_stop()  # all cameras wind down in parallel
        for worker in self.workers:
            worker.stop()
        self.workers.clear()
        if self.incident_feed is not None:
            self.incident_feed.stop_threadsafe()
        if self.loop is not None:
            for integration in self.integrations or ():
                _stop_on(self.loop, integration)
        if self.analysis is not None and self.analysis.detector is not None:
            self.analysis.detector.stop()
        if self.anchor_loop is not None:
            self.anchor_loop.stop()

    # --- settings edits (console) -------------------------------------------------------------------
    def apply_config_change(self, config: WatchkeeperConfig, camera_id: str | None) -> None:
        """Apply a configuration edit live (``AppContext.on_config_change``; blocking, run from a thread).

        Retention takes the new days on its next pass; the edited camera's worker stops, and starts again
        under the new settings when the camera exists and is enabled.
        """
        self.config = config
        if self.retention is not None:
            self.retention.policy = RetentionPolicy.from_config(config.recording, config.cameras)
        if camera_id is None:
            return
        for worker in [worker for worker in self.workers if worker.camera_id == camera_id]:
            worker.stop()
            self.workers.remove(worker)
        camera = config.camera(camera_id)
        if camera is None or not camera.enabled or self.loop is None:
            return
        callbacks = worker_callbacks(self.store, ThreadBridge(self.loop, self.bus))
        if self.retention is not None:
            callbacks = replace(callbacks, on_disk_full=self.retention.free_space)
        settings = WorkerSettings(
            camera, config.recording, config.detection, self.context.media_root, analysis=self.analysis
        )
        sealer = segment_finisher(self.context.custody, config)
        if sealer is not None:
            settings = replace(settings, finisher=sealer.finisher(CameraId(camera.id)))
        worker = CameraWorker(settings, callbacks)
        self.workers.append(worker)
        worker.start()


def build_incidents(
    config: WatchkeeperConfig, store: Store, bus: Bus, loop: asyncio.AbstractEventLoop
) -> IncidentService:
    """The incident service: taxonomy from config, caller key file, changes published on ``bus``.

    Raises:
        WatchkeeperError: For an inconsistent taxonomy or an unusable caller key file.
    """
    section = config.incidents
    key_file = section.caller_key_file or config.storage.media_root.parent / "keys" / "incidents.key"
    bridge = ThreadBridge(loop, bus)
    deps = IncidentDeps(
        incidents=store.incidents,
        cameras=store.cameras,
        publish=bridge.publish,
        clock=utcnow,
        vault=CallerVault(load_or_create_key(key_file)),
    )
    return IncidentService(deps, Taxonomy.from_config(section), section)


def default_static_dir() -> Path:
    """Where ``make web`` puts the built console."""
    return Path(__file__).resolve().parent.parent / "api" / "static"


async def build_runtime(config: WatchkeeperConfig, static_dir: Path | None = None) -> Runtime:
    """Open the store and the bus, check the media folder, register the inventory.

    Raises:
        WatchkeeperError: one-line reasons (database down, bus down, unwritable media folder).
    """
    media_root = config.storage.media_root
    check_media_root(media_root)
    analysis = build_analysis_services(config)
    store = await asyncio.to_thread(open_store, config.storage.database_url.get_secret_value())
    try:
        await asyncio.to_thread(recover_media, store, media_root, sealed_opener(config, store))
        sync_inventory(store, config)
        await asyncio.to_thread(create_first_admin, store, config)
        bus = build_bus(config.storage.bus)
        await bus.start()
    except BaseException:
        store.close()
        raise
    try:
        incidents = build_incidents(config, store, bus, asyncio.get_running_loop())
        notice, live = BreakGlassNotice(bus), analysis.privacy.live if analysis.privacy else None
        warm = await asyncio.to_thread(build_warm_store, config.tiers)
        files = SegmentFiles(media_root, warm)
        custody = await asyncio.to_thread(build_custody, config, store, notice, live, files)
    except BaseException:
        await bus.close()
        store.close()
        raise
    policy = RetentionPolicy.from_config(config.recording, config.cameras)
    retention = RetentionManager(store, media_root, policy)
    retention.warm = warm
    tiering = None
    if warm is not None and config.tiers.enabled:
        tiering = TieringManager(store, media_root, warm, TieringPolicy.from_config(config.tiers))
    workers: list[CameraWorker] = []
    metrics = RuntimeMetrics(
        media_root,
        lambda: [worker.counters for worker in list(workers)],
        retention.stats.snapshot,
        tiering.stats.snapshot if tiering is not None else lambda: None,
    )
    hub = LiveHub()
    context = AppContext(
        store=store,
        bus=bus,
        media_root=media_root,
        statuses=StatusBoard(CameraId(camera.id) for camera in config.cameras),
        hub=hub,
        static_dir=static_dir if static_dir is not None else default_static_dir(),
        version=VERSION,
        metrics=PrometheusExporter(metrics.snapshot).render,
        auth_config=config.auth,
        incidents=incidents,
        custody=custody,
        segment_files=files,
        live_feed=analysis.live,
    )
    return Runtime(
        config=config,
        store=store,
        bus=bus,
        context=context,
        workers=workers,
        retention=retention,
        tiering=tiering,
        analysis=analysis,
        incident_feed=IncidentFeed(
            bus, incidents, AlarmSources(incidents, config.incidents, DiskUsageProbe(media_root))
        ),
        integrations=build_integrations(config, store, bus, hub),
        anchor_loop=anchor_loop(config, custody),
    )


def build_warm_store(tiers: TiersConfig) -> ObjectStore | None:
    """The warm tier's bucket (``None`` without ``tiers.warm``); creates the bucket when it is missing.

    An unreachable S3 server is logged, not fatal: recording goes on and the tiering loop retries.
    """
    warm = tiers.warm
    if warm is None:
        return None
    bucket = S3ObjectStore(
        S3Settings(
            bucket=warm.bucket,
            access_key_id=warm.access_key_id.get_secret_value(),
            secret_access_key=warm.secret_access_key.get_secret_value(),
            endpoint_url=warm.endpoint_url,
            region=warm.region,
            addressing_style=warm.addressing_style,
            timeout_s=warm.timeout_s,
        )
    )
    try:
        bucket.ensure_bucket()
    except ObjectStoreError as err:
        log.error("warm tier: %s (segments stay on the local disk until it answers)", err)  # noqa: TRY400
    return bucket


def open_config_store(config: WatchkeeperConfig) -> Store:
    """Open (and migrate) the database of ``config`` for a command-line tool."""
    return open_store(config.storage.database_url.get_secret_value())


def create_first_admin(store: Store, config: WatchkeeperConfig) -> None:
    """On first run (no users at all) create ``admin`` and write its generated password once to stderr."""
    password = AuthService(store.auth, config.auth).ensure_first_admin()
    if password is None:
        return
    log.warning("no users existed: created user 'admin' (its password is shown once on stderr)")
    sys.stderr.write(
        "\n  First run: created user 'admin' with password\n\n"
        f"      {password}\n\n"
        "  Log in and change it (or: watchkeeper users reset-password). It is not shown again.\n\n"
    )
    sys.stderr.flush()


def schema_only_context() -> AppContext:
    """A context over an empty throw-away database, used to render the OpenAPI schema."""
    folder = Path(tempfile.mkdtemp(prefix="watchkeeper-schema-"))
    store = open_store(f"sqlite:///{folder / 'schema.db'}")
    return AppContext(
        store=store,
        bus=LocalBus(),
        media_root=folder,
        statuses=StatusBoard(()),
        hub=LiveHub(),
        static_dir=None,
        version=VERSION,
    )
