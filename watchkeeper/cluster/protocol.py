"""The protocols of camera leasing: a worker's ``CameraLeases`` and the operator's ``ClusterControl``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

from watchkeeper.cluster.model import (
    CameraSpec,
    ClusterStatus,
    FencingToken,
    LeaseChange,
    WorkerId,
    WorkerInfo,
)
from watchkeeper.domain import CameraId


class ClusterControl(Protocol):
    """What an operator's command needs: read the status, drain a worker (no worker of its own)."""

    async def status(self) -> ClusterStatus:
        """Read every worker and lease now.

        Raises:
            ClusterUnavailableError: when the coordination server cannot be reached.
        """
        ...

    async def drain(self, worker_id: WorkerId) -> None:
        """Mark ``worker_id`` draining: it hands its cameras over one by one and takes no new ones.

        Returns once the request is recorded; use ``wait_drained`` to wait for the handover.

        Raises:
            UnknownWorkerError: when no live worker has that id.
            ClusterUnavailableError: when the coordination server cannot be reached.
        """
        ...

    async def undrain(self, worker_id: WorkerId) -> None:
        """Clear the draining mark of ``worker_id``: it takes cameras again."""
        ...

    async def wait_drained(self, worker_id: WorkerId, timeout_s: float) -> ClusterStatus:
        """Wait until ``worker_id`` holds no camera (or is gone); returns the status seen last.

        Raises:
            TimeoutError: when it still holds cameras after ``timeout_s``.
        """
        ...

    async def close(self) -> None:
        """Release the connection (for ``CameraLeases``: the same as ``stop``); idempotent."""
        ...


class CameraLeases(ClusterControl, Protocol):
    """The cameras one worker process owns, kept up to date with the rest of the cluster.

    Life cycle: ``start(info, cameras)`` once; read ``changes()`` (one reader) and start/stop cameras as
    ``LeaseAcquired`` / ``LeaseLost`` arrive; ``set_cameras`` when the camera list changes; ``stop()`` at the
    end (releases the leases so others take them at once).
    """

    async def start(self, info: WorkerInfo, cameras: Sequence[CameraSpec]) -> None:
        """Advertise ``info``, then claim and renew leases of ``cameras`` in the background.

        Raises:
            ClusterUnavailableError: when the coordination server cannot be reached (nothing is started).
            ClusterError: when already started.
        """
        ...

    async def set_cameras(self, cameras: Sequence[CameraSpec]) -> None:
        """Replace the camera list (cameras no longer listed are released with reason ``removed``)."""
        ...

    def changes(self) -> AsyncIterator[LeaseChange]:
        """Lease changes of this worker, in order; ends after ``stop()`` (which emits the final losses)."""
        ...

    def held(self) -> Mapping[CameraId, FencingToken]:
        """Cameras this worker holds now, with their fencing tokens."""
        ...

    @property
    def worker_id(self) -> WorkerId:
        """Id of this worker (from ``info``; raises ClusterError before ``start``)."""
        ...

    async def stop(self) -> None:
        """Release every lease, remove the worker's heartbeat and end ``changes()`` (idempotent)."""
        ...
