"""The only place that picks concrete backends and connects the stages to them."""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

from watchkeeper.analyzers.detect import build_detector
from watchkeeper.analyzers.detect.registry import BUILTIN_FACE_MODEL, model_dir
from watchkeeper.analyzers.scheduler import DetectorService, SchedulerSettings
from watchkeeper.analyzers.zones import FrameSize
from watchkeeper.api.context import AppContext
from watchkeeper.api.live import IncidentBroadcaster, LiveHub, StatusBoard
from watchkeeper.auth.service import AuthService
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import BusMessage, CameraStatusMessage, EventMessage, SegmentMessage
from watchkeeper.bus.nats import NatsBus, NatsTuning
from watchkeeper.bus.protocol import Bus
from watchkeeper.bus.sites import SiteLayout, SiteSource
from watchkeeper.cluster.factory import (
    advertised_http_url,
    camera_specs,
    open_control,
    open_leases,
    worker_info,
)
from watchkeeper.cluster.model import CameraSpec, WorkerId
from watchkeeper.cluster.protocol import ClusterControl
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.storage import BusConfig, NatsBusConfig
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
from watchkeeper.integrations.prometheus import NodeLabels, PrometheusExporter
from watchkeeper.integrations.webhooks import WebhookDispatcher
from watchkeeper.media.protocol import ObjectStore, SegmentFiles
from watchkeeper.privacy import PersonBlur
from watchkeeper.privacy.crypto import SegmentSealer
from watchkeeper.privacy.faces import FaceDetector, FaceModelError
from watchkeeper.privacy.keys import KeyOutbox, SegmentKeys
from watchkeeper.privacy.live import LiveOriginals
from watchkeeper.privacy.live_feed import LiveFeed
from watchkeeper.privacy.rendition import PrivacyServices
from watchkeeper.privacy.rendition_thread import RenditionThreadSettings
from watchkeeper.privacy.services import CustodyServices
from watchkeeper.recorder.quarantine import FencedSegmentQuarantine
from watchkeeper.recorder.recovery import recover_media
from watchkeeper.recorder.retention import RetentionManager, RetentionPolicy
from watchkeeper.recorder.scope import FootageScope
from watchkeeper.recorder.tiering import TieringManager, TieringPolicy
from watchkeeper.runtime.camera_worker import WorkerCallbacks
from watchkeeper.runtime.custody import (
    BreakGlassNotice,
    anchor_loop,
    build_custody,
    config_loaded,
    deferred_sealed_opener,
    sealed_opener,
    worker_keys,
)
from watchkeeper.runtime.fleet import CameraFleet, FleetParts
from watchkeeper.runtime.media_recovery import WorkerRecovery
from watchkeeper.runtime.metrics import RuntimeMetrics, no_retention
from watchkeeper.runtime.node import ApiSide, CameraSide, Integration, Runtime
from watchkeeper.runtime.objects import AnalysisServices
from watchkeeper.runtime.outbox import OutboxHooks, StoreOutbox
from watchkeeper.runtime.roles import NodeIdentity, Role, check_role
from watchkeeper.runtime.store_gate import StoreGate
from watchkeeper.runtime.wiring_cluster import build_warm_store, holder_watch, open_outbox, site_directory
from watchkeeper.storage.factory import PendingStore, open_store
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

VERSION = "0.1.0"


class MediaRootError(WatchkeeperError):
    """The media folder cannot be created or written."""

    code = "media_root_unwritable"


