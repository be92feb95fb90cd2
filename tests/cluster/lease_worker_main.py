"""A lease worker as its own process (for kill -9 tests and the takeover benchmark).

Usage: ``python -m tests.cluster.lease_worker_main URL BUCKET WORKER_ID HEARTBEAT_S TIMEOUT_S CAMERA...``.
Prints ``acquired <camera> <token>`` lines as leases arrive, then runs until killed.
"""

from __future__ import annotations

import asyncio
import sys

from watchkeeper.cluster import CameraSpec, LeaseAcquired, WorkerId, WorkerInfo
from watchkeeper.cluster.nats import BucketSettings, LeaseTiming, NatsCameraLeases
from watchkeeper.domain import CameraId


async def main(argv: list[str]) -> None:
    """Run one worker until killed."""
    url, bucket, worker_id, heartbeat_s, timeout_s, *names = argv
    leases = NatsCameraLeases(
        BucketSettings(url=url, bucket=bucket, request_timeout_s=0.5),
        LeaseTiming(heartbeat_s=float(heartbeat_s), lease_timeout_s=float(timeout_s)),
    )
    info = WorkerInfo(WorkerId(worker_id), "subprocess", max(1, len(names)))
    await leases.start(info, [CameraSpec(CameraId(name)) for name in names])
    async for change in leases.changes():
        if isinstance(change, LeaseAcquired):
            print(f"acquired {change.camera.camera_id} {change.token}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
