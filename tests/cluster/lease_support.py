"""Several camera-lease clients in one test process, over one fresh lease bucket (deleted afterwards).

``lease_cluster()`` yields a ``LeaseCluster``: ``spawn`` starts a ``NatsCameraLeases`` worker whose lease
changes are collected in the background; ``control`` reads the status and drains; ``wait_until`` polls an
assertion-free predicate. ``PrivateNats`` (from ``nats_support``) runs a nats-server of the test's own,
which a test may stop and start again (the shared server on 4222 is never touched).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from tests.cluster.nats_support import PrivateNats
from tests.conftest import free_port
from tests.support.services import require_service
from watchkeeper.cluster import (
    CameraSpec,
    ClusterStatus,
    LeaseAcquired,
    LeaseChange,
    LeaseLost,
    WorkerId,
    WorkerInfo,
)
from watchkeeper.cluster.nats import BucketSettings, LeaseBucket, LeaseTiming, NatsCameraLeases
from watchkeeper.cluster.nats.control import NatsClusterControl
from watchkeeper.cluster.rebalance import RebalancePolicy
from watchkeeper.domain import CameraId, SiteId

__all__ = [
    "FAST",
    "NATS_URL",
    "LeaseCluster",
    "PrivateNats",
    "RunningWorker",
    "cameras",
    "free_port",
    "lease_cluster",
]

NATS_HOST = "127.0.0.1"
NATS_PORT = 4222
NATS_URL = f"nats://{NATS_HOST}:{NATS_PORT}"
FAST = LeaseTiming(heartbeat_s=0.3, lease_timeout_s=1.2)
"""Short timings so takeovers happen within a test's patience."""


def cameras(*names: str, site: str | None = None) -> list[CameraSpec]:
    """Camera specs for ``names``, all pinned to ``site`` (or unpinned)."""
    return [CameraSpec(CameraId(name), None if site is None else SiteId(site)) for name in names]


@dataclass
class RunningWorker:
    """A started worker and the lease changes it has emitted so far."""

    leases: NatsCameraLeases
    info: WorkerInfo
    changes: list[LeaseChange] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    def acquired(self) -> list[LeaseAcquired]:
        """Every acquisition so far."""
        return [change for change in self.changes if isinstance(change, LeaseAcquired)]

    def lost(self) -> list[LeaseLost]:
        """Every loss so far."""
        return [change for change in self.changes if isinstance(change, LeaseLost)]

    def holds(self) -> set[CameraId]:
        """Cameras held now."""
        return set(self.leases.held())

    async def stop(self) -> None:
        """Stop the worker (releasing its leases) and wait for its change stream to end."""
        await self.leases.stop()
        if self.reader is not None:
            await asyncio.wait_for(self.reader, timeout=10)


@dataclass
class LeaseCluster:
    """Workers sharing one lease bucket."""

    settings: BucketSettings
    timing: LeaseTiming
    control: NatsClusterControl
    workers: list[RunningWorker] = field(default_factory=list)

    async def spawn(
        self,
        worker_id: str,
        specs: Sequence[CameraSpec],
        capacity: int = 100,
        site: str | None = None,
        timing: LeaseTiming | None = None,
        rebalance: RebalancePolicy | None = None,
    ) -> RunningWorker:
        """Start a worker named ``worker_id`` leasing ``specs`` (with the cluster's timing by default)."""
        info = WorkerInfo(
            WorkerId(worker_id), "test-host", capacity, "cpu", None if site is None else SiteId(site), "test"
        )
        leases = NatsCameraLeases(self.settings, timing or self.timing, rebalance)
        await leases.start(info, specs)
        worker = RunningWorker(leases, info)

        async def read() -> None:
            async for change in leases.changes():
                worker.changes.append(change)

        worker.reader = asyncio.create_task(read())
        self.workers.append(worker)
        return worker

    async def wait_until(
        self, predicate: Callable[[], object], timeout: float = 10.0, what: str = ""
    ) -> None:
        """Poll ``predicate`` every 20 ms; fail naming ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
            await asyncio.sleep(0.02)

    async def wait_for_status(
        self, predicate: Callable[[ClusterStatus], bool], timeout: float = 10.0, what: str = ""
    ) -> ClusterStatus:
        """Read the status every 50 ms until ``predicate`` holds; fail naming ``what`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            status = await self.control.status()
            if predicate(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for {what}; last status {status}"
                )
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def lease_cluster(url: str = NATS_URL, timing: LeaseTiming = FAST) -> AsyncIterator[LeaseCluster]:
    """A fresh bucket on ``url`` (the shared server by default); workers stopped and bucket deleted after."""
    if url == NATS_URL:
        require_service("NATS", NATS_HOST, NATS_PORT)
    settings = BucketSettings(url=url, bucket=f"wkt_leases_{uuid.uuid4().hex[:10]}", request_timeout_s=0.5)
    control = await NatsClusterControl.open(settings, timing.lease_timeout_s)
    cluster = LeaseCluster(settings, timing, control)
    try:
        yield cluster
    finally:
        for worker in cluster.workers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.stop(), timeout=10)
        with contextlib.suppress(Exception):
            bucket = await LeaseBucket.open(settings)
            await bucket.destroy()
            await bucket.close()
        await control.close()
