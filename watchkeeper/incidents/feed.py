"""The bus side of the alarm sources: consume events and camera statuses, tick escalation and counts."""

from __future__ import annotations

import asyncio
import logging

from watchkeeper.bus.messages import CameraStatusMessage, EventMessage, SegmentMessage
from watchkeeper.bus.protocol import Bus, Subscription
from watchkeeper.domain import Rendition, WatchkeeperError
from watchkeeper.domain.tasks import cancel_and_wait
from watchkeeper.incidents.service import IncidentService
from watchkeeper.incidents.sources import AlarmSources

log = logging.getLogger(__name__)

EVENT_SUBJECT = "wk.events.>"
STATUS_SUBJECT = "wk.cameras.*.status"
SEGMENT_SUBJECT = "wk.segments.*"
DURABLE_EVENTS = "incidents-events"
DURABLE_STATUS = "incidents-status"
DURABLE_SEGMENTS = "incidents-segments"


class IncidentFeed:
    """Runs the alarm sources on the bus's event loop; blocking work goes to threads."""

    def __init__(
        self, bus: Bus, service: IncidentService, sources: AlarmSources, tick_s: float = 1.0
    ) -> None:
        """Feed ``sources`` from ``bus`` and tick ``service`` every ``tick_s`` seconds."""
        self._bus = bus
        self._service = service
        self._sources = sources
        self._tick_s = tick_s
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Subscribe (durable: several servers share the work) and start ticking."""
        self._loop = asyncio.get_running_loop()
        events = await self._bus.subscribe(EVENT_SUBJECT, durable=DURABLE_EVENTS)
        statuses = await self._bus.subscribe(STATUS_SUBJECT, durable=DURABLE_STATUS)
        segments = await self._bus.subscribe(SEGMENT_SUBJECT, durable=DURABLE_SEGMENTS)
        self._tasks = [
            asyncio.create_task(self._consume(events), name="incident-events"),
            asyncio.create_task(self._consume(statuses), name="incident-status"),
            asyncio.create_task(self._consume(segments), name="incident-segments"),
            asyncio.create_task(self._tick(), name="incident-ticker"),
        ]

    async def stop(self) -> None:
        """Stop consuming and write pending alarm counts."""
        await cancel_and_wait(self._tasks)
        self._tasks = []
        await asyncio.to_thread(self._service.flush, force=True)

    def stop_threadsafe(self, timeout_s: float = 10.0) -> None:
        """Stop from another thread than the loop's (blocking up to ``timeout_s``)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self.stop(), loop)
        try:
            future.result(timeout=timeout_s)
        except TimeoutError:
            log.warning("incident feed did not stop within %.0f s", timeout_s)

    async def _consume(self, subscription: Subscription) -> None:
        try:
            async for message in subscription:
                try:
                    await asyncio.to_thread(self._handle, message)
                except Exception:
                    # One alarm the code cannot handle (a bug) must not stop every later alarm from
                    # becoming an incident: log it with its traceback and carry on with the next one.
                    log.exception("alarm from %s failed; continuing with the next", type(message).__name__)
        finally:
            await subscription.close()

    def _handle(self, message: object) -> None:
        try:
            if isinstance(message, EventMessage):
                self._sources.on_event(message.to_domain(), message.event_state)
            elif isinstance(message, CameraStatusMessage):
                self._sources.on_camera_status(message.to_domain())
            elif isinstance(message, SegmentMessage) and message.rendition is Rendition.ORIGINAL:
                # Gaps are about the recording: a protected copy that keeps coming does not hide one.
                self._sources.on_segment(message.camera_id, message.start, message.end)
        except WatchkeeperError as err:
            log.error("alarm from %s not handled: %s", type(message).__name__, err)  # noqa: TRY400

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            try:
                await asyncio.to_thread(self.tick)
            except WatchkeeperError as err:
                log.error("incident tick failed: %s", err)  # noqa: TRY400

    def tick(self) -> None:
        """One round of periodic work: equipment alarms, merged alarm counts, due escalations."""
        self._sources.check_cameras()
        self._sources.check_storage()
        self._service.flush()
        self._service.escalate_due()
