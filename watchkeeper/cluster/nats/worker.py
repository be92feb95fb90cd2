"""``NatsCameraLeases``: one worker's camera leases in the NATS key-value bucket.

Every scan (half a heartbeat) the worker reads the worker heartbeats; it reads every lease too when the set
of live workers changed, when it has work pending (a claim it lost, a drain, a move) and at least every
half lease timeout. On such a full scan it claims the free cameras the shared placement plan gives it
(rendezvous ranking with a quota, ``placement.plan``) and, after a grace period that grows with its place in
a camera's ranking, free cameras planned for others (``claims.decide``); it takes cameras a draining
worker hands to it, and notices cameras it lost. Every heartbeat it writes its own record and renews its
leases with compare-and-set. A watchdog on the local monotonic clock drops any camera whose lease was not
renewed for ``lease_timeout_s`` minus half a heartbeat, so the worker stops a camera before anyone else may
take it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from watchkeeper.cluster.errors import ClusterError, ClusterUnavailableError
from watchkeeper.cluster.model import (
    CameraSpec,
    ClusterStatus,
    FencingToken,
    LeaseAcquired,
    LeaseChange,
    LeaseLost,
    LossReason,
    WorkerId,
    WorkerInfo,
)
from watchkeeper.cluster.nats.bucket import BucketSettings, LeaseBucket, Revisions
from watchkeeper.cluster.nats.claims import ClaimRule, decide
from watchkeeper.cluster.nats.control import NatsClusterControl
from watchkeeper.cluster.nats.handover import Handover
from watchkeeper.cluster.nats.view import BucketView, Observations, Offer, ViewInput, build_view
from watchkeeper.cluster.placement import Candidate, plan
from watchkeeper.cluster.rebalance import RebalancePolicy, choose_move
from watchkeeper.cluster.records import (
    WORKER_PREFIX,
    LeaseRecord,
    WorkerRecord,
    drain_key,
    encode_lease,
    encode_worker,
    lease_key,
    next_token,
    now_us,
    worker_key,
)
from watchkeeper.domain import CameraId

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """Heartbeat and lease timeout (``cluster.heartbeat_s``, ``cluster.lease_timeout_s``)."""

    heartbeat_s: float = 2.0
    lease_timeout_s: float = 6.0
    forget_dead_after_s: float | None = None
    """Remove a dead worker's record after this long without a heartbeat (default: 10 lease timeouts)."""

    def __post_init__(self) -> None:
        """Reject a timeout shorter than two heartbeats."""
        if self.heartbeat_s <= 0 or self.lease_timeout_s < 2 * self.heartbeat_s:
            raise ValueError(
                f"lease_timeout_s ({self.lease_timeout_s}) must be at least twice heartbeat_s "
                f"({self.heartbeat_s}), which must be positive"
            )

    @property
    def scan_s(self) -> float:
        """How often the bucket is read."""
        return self.heartbeat_s / 2

    @property
    def forget_after_s(self) -> float:
        """How long a worker's record may stand still before any live worker deletes it."""
        return self.forget_dead_after_s if self.forget_dead_after_s is not None else 10 * self.lease_timeout_s

    @property
    def full_scan_s(self) -> float:
        """Longest time between two reads of every lease (between them only heartbeats are read)."""
        return max(self.scan_s, self.lease_timeout_s / 2)

    @property
    def own_expiry_s(self) -> float:
        """How long after its last renewal a worker gives a camera up (before any other may take it)."""
        return self.lease_timeout_s - self.heartbeat_s / 2


@dataclass(slots=True)
class _Held:
    camera: CameraSpec
    record: LeaseRecord
    revision: int
    renewed_at: float
    """Monotonic time the last successful renewal (or the acquisition) was sent, capped at the last
    successful heartbeat write (others may take the camera once that heartbeat is stale)."""


_END = object()


