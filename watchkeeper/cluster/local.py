"""``LocalCameraLeases``: the single-box default, every camera to the one local worker, no server.

Tokens still rise across restarts (wall-clock milliseconds, above the previous token of this process), so
two single-box processes pointed at one database by mistake are fenced: the later one wins.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

from watchkeeper.cluster.errors import ClusterError, UnknownWorkerError
from watchkeeper.cluster.model import (
    CameraSpec,
    ClusterStatus,
    FencingToken,
    LeaseAcquired,
    LeaseChange,
    LeaseLost,
    LeaseState,
    LossReason,
    WorkerId,
    WorkerInfo,
    WorkerState,
)
from watchkeeper.cluster.records import from_us, next_token, now_us
from watchkeeper.domain import CameraId

log = logging.getLogger(__name__)

_END = object()


class LocalCameraLeases:
    """Every listed camera belongs to this process; drain has nowhere to move cameras to."""

    def __init__(self) -> None:
        """Prepare; nothing is held before :meth:`start`."""
        self._info: WorkerInfo | None = None
        self._cameras: dict[CameraId, CameraSpec] = {}
        self._held: dict[CameraId, FencingToken] = {}
        self._acquired_us: dict[CameraId, int] = {}
        self._last_token: FencingToken | None = None
        self._queue: asyncio.Queue[LeaseChange | object] = asyncio.Queue()
        self._draining = False
        self._stopped = False

    @property
    def worker_id(self) -> WorkerId:
        """Id of this worker."""
        return self._require_info().worker_id

    async def start(self, info: WorkerInfo, cameras: Sequence[CameraSpec]) -> None:
        """Take every camera at once (capacity is not enforced on a single box).

        Raises:
            ClusterError: when already started.
        """
        if self._info is not None:
            raise ClusterError(f"camera leases of worker {self._info.worker_id!r} already started")
        self._info = info
        await self.set_cameras(cameras)

    async def set_cameras(self, cameras: Sequence[CameraSpec]) -> None:
        """Take new cameras, release the ones no longer listed."""
        self._require_info()
        self._cameras = {camera.camera_id: camera for camera in cameras}
        for camera_id in [c for c in self._held if c not in self._cameras]:
            token = self._held.pop(camera_id)
            self._queue.put_nowait(LeaseLost(CameraSpec(camera_id), token, LossReason.REMOVED))
        for camera in self._cameras.values():
            if camera.camera_id not in self._held:
                self._acquire(camera)

    def _acquire(self, camera: CameraSpec) -> None:
        token = next_token(self._last_token)
        self._last_token = token
        self._held[camera.camera_id] = token
        self._acquired_us[camera.camera_id] = now_us()
        self._queue.put_nowait(LeaseAcquired(camera, token))

    async def changes(self) -> AsyncIterator[LeaseChange]:
        """Lease changes in order; ends after :meth:`stop`."""
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            if isinstance(item, LeaseAcquired | LeaseLost):
                yield item

    def held(self) -> Mapping[CameraId, FencingToken]:
        """Every listed camera, with its token."""
        return dict(self._held)

    async def status(self) -> ClusterStatus:
        """This one worker and its cameras."""
        info = self._require_info()
        at = now_us()
        worker = WorkerState(
            info=info,
            last_heartbeat=from_us(at),
            alive=not self._stopped,
            draining=self._draining,
            cameras=tuple(sorted(self._held)),
        )
        leases = tuple(
            LeaseState(
                camera_id=camera_id,
                owner=info.worker_id,
                token=token,
                acquired_at=from_us(self._acquired_us[camera_id]),
                renewed_at=from_us(at),
                expires_at=None,
            )
            for camera_id, token in sorted(self._held.items())
        )
        return ClusterStatus(at=from_us(at), workers=(worker,), leases=leases)

    async def drain(self, worker_id: WorkerId) -> None:
        """Mark this worker draining; with no other worker its cameras stay (logged).

        Raises:
            UnknownWorkerError: when ``worker_id`` is not this worker.
        """
        self._check_self(worker_id)
        self._draining = True
        log.warning("worker %s is the only worker (local leases): its cameras stay", worker_id)

    async def undrain(self, worker_id: WorkerId) -> None:
        """Clear the draining mark."""
        self._check_self(worker_id)
        self._draining = False

    async def wait_drained(self, worker_id: WorkerId, timeout_s: float) -> ClusterStatus:
        """Return at once when nothing is held, else fail: a single box cannot hand cameras over.

        Raises:
            TimeoutError: when cameras are held (after ``timeout_s``).
        """
        self._check_self(worker_id)
        if self._held:
            await asyncio.sleep(timeout_s)
            raise TimeoutError(
                f"worker {worker_id!r} is the only worker and keeps {len(self._held)} camera(s)"
            )
        return await self.status()

    async def stop(self) -> None:
        """Release every camera and end :meth:`changes` (idempotent)."""
        if self._stopped or self._info is None:
            return
        self._stopped = True
        for camera_id, token in sorted(self._held.items()):
            self._queue.put_nowait(LeaseLost(self._cameras[camera_id], token, LossReason.STOPPED))
        self._held.clear()
        self._queue.put_nowait(_END)

    async def close(self) -> None:
        """Same as :meth:`stop`."""
        await self.stop()

    def _require_info(self) -> WorkerInfo:
        if self._info is None:
            raise ClusterError("camera leases are not started")
        return self._info

    def _check_self(self, worker_id: WorkerId) -> None:
        if worker_id != self._require_info().worker_id:
            raise UnknownWorkerError(f"no worker {worker_id!r} (local leases have only {self.worker_id!r})")
