"""The camera side of a worker process: follow lease changes, repeat camera statuses for API nodes.

A lease acquired starts the camera under its fencing token; a lease lost stops it at once, except in a drain
handover, where the old owner keeps recording until the new owner reports the camera streaming (at most one
segment, 2 to 10 s), and then one segment more for the new owner's first keyframe, so the recording has no gap
longer than one segment; the two record the camera at once for up to two segments, both fenced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from watchkeeper.bus.messages import CameraStatusMessage
from watchkeeper.bus.protocol import Bus, Subscription
from watchkeeper.cluster.model import LeaseAcquired, LeaseChange, LeaseLost, LossReason
from watchkeeper.cluster.protocol import CameraLeases
from watchkeeper.domain import CameraId, CameraState, WatchkeeperError, utcnow
from watchkeeper.runtime.camera_worker import CameraWorker
from watchkeeper.runtime.fleet import CameraFleet
from watchkeeper.runtime.media_recovery import WorkerRecovery

log = logging.getLogger(__name__)

STATUS_SUBJECT = "wk.cameras.*.status"


def handover_margin_s(segment_seconds: float) -> float:
    """How long the old owner records on after the new owner reports streaming: one segment, 1 to 10 s.

    The new owner's first segment starts at its first keyframe, which on a loaded host can come seconds after
    it reports streaming; a segment's time covers that (a shorter margin left holes of 2.5 s in tests).
    """
    return min(max(segment_seconds, 1.0), 10.0)


def handover_overlap_s(segment_seconds: float) -> float:
    """Longest time the old owner records on after a drain handover: one segment, 2 to 10 s.

    The new owner's first index write comes a segment after it starts recording, so the old owner's last
    segment (closed within this time) is still admitted by the fence: no hole in the index.
    """
    return min(max(segment_seconds, 2.0), 10.0)


class _NewOwner:
    """Waits for a ``streaming`` status newer than the old owner's own: the new owner's (same clock)."""

    def __init__(self, own_since: datetime) -> None:
        self.own_since = own_since
        self.event = asyncio.Event()

    def check(self, since: datetime | None) -> None:
        if since is not None and since > self.own_since:
            self.event.set()


class LeaseFollower:
    """Starts and stops cameras of a :class:`CameraFleet` as ``CameraLeases.changes()`` says."""

    def __init__(
        self,
        leases: CameraLeases,
        fleet: CameraFleet,
        bus: Bus,
        segment_seconds: float,
        recovery: WorkerRecovery | None = None,
    ) -> None:
        """Follow ``leases`` into ``fleet``; watch ``bus`` for new owners' statuses during handovers.

        With ``recovery``, a camera's leftover files are noted before it starts and recovered once quiet.
        """
        self._leases = leases
        self._recovery = recovery
        self._fleet = fleet
        self._bus = bus
        self._overlap_s = handover_overlap_s(segment_seconds)
        self._margin_s = handover_margin_s(segment_seconds)
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._watch: asyncio.Task[None] | None = None
        self._streaming: dict[CameraId, _NewOwner] = {}
        self._latest: dict[CameraId, datetime] = {}
        """Newest ``since`` of a ``streaming`` status seen per camera (from any worker)."""
        self._stopping: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Watch statuses and start following (on the running loop)."""
        self._subscription = await self._bus.subscribe(STATUS_SUBJECT)
        self._watch = asyncio.create_task(self._watch_statuses(self._subscription), name="handover-watch")
        self._task = asyncio.create_task(self._run(), name="lease-follower")

    async def wait(self, timeout_s: float = 30.0) -> None:
        """Wait until ``changes()`` ended (after ``leases.stop()``) and every released camera stopped."""
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout_s)
            except TimeoutError:
                log.warning("lease changes did not end within %.0f s", timeout_s)
                self._task.cancel()
        if self._stopping:
            await asyncio.wait(set(self._stopping), timeout=timeout_s)
        if self._subscription is not None:
            await self._subscription.close()  # ends the watch's iteration
        if self._watch is not None:
            try:
                await asyncio.wait_for(self._watch, timeout_s)
            except TimeoutError:
                log.warning("the handover watch did not end within %.0f s", timeout_s)
            except WatchkeeperError as err:
                log.warning("the handover watch ended with an error: %s", err)

    async def _run(self) -> None:
        try:
            async for change in self._leases.changes():
                try:
                    await self._apply(change)
                except Exception:
                    # A camera that cannot start (a bug, a bad input) must not stop the worker following the
                    # other leases: log it with its traceback and carry on.
                    log.exception("lease change %s failed", change)
        except WatchkeeperError as err:
            log.error("camera leases stopped: %s; stopping every camera", err)  # noqa: TRY400
            await asyncio.to_thread(self._fleet.stop_all, announce=False)

    async def _apply(self, change: LeaseChange) -> None:
        camera_id = change.camera.camera_id
        if isinstance(change, LeaseAcquired):
            previous = f" from {change.previous_owner}" if change.previous_owner else ""
            log.info("camera %s leased%s (fencing token %s)", camera_id, previous, change.token)
            if self._recovery is not None:
                token = change.token
                await self._recovery.before_start(
                    camera_id, lambda: self._fleet.held().get(camera_id) == token
                )
            await asyncio.to_thread(self._fleet.start_camera, camera_id, change.token)
            return
        log.info(
            "camera %s lease lost (%s%s)",
            camera_id,
            change.reason.value,
            f", now with {change.new_owner}" if change.new_owner else "",
        )
        if change.reason is LossReason.HANDED_OVER:
            self._track(self._hand_over(change))
            return
        worker = self._fleet.release(camera_id, announce=False, token=change.token)
        if worker is not None:
            self._track(asyncio.to_thread(CameraFleet.join, worker))

    async def _hand_over(self, change: LeaseLost) -> None:
        camera_id = change.camera.camera_id
        own = self._fleet.silence(camera_id, change.token)
        mine = own.since if own is not None else utcnow()
        seen = self._streaming.setdefault(camera_id, _NewOwner(mine))
        seen.check(self._latest.get(camera_id))  # the new owner may have reported before the lease said so
        try:
            await asyncio.wait_for(seen.event.wait(), self._overlap_s)
            await asyncio.sleep(self._margin_s)
        except TimeoutError:
            log.info(
                "camera %s: new owner not streaming after %.1f s; stopping anyway", camera_id, self._overlap_s
            )
        finally:
            self._streaming.pop(camera_id, None)
        worker: CameraWorker | None = self._fleet.release(camera_id, announce=False, token=change.token)
        if worker is not None:
            await asyncio.to_thread(CameraFleet.join, worker)

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _watch_statuses(self, subscription: Subscription) -> None:
        try:
            async for message in subscription:
                if not isinstance(message, CameraStatusMessage):
                    continue
                status = message.to_domain()
                if status.state is not CameraState.STREAMING:
                    continue
                latest = self._latest.get(status.camera_id)
                if latest is None or status.since > latest:
                    self._latest[status.camera_id] = status.since
                waiting = self._streaming.get(status.camera_id)
                if waiting is not None:
                    waiting.check(status.since)
        finally:
            await subscription.close()


class StatusRepeater:
    """Publishes the latest status of every running camera every ``every_s`` seconds.

    A camera worker reports a status only when it changes; an API node that starts (or restarts) later would
    otherwise show a steadily recording camera as ``connecting`` until its next change. Repeats carry the
    original ``since``, so they change nothing for a board that already knows them.
    """

    def __init__(self, fleet: CameraFleet, bus: Bus, every_s: float) -> None:
        """Repeat ``fleet``'s statuses on ``bus``."""
        self._fleet = fleet
        self._bus = bus
        self._every_s = every_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start repeating (on the running loop)."""
        self._task = asyncio.create_task(self._run(), name="status-repeater")

    async def stop(self) -> None:
        """Stop repeating."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            for status in self._fleet.statuses():
                try:
                    await self._bus.publish(CameraStatusMessage.from_domain(status))
                except WatchkeeperError as err:
                    log.warning("repeating the status of camera %s failed: %s", status.camera_id, err)