def _report_crash(task: asyncio.Task[None]) -> None:
    """Log a lease task that ended with an unexpected error (its cameras then expire by the watchdog)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("lease task %s crashed", task.get_name(), exc_info=task.exception())


class NatsCameraLeases:
    """The cameras this worker owns, leased through NATS JetStream key-value."""

    def __init__(
        self,
        settings: BucketSettings,
        timing: LeaseTiming | None = None,
        rebalance: RebalancePolicy | None = None,
    ) -> None:
        """Prepare; nothing connects before :meth:`start`. ``rebalance`` defaults to on (threshold 2)."""
        self._settings = settings
        self._timing = timing or LeaseTiming()
        self._rebalance = rebalance or RebalancePolicy()
        self._info: WorkerInfo | None = None
        self._bucket: LeaseBucket | None = None
        self._control: NatsClusterControl | None = None
        self._cameras: dict[CameraId, CameraSpec] = {}
        self._held: dict[CameraId, _Held] = {}
        self._seen = Observations()
        self._free_since: dict[CameraId, float] = {}
        self._handover = Handover()
        self._queue: asyncio.Queue[LeaseChange | object] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_heartbeat = 0.0
        self._full_at = 0.0
        self._force_full = True
        self._busy = False
        self._claim_due_at: float | None = None
        self._placing = False
        """Whether the last plan placed some free camera (then nothing is moved to rebalance)."""
        self._live_at_full: frozenset[WorkerId] = frozenset()
        # Monotonic time the last successful heartbeat write was sent. Others judge this worker alive from
        # it (a lease of a worker whose heartbeat is stale is free), so no hold counts as renewed after it.
        self._alive_since = 0.0
        self._started_us = 0
        self._outage_logged = False

    @property
    def worker_id(self) -> WorkerId:
        """Id of this worker."""
        return self._require_info().worker_id

    async def start(self, info: WorkerInfo, cameras: Sequence[CameraSpec]) -> None:
        """Connect, advertise ``info`` and start claiming ``cameras`` in the background.

        Raises:
            ClusterUnavailableError: when NATS cannot be reached (nothing is started).
            ClusterError: when already started.
        """
        if self._info is not None:
            raise ClusterError(f"camera leases of worker {self._info.worker_id!r} already started")
        bucket = await LeaseBucket.open(self._settings)
        self._info, self._bucket = info, bucket
        self._control = NatsClusterControl(bucket, self._timing.lease_timeout_s)
        self._cameras = {camera.camera_id: camera for camera in cameras}
        self._started_us = now_us()
        try:
            await self._heartbeat()
        except ClusterUnavailableError:
            await bucket.close()
            self._info = self._bucket = self._control = None
            raise
        self._tasks = [
            asyncio.create_task(self._run(), name=f"leases:{info.worker_id}"),
            asyncio.create_task(self._watchdog(), name=f"lease-watchdog:{info.worker_id}"),
        ]
        for task in self._tasks:
            task.add_done_callback(_report_crash)
        log.info(
            "worker %s leasing %d camera(s) from bucket %s (capacity %d)",
            info.worker_id,
            len(cameras),
            self._settings.bucket,
            info.capacity,
        )

    async def set_cameras(self, cameras: Sequence[CameraSpec]) -> None:
        """Replace the camera list; cameras no longer listed are released (reason ``removed``)."""
        async with self._lock:
            self._cameras = {camera.camera_id: camera for camera in cameras}
            self._force_full = True
            removed = [c for c in self._held if c not in self._cameras]
            await asyncio.gather(*(self._release(camera_id, LossReason.REMOVED) for camera_id in removed))

    async def changes(self) -> AsyncIterator[LeaseChange]:
        """Lease changes of this worker in order; ends after :meth:`stop`."""
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            if isinstance(item, LeaseAcquired | LeaseLost):
                yield item

    def held(self) -> Mapping[CameraId, FencingToken]:
        """Cameras held now with their fencing tokens."""
        return {camera_id: held.record.token for camera_id, held in self._held.items()}

    async def status(self) -> ClusterStatus:
        """Every worker and lease in the bucket now."""
        return await self._require_control().status()

    async def drain(self, worker_id: WorkerId) -> None:
        """Ask ``worker_id`` (this one or another) to hand its cameras over."""
        await self._require_control().drain(worker_id)

    async def undrain(self, worker_id: WorkerId) -> None:
        """Let ``worker_id`` take cameras again."""
        await self._require_control().undrain(worker_id)

    async def wait_drained(self, worker_id: WorkerId, timeout_s: float) -> ClusterStatus:
        """Wait until ``worker_id`` holds no camera."""
        return await self._require_control().wait_drained(worker_id, timeout_s)

    async def stop(self) -> None:
        """Release every lease, remove this worker's records, end :meth:`changes` (idempotent)."""
        if self._stopping.is_set() or self._bucket is None:
            return
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            releases = [self._release(camera_id, LossReason.STOPPED) for camera_id in sorted(self._held)]
            await asyncio.gather(*releases)
            info = self._require_info()
            for key in (worker_key(info.worker_id), drain_key(info.worker_id)):
                try:
                    await self._bucket.delete(key)
                except ClusterUnavailableError as err:
                    log.warning("worker %s could not remove %s on stop: %s", info.worker_id, key, err)
        await self._bucket.close()
        self._queue.put_nowait(_END)

    async def close(self) -> None:
        """Same as :meth:`stop`."""
        await self.stop()

    def _require_info(self) -> WorkerInfo:
        if self._info is None:
            raise ClusterError("camera leases are not started")
        return self._info

    def _require_control(self) -> NatsClusterControl:
        if self._control is None:
            raise ClusterError("camera leases are not started")
        return self._control

    def _require_bucket(self) -> LeaseBucket:
        if self._bucket is None:
            raise ClusterError("camera leases are not started")
        return self._bucket

    async def _run(self) -> None:
        while not self._stopping.is_set():
            begun = time.monotonic()
            try:
                async with self._lock:
                    await self._tick()
                if self._outage_logged:
                    log.info("worker %s reaches the lease bucket again", self.worker_id)
                    self._outage_logged = False
            except ClusterUnavailableError as err:
                if not self._outage_logged:
                    log.warning("worker %s cannot reach the lease bucket: %s", self.worker_id, err)
                    self._outage_logged = True
            except ClusterError as err:
                log.error("worker %s: lease scan failed: %s", self.worker_id, err)  # noqa: TRY400 (typed, no trace)
            pause = max(0.0, self._timing.scan_s - (time.monotonic() - begun))
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=pause)
            except TimeoutError:
                continue

    async def _watchdog(self) -> None:
        period = min(0.25, self._timing.heartbeat_s / 4)
        while not self._stopping.is_set():
            self._expire_own(time.monotonic())
            await asyncio.sleep(period)

    def _expire_own(self, now: float) -> None:
        for camera_id, held in list(self._held.items()):
            if now - held.renewed_at >= self._timing.own_expiry_s:
                del self._held[camera_id]
                log.warning(
                    "worker %s gives up camera %s: lease not renewed for %.1f s",
                    self.worker_id,
                    camera_id,
                    now - held.renewed_at,
                )
                self._emit(LeaseLost(held.camera, held.record.token, LossReason.EXPIRED))

    def _emit(self, change: LeaseChange) -> None:
        self._queue.put_nowait(change)

    async def _tick(self) -> None:
        if time.monotonic() - self._last_heartbeat >= self._timing.heartbeat_s:
            await self._heartbeat()
        bucket = self._require_bucket()
        if not self._full_scan_due(time.monotonic()):
            # Light scan: worker heartbeats only. The leases are read again when the set of live workers
            # changes (a death frees its cameras), and at least every half lease timeout.
            workers = await bucket.read_all(WORKER_PREFIX)
            now = time.monotonic()
            self._seen.observe_prefix(WORKER_PREFIX, workers.worker_revisions, now)
            if self._live_workers(workers.contents.workers, now) == self._live_at_full:
                return
        snapshot = await bucket.read_all()
        now = time.monotonic()
        self._seen.observe({**snapshot.lease_revisions, **snapshot.worker_revisions}, now)
        info = self._require_info()
        view = build_view(
            ViewInput(
                snapshot,
                self._seen,
                now,
                self._timing.lease_timeout_s,
                Candidate(
                    info, len(self._held), info.worker_id in {d.worker_id for d in snapshot.contents.drains}
                ),
            ),
            list(self._cameras.values()),
            frozenset(self._held),
        )
        self._full_at, self._force_full = now, False
        self._live_at_full = frozenset(candidate.info.worker_id for candidate in view.candidates)
        self._notice_losses(view)
        await self._forget_dead(snapshot, now)
        if info.worker_id in view.draining:
            self._busy = True
            await self._drain_step(view, now)
            return
        contested = await self._claim(view, now)
        moving = await self._rebalance_step(view, now)
        # Read every scan only while this worker has something to do: a claim lost to another (its reading
        # was stale), a drain or a move. Cameras planned for others are looked at on the regular full scans
        # (their grace periods are longer): 20 workers re-reading 1,000 leases every second while any
        # camera was free starved a loaded host, whose watchdogs then freed more cameras.
        self._busy = bool(view.draining or view.handed_to_me or moving or contested)

    def _full_scan_due(self, now: float) -> bool:
        """Whether this scan must read the leases too (else only worker heartbeats)."""
        if self._claim_due_at is not None and now >= self._claim_due_at:
            return True
        return self._force_full or self._busy or now - self._full_at >= self._timing.full_scan_s

    def _live_workers(self, records: Sequence[WorkerRecord], now: float) -> frozenset[WorkerId]:
        me = self.worker_id
        timeout = self._timing.lease_timeout_s
        live = {
            record.info.worker_id
            for record in records
            if record.info.worker_id != me
            and not self._seen.stale(worker_key(record.info.worker_id), now, timeout)
        }
        return frozenset({me, *live})

    async def _heartbeat(self) -> None:
        info = self._require_info()
        bucket = self._require_bucket()
        self._last_heartbeat = sent = time.monotonic()
        record = WorkerRecord(info, now_us(), self._started_us)
        await bucket.put(worker_key(info.worker_id), encode_worker(record))
        self._alive_since = sent
        renewals = [self._renew(camera_id) for camera_id in list(self._held)]
        results = await asyncio.gather(*renewals, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise ClusterUnavailableError(f"{len(failures)} lease renewal(s) failed: {failures[0]}")

    async def _renew(self, camera_id: CameraId) -> None:
        held = self._held.get(camera_id)
        if held is None:
            return
        sent = time.monotonic()
        target = self._handover.target_for(camera_id)
        record = held.record.renewed(now_us(), target)
        revision = await self._require_bucket().update(
            lease_key(camera_id), encode_lease(record), held.revision
        )
        if revision is None:
            revision = await self._adopt_own_write(camera_id, held)
            if revision is not None:
                record = held.record.renewed(now_us(), target)
                revision = await self._require_bucket().update(
                    lease_key(camera_id), encode_lease(record), revision
                )
        current = self._held.get(camera_id)
        if current is not held:
            return  # given up by the watchdog meanwhile; the next scan sorts it out
        if revision is None:
            del self._held[camera_id]
            reason = LossReason.HANDED_OVER if target is not None else LossReason.TAKEN
            self._emit(LeaseLost(held.camera, held.record.token, reason, target))
            return
        held.record, held.revision, held.renewed_at = record, revision, min(sent, self._alive_since)

    async def _adopt_own_write(self, camera_id: CameraId, held: _Held) -> int | None:
        """After a conflict: the current revision if the lease is still ours, else None.

        A renewal whose answer was lost (a timeout) may still have landed; the lease is then ours at a newer
        revision, with our token.
        """
        found = await self._require_bucket().get_lease(lease_key(camera_id))
        if found is None:
            return None
        if found.record.owner == self.worker_id and found.record.token == held.record.token:
            return found.revision
        return None

    def _notice_losses(self, view: BucketView) -> None:
        me = self.worker_id
        for camera_id, held in list(self._held.items()):
            owner = view.owners.get(camera_id)
            if owner == me:
                continue  # still ours (a renewal may have raced the snapshot: the next one checks it)
            del self._held[camera_id]
            reason = (
                LossReason.HANDED_OVER if self._handover.target_for(camera_id) == owner else LossReason.TAKEN
            )
            log.info("worker %s lost camera %s to %s (%s)", me, camera_id, owner, reason.value)
            self._emit(LeaseLost(held.camera, held.record.token, reason, owner))

    async def _forget_dead(self, snapshot: Revisions, now: float) -> None:
        """Delete records of workers silent for ``forget_after_s`` (compare-and-set: a returner stays)."""
        bucket = self._require_bucket()
        for record in snapshot.contents.workers:
            worker_id = record.info.worker_id
            key = worker_key(worker_id)
            if worker_id == self.worker_id or not self._seen.stale(key, now, self._timing.forget_after_s):
                continue
            if await bucket.delete(key, last=snapshot.worker_revisions[key]):
                await bucket.delete(drain_key(worker_id))
                log.info(
                    "worker %s removed the record of worker %s (silent too long)", self.worker_id, worker_id
                )

    async def _claim(self, view: BucketView, now: float) -> bool:
        """Claim what is handed to this worker, then the free cameras due to it; whether a claim was lost."""
        info = self._require_info()
        spare = info.capacity - len(self._held)
        for offer in view.handed_to_me:
            if spare <= 0:
                break
            if await self._acquire(offer):
                spare -= 1
        free_ids = {offer.camera.camera_id for offer in view.free}
        self._free_since = {c: self._free_since.get(c, now) for c in free_ids}
        mine = plan([offer.camera for offer in view.free], view.candidates)
        self._placing = bool(mine)
        waited = {c: now - since for c, since in self._free_since.items()}
        claims = decide(
            view.free, view.candidates, ClaimRule(info, mine, waited, 2 * self._timing.heartbeat_s)
        )
        # with room, read the bucket again when the next grace period ends (not a full-scan interval later)
        due_in = claims.next_in_s if spare > 0 else None
        self._claim_due_at = None if due_in is None else now + due_in
        wanted = claims.due
        # All at once (pipelined on the connection): one by one, claiming 50 cameras at start-up on a busy
        # host took longer than the lease timeout, and the first ones expired before their first renewal.
        results = await asyncio.gather(
            *(self._acquire(offer) for offer in wanted[: max(0, spare)]), return_exceptions=True
        )
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors:
            raise errors[0]
        return False in results

    async def _acquire(self, offer: Offer) -> bool:
        info = self._require_info()
        previous = offer.previous
        token = next_token(None if previous is None else previous.token)
        at = now_us()
        record = LeaseRecord(offer.camera.camera_id, info.worker_id, token, at, at)
        key = lease_key(offer.camera.camera_id)
        bucket = self._require_bucket()
        sent = time.monotonic()
        if previous is None:
            revision = await bucket.create(key, encode_lease(record))
        else:
            revision = await bucket.update(key, encode_lease(record), offer.revision)
        if revision is None:
            return False
        self._held[offer.camera.camera_id] = _Held(
            offer.camera, record, revision, min(sent, self._alive_since)
        )
        self._free_since.pop(offer.camera.camera_id, None)
        before = None if previous is None else previous.owner
        log.info(
            "worker %s acquired camera %s (token %d, from %s)",
            info.worker_id,
            record.camera_id,
            token,
            before,
        )
        self._emit(LeaseAcquired(offer.camera, token, before if before != info.worker_id else None))
        return True

    async def _release(self, camera_id: CameraId, reason: LossReason) -> None:
        held = self._held.pop(camera_id, None)
        if held is None:
            return
        record = LeaseRecord(camera_id, None, held.record.token, held.record.acquired_us, now_us())
        try:
            await self._require_bucket().update(lease_key(camera_id), encode_lease(record), held.revision)
        except ClusterUnavailableError as err:
            log.warning("worker %s could not release camera %s: %s", self.worker_id, camera_id, err)
        self._emit(LeaseLost(held.camera, held.record.token, reason))

    async def _rebalance_step(self, view: BucketView, now: float) -> bool:
        """Move one camera to a less loaded worker (``rebalance``); true while a move is in flight."""
        pending = self._handover.current
        if pending is not None:
            if pending.camera_id in self._held and not self._handover.overdue(
                now, self._timing.lease_timeout_s
            ):
                return True
            self._handover.clear()
        if self._placing:
            return False  # free cameras still go to the least loaded first; moving now would only churn
        info = self._require_info()
        me = Candidate(info, len(self._held))
        move = choose_move(sorted(self._held), self._cameras, view.candidates, me, self._rebalance)
        if move is None:
            return False
        self._handover.begin(move.camera_id, move.target, now)
        log.info(
            "worker %s (holding %d) moves camera %s to %s to rebalance",
            info.worker_id,
            len(self._held),
            move.camera_id,
            move.target,
        )
        await self._renew(move.camera_id)
        return True

    async def _drain_step(self, view: BucketView, now: float) -> None:
        """Hand the next camera over: name a target in the lease, the target takes it, then the next."""
        pending = self._handover.current
        if pending is not None:
            if pending.camera_id in self._held and not self._handover.overdue(
                now, self._timing.lease_timeout_s
            ):
                return
            self._handover.clear()
        choice = self._handover.choose(sorted(self._held), self._cameras, view.candidates, self.worker_id)
        if choice is None:
            return
        self._handover.begin(choice.camera_id, choice.target, now)
        log.info(
            "worker %s (draining) hands camera %s to %s", self.worker_id, choice.camera_id, choice.target
        )
        await self._renew(choice.camera_id)
