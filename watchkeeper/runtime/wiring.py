"""The only place that picks concrete backends and connects the stages to them."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchkeeper.api.context import AppContext
from watchkeeper.api.live import LiveHub, StatusBoard
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import CameraStatusMessage, EventMessage, SegmentMessage
from watchkeeper.bus.nats import NatsBus
from watchkeeper.bus.protocol import Bus
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.storage import BusConfig, NatsBusConfig
from watchkeeper.domain import CameraId, CameraStatus, Segment, WatchkeeperError
from watchkeeper.events.motion import EventChange
from watchkeeper.recorder.segmenter import recover_partials
from watchkeeper.runtime.camera_worker import CameraWorker, WorkerCallbacks, WorkerSettings
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

    def publish(self, message: CameraStatusMessage | EventMessage | SegmentMessage) -> None:
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


@dataclass(slots=True)
class Runtime:
    """Everything one ``watchkeeper serve`` process runs."""

    config: WatchkeeperConfig
    store: Store
    bus: Bus
    context: AppContext
    workers: list[CameraWorker]

    def start_workers(self, loop: asyncio.AbstractEventLoop) -> None:
        """Create and start a worker per enabled camera."""
        bridge = ThreadBridge(loop, self.bus)
        callbacks = worker_callbacks(self.store, bridge)
        media_root = self.context.media_root
        for camera in self.config.cameras:
            if not camera.enabled:
                continue
            settings = WorkerSettings(camera, self.config.recording, self.config.detection, media_root)
            worker = CameraWorker(settings, callbacks)
            self.workers.append(worker)
            worker.start()

    def stop_workers(self) -> None:
        """Stop every worker (blocking; run it in a thread from async code)."""
        for worker in self.workers:
            worker.stop()
        self.workers.clear()


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
    quarantined = recover_partials(media_root)
    if quarantined:
        log.warning("moved %d partial segment(s) to quarantine", len(quarantined))
    store = await asyncio.to_thread(open_store, config.storage.database_url.get_secret_value())
    try:
        sync_inventory(store, config)
        bus = build_bus(config.storage.bus)
        await bus.start()
    except BaseException:
        store.close()
        raise
    context = AppContext(
        store=store,
        bus=bus,
        media_root=media_root,
        statuses=StatusBoard(CameraId(camera.id) for camera in config.cameras),
        hub=LiveHub(),
        static_dir=static_dir if static_dir is not None else default_static_dir(),
        version=VERSION,
    )
    return Runtime(config=config, store=store, bus=bus, context=context, workers=[])


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


def env_flag(name: str) -> bool:
    """True when environment variable ``name`` is set to something other than empty/0/false."""
    return os.environ.get(name, "").lower() not in ("", "0", "false", "no")


Finalizer = Callable[[], None]