def build_bus(config: BusConfig) -> Bus:
    """The bus backend chosen by ``storage.bus.type``."""
    if isinstance(config, NatsBusConfig):
        sources = tuple(
            SiteSource(domain=item.domain, stream=item.stream or config.stream, site=item.site_token)
            for item in config.sources
        )
        return NatsBus(
            url=config.url.get_secret_value(),
            stream=config.stream,
            subject_prefix=config.subject_prefix,
            tuning=NatsTuning(
                max_age_s=config.max_age_days * 86_400.0,
                max_msgs=config.max_messages,
                max_bytes=config.max_bytes,
                duplicate_window_s=config.duplicate_window_s,
            ),
            layout=SiteLayout(site=config.site, sources=sources),
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
            model = config.privacy.faces.model or model_dir() / BUILTIN_FACE_MODEL
            faces = FaceDetector(model, config.privacy.faces.threshold)
        except FaceModelError as err:
            log.warning("faces outside person boxes are NOT blurred: %s", err)
    return PrivacyServices(
        config=config.privacy,
        segment_seconds=float(config.recording.segment_seconds),
        person_classes=(names.index("person"),) if "person" in names else (),
        faces=faces,
        live=LiveOriginals(),
        thread=RenditionThreadSettings(nice=config.privacy.rendition.nice),
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


def build_integrations(
    config: WatchkeeperConfig, store: Store, bus: Bus, hub: LiveHub, node_id: str
) -> list[Integration]:
    """The incident broadcaster (WebSocket + journal), and MQTT and webhooks when configured.

    Every one reads the bus through durable consumers, so a restart resumes where it stopped; the
    broadcaster's consumer is this API node's own (``node_id``: host and port), MQTT's and the webhooks' are
    shared by every API node.
    """
    section = config.integrations
    found: list[Integration] = [
        IncidentBroadcaster(bus, store.incident_journal, hub, f"api-live-{node_id}", section.journal_keep_s)
    ]
    if section.mqtt.enabled:
        sites = [site.to_domain() for site in config.sites]
        cameras = [camera.to_domain() for camera in config.cameras if camera.enabled]
        found.append(MqttBridge(bus, section.mqtt, store.incidents, sites, cameras))
    if section.webhooks:
        found.append(WebhookDispatcher(bus, store.webhook_deliveries, section))
    return found


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


async def build_runtime(
    config: WatchkeeperConfig, role: Role = Role.ALL, port: int | None = None, static_dir: Path | None = None
) -> Runtime:
    """Open the store and the bus, check the media folder, and build the parts ``role`` runs.

    A worker starts without its store when that does not answer (see ``runtime.store_gate``); the other
    roles need it at start.

    Raises:
        WatchkeeperError: one-line reasons (split role on the local bus, database down for an API node, bus
            down, unwritable media folder).
    """
    check_role(config, role)
    identity = NodeIdentity.of(config, role, port or config.server.port)
    media_root = config.storage.media_root
    check_media_root(media_root)
    analysis = build_analysis_services(config) if role.runs_cameras else None
    store, gate = await _open_store(config, role)
    try:
        if role is Role.ALL and config.cluster.leases == "local":
            # One process owns the whole folder. Leased workers share it: they recover per camera
            # (runtime.media_recovery), never files another worker may be writing.
            await asyncio.to_thread(recover_media, store, media_root, sealed_opener(config, store))
        if gate is None:
            sync_inventory(store, config)
        if role.serves_api:
            await asyncio.to_thread(create_first_admin, store, config)
        bus = build_bus(config.storage.bus)
        await bus.start()
    except BaseException:
        store.close()
        raise
    runtime = Runtime(config, identity, store, bus, gate=gate)
    try:
        await _build_sides(runtime, analysis, static_dir, port or config.server.port)
    except BaseException:
        await bus.close()
        store.close()
        raise
    return runtime


async def _open_store(config: WatchkeeperConfig, role: Role) -> tuple[Store, StoreGate | None]:
    """The store, opened now; for a worker whose store does not answer, also the gate that opens it later."""
    url = config.storage.database_url.get_secret_value()
    if role is not Role.WORKER:
        return await asyncio.to_thread(open_store, url), None
    pending = PendingStore(url)
    gate = StoreGate(pending.open, pending.safe_url)
    if await asyncio.to_thread(gate.try_now):
        return pending.store, None
    store = pending.store
    gate.after_ready("inventory sync", lambda: sync_inventory(store, config))
    return store, gate


async def _build_sides(
    runtime: Runtime, analysis: AnalysisServices | None, static_dir: Path | None, port: int
) -> None:
    config, role, store = runtime.config, runtime.role, runtime.store
    warm = await asyncio.to_thread(build_warm_store, config.tiers)
    files = SegmentFiles(config.storage.media_root, warm)
    if role is Role.WORKER:  # no API: only the data keys of the custody services
        store_open = runtime.gate is None
        keys = await asyncio.to_thread(worker_keys, config, store, store_open=store_open)
        await asyncio.to_thread(
            runtime.after_store, "configuration audit", lambda: config_loaded(config, store)
        )
        runtime.cameras = _camera_side(config, runtime, analysis, keys, warm, port)
        return
    live = analysis.privacy.live if analysis is not None and analysis.privacy is not None else None
    notice = BreakGlassNotice(runtime.bus)
    custody = await asyncio.to_thread(build_custody, config, store, notice, live, files)
    if role.runs_cameras:
        runtime.cameras = _camera_side(config, runtime, analysis, custody.keys, warm, port)
    if role.serves_api:
        feed = analysis.live if analysis is not None else None
        runtime.api = _api_side(config, runtime, custody, static_dir, files, feed)


def _camera_side(
    config: WatchkeeperConfig,
    runtime: Runtime,
    analysis: AnalysisServices | None,
    keys: SegmentKeys | None,
    warm: ObjectStore | None,
    port: int,
) -> CameraSide:
    """The camera workers; ``keys`` seal finished originals when ``custody.encrypt_originals`` is on."""
    sealing = keys is not None and config.custody.encrypt_originals
    sealer = SegmentSealer(keys.for_writing) if keys is not None and sealing else None
    media_root = config.storage.media_root
    policy = RetentionPolicy.from_config(config.recording, config.cameras)
    retention = RetentionManager(runtime.store, media_root, policy)
    retention.warm = warm
    retention.scope = FootageScope.of(config.cluster, config.cameras)
    tiering = None
    if warm is not None and config.tiers.enabled:
        tiering = TieringManager(runtime.store, media_root, warm, TieringPolicy.from_config(config.tiers))
        tiering.scope = retention.scope
    if not retention.scope.everything:
        log.info("retention and tiering act only on the footage of %s", retention.scope.describe())
    bridge = ThreadBridge(asyncio.get_running_loop(), runtime.bus)
    ready = runtime.gate.ready if runtime.gate is not None else None
    store = runtime.store
    hooks = OutboxHooks(
        quarantine=FencedSegmentQuarantine(media_root, store.retention, store.segments),
        store_ready=ready,
        data_keys=store.data_keys,
    )
    outbox = StoreOutbox(open_outbox(config), store.fences, bridge.publish, hooks=hooks)
    if keys is not None:  # a day's key the store cannot give is made here and queued before its segments
        keys.outbox = KeyOutbox(outbox.keep_data_key, lambda: not outbox.store_reachable)
    parts = FleetParts(
        config=config,
        store=runtime.store,
        publish=bridge.publish,
        outbox=outbox,
        analysis=analysis,
        retention=retention,
        sealer=sealer,
        tiering=tiering,
    )
    fleet = CameraFleet(parts)
    metrics = RuntimeMetrics(
        media_root, fleet.counters, fleet.retention_stats, fleet.tiering_stats, fleet.outbox_stats
    )
    render = PrometheusExporter(metrics.snapshot, node=node_labels(runtime.identity)).render
    if runtime.role is Role.ALL and config.cluster.leases == "local":  # one process: every camera, no lease
        specs = [CameraSpec(CameraId(camera.id)) for camera in config.cameras if camera.enabled]
        return CameraSide(fleet, specs, metrics=render)
    info = worker_info(config.cluster, version=VERSION, http_url=advertised_http_url(config, port))
    if runtime.role is Role.WORKER:  # the same id in logs, metrics and the leases
        info = replace(info, worker_id=WorkerId(runtime.identity.node_id))
    opener = deferred_sealed_opener(config, runtime.store, keys)
    recovery = WorkerRecovery(runtime.store, media_root, opener, config.cluster.recovery_quiet_s)
    recovery.store_ready = ready
    recovery.scope = retention.scope
    return CameraSide(
        fleet,
        camera_specs(config),
        info=info,
        leases=open_leases(config),
        metrics=render,
        recovery=recovery,
        specs_of=camera_specs,
    )


def node_labels(identity: NodeIdentity) -> NodeLabels:
    """The node labels of this process's metrics."""
    return NodeLabels(identity.node_id, identity.role.value)


def _api_side(
    config: WatchkeeperConfig,
    runtime: Runtime,
    custody: CustodyServices,
    static_dir: Path | None,
    files: SegmentFiles,
    live_feed: LiveFeed | None,
) -> ApiSide:
    store, bus, media_root = runtime.store, runtime.bus, config.storage.media_root
    incidents = build_incidents(config, store, bus, asyncio.get_running_loop())
    side = runtime.cameras
    fleet = side.fleet if side is not None else None
    retention = fleet.retention_stats if fleet is not None else no_retention
    metrics = RuntimeMetrics(
        media_root,
        fleet.counters if fleet is not None else list,
        retention,
        fleet.tiering_stats if fleet is not None else lambda: None,
        fleet.outbox_stats if fleet is not None else lambda: None,
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
        metrics=PrometheusExporter(metrics.snapshot, node=node_labels(runtime.identity)).render,
        auth_config=config.auth,
        incidents=incidents,
        custody=custody,
        segment_files=files,
        live_feed=live_feed,
    )
    watches = holder_watch(config, bus, context.statuses)
    directories = site_directory(config, files)
    return ApiSide(
        context=context,
        incident_feed=IncidentFeed(
            bus,
            incidents,
            AlarmSources(incidents, config.incidents, DiskUsageProbe(media_root), context.statuses.get),
        ),
        integrations=[
            *build_integrations(config, store, bus, hub, runtime.identity.node_id),
            *watches,
            *directories,
        ],
        anchor_loop=anchor_loop(config, custody),
        holder_watches=watches,
        site_directory=directories[0] if directories else None,
    )


async def open_cluster_control(config: WatchkeeperConfig) -> ClusterControl:
    """The cluster's lease status and drain, for ``watchkeeper cluster status`` and ``worker drain``.

    Raises:
        ClusterError: ``cluster.leases`` is ``local`` (no cluster to look at).
        ClusterUnavailableError: NATS cannot be reached.
    """
    return await open_control(config)


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
