"""``NatsClusterControl``: read the cluster status and drain workers through the lease bucket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from watchkeeper.cluster.errors import UnknownWorkerError
from watchkeeper.cluster.model import ClusterStatus, WorkerId
from watchkeeper.cluster.nats.bucket import BucketSettings, LeaseBucket
from watchkeeper.cluster.records import DrainRecord, drain_key, encode_drain, now_us
from watchkeeper.cluster.status import build_status


class NatsClusterControl:
    """The operator's side of the NATS lease bucket (``cluster status``, ``worker drain``)."""

    def __init__(self, bucket: LeaseBucket, lease_timeout_s: float, poll_s: float = 0.25) -> None:
        """Use an open ``bucket``; ``lease_timeout_s`` decides which heartbeats count as alive."""
        self._bucket = bucket
        self._timeout_s = lease_timeout_s
        self._poll_s = poll_s

    @classmethod
    async def open(cls, settings: BucketSettings, lease_timeout_s: float) -> NatsClusterControl:
        """Connect to the bucket of ``settings``.

        Raises:
            ClusterUnavailableError: when NATS cannot be reached.
        """
        return cls(await LeaseBucket.open(settings), lease_timeout_s)

    async def status(self) -> ClusterStatus:
        """Every worker and lease in the bucket now."""
        snapshot = await self._bucket.read_all()
        return build_status(snapshot.contents, now_us(), self._timeout_s)

    async def drain(self, worker_id: WorkerId) -> None:
        """Ask ``worker_id`` to hand its cameras over and take no new ones.

        Raises:
            UnknownWorkerError: when no live worker has that id.
        """
        status = await self.status()
        worker = status.worker(worker_id)
        if worker is None or not worker.alive:
            known = ", ".join(w.info.worker_id for w in status.workers if w.alive) or "none"
            raise UnknownWorkerError(f"no live worker {worker_id!r} (live workers: {known})")
        await self._bucket.put(drain_key(worker_id), encode_drain(DrainRecord(worker_id, now_us())))

    async def undrain(self, worker_id: WorkerId) -> None:
        """Let ``worker_id`` take cameras again (no error when it was not draining)."""
        await self._bucket.delete(drain_key(worker_id))

    async def wait_drained(self, worker_id: WorkerId, timeout_s: float) -> ClusterStatus:
        """Wait until ``worker_id`` holds no camera or is gone.

        Raises:
            TimeoutError: when it still holds cameras after ``timeout_s``.
        """
        return await wait_until_drained(self.status, worker_id, timeout_s, self._poll_s)

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        await self._bucket.close()


async def wait_until_drained(
    read: Callable[[], Awaitable[ClusterStatus]], worker_id: WorkerId, timeout_s: float, poll_s: float
) -> ClusterStatus:
    """Read the status with ``read`` every ``poll_s`` until ``worker_id`` holds no camera or is gone.

    Raises:
        TimeoutError: when it still holds cameras after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        status = await read()
        worker = status.worker(worker_id)
        if worker is None or not worker.alive or not worker.cameras:
            return status
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"worker {worker_id!r} still holds {len(worker.cameras)} camera(s) after {timeout_s:g} s"
            )
        await asyncio.sleep(poll_s)
