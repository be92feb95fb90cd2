"""Pure data of the cluster: workers, camera specs, lease changes and the cluster status.

Everything here is a frozen, slotted dataclass without I/O, shared by every ``CameraLeases`` backend and
by the commands (``watchkeeper cluster status``, ``watchkeeper worker drain``) that print it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NewType

from watchkeeper.domain import CameraId, SiteId

WorkerId = NewType("WorkerId", str)
"""Identifier of one worker process, unique in the cluster (default ``<hostname>-<pid>``)."""

FencingToken = NewType("FencingToken", int)
"""Increases with every acquisition of a camera's lease; index writes carry it (see ``store.fences``)."""

UNFENCED = FencingToken(0)
"""Token of the single-box ``local`` leases: the store admits it without recording it (one writer only)."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What a worker advertises about itself.

    Attributes:
        worker_id: Unique id of the worker process.
        host: Host name the worker runs on (for people reading ``cluster status``).
        capacity: Most cameras the worker takes at once (>= 1).
        hardware: Free-form accelerator label, for example ``cpu`` or ``cuda``.
        site: Site the worker belongs to; None serves unpinned cameras only.
        version: Watchkeeper version of the worker.
        http_url: Base URL of the worker's HTTP port as API nodes reach it (None: not advertised); an API
            node fetches the hot segment files of the worker's site from there.
    """

    worker_id: WorkerId
    host: str
    capacity: int
    hardware: str = "cpu"
    site: SiteId | None = None
    version: str = ""
    http_url: str | None = None

    def __post_init__(self) -> None:
        """Reject a capacity below one and an empty id."""
        if self.capacity < 1:
            raise ValueError(f"worker capacity must be at least 1, got {self.capacity}")
        if not self.worker_id:
            raise ValueError("worker id must not be empty")

    def serves(self, camera: CameraSpec) -> bool:
        """Whether this worker may take ``camera``: a pinned camera goes only to workers of its site."""
        return camera.site is None or camera.site == self.site


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """A camera as the leasing layer sees it.

    Attributes:
        camera_id: The camera.
        site: Site the camera is pinned to (only workers of that site take it); None lets any worker take it.
    """

    camera_id: CameraId
    site: SiteId | None = None


class LossReason(StrEnum):
    """Why a worker gave up a camera."""

    EXPIRED = "expired"
    """The lease could not be renewed within ``lease_timeout_s`` (NATS unreachable): assume another has it."""
    TAKEN = "taken"
    """Another worker holds the lease now (seen in the bucket)."""
    HANDED_OVER = "handed_over"
    """The camera moved to another worker during a drain; the new owner has already started."""
    REMOVED = "removed"
    """The camera is no longer in the camera list given to ``set_cameras``."""
    STOPPED = "stopped"
    """The worker is stopping and released the lease."""


@dataclass(frozen=True, slots=True)
class LeaseAcquired:
    """This worker now owns ``camera``: start recording and analysing it, tagging index writes with ``token``.

    Attributes:
        camera: The camera.
        token: Fencing token of this acquisition (larger than any earlier one of this camera).
        previous_owner: Worker that held it before (drain handover or takeover), if known.
    """

    camera: CameraSpec
    token: FencingToken
    previous_owner: WorkerId | None = None


@dataclass(frozen=True, slots=True)
class LeaseLost:
    """This worker no longer owns ``camera``: stop recording it now.

    Attributes:
        camera: The camera.
        token: The fencing token of the lease that ended.
        reason: Why.
        new_owner: The worker that has it now, if known.
    """

    camera: CameraSpec
    token: FencingToken
    reason: LossReason
    new_owner: WorkerId | None = None


LeaseChange = LeaseAcquired | LeaseLost
"""One item of ``CameraLeases.changes()``."""


@dataclass(frozen=True, slots=True)
class WorkerState:
    """One worker in the cluster status.

    Attributes:
        info: What the worker advertises.
        last_heartbeat: When the worker last wrote its heartbeat (its own clock, UTC).
        alive: Whether the heartbeat is younger than the lease timeout (as this reader sees it).
        draining: Whether the worker was asked to drain.
        cameras: Cameras it holds, sorted.
    """

    info: WorkerInfo
    last_heartbeat: datetime
    alive: bool
    draining: bool
    cameras: tuple[CameraId, ...] = ()

    @property
    def load(self) -> int:
        """Number of cameras held."""
        return len(self.cameras)


@dataclass(frozen=True, slots=True)
class LeaseState:
    """One camera lease in the cluster status.

    Attributes:
        camera_id: The camera.
        owner: Worker holding it; None when free (released or never leased).
        token: Fencing token of the current (or last) acquisition.
        acquired_at: When the owner acquired it (UTC).
        renewed_at: When the owner last renewed it (UTC, the owner's clock).
        expires_at: ``renewed_at + lease_timeout_s``: after this any worker may take it.
        handover_to: During a drain, the worker the camera is being handed to.
    """

    camera_id: CameraId
    owner: WorkerId | None
    token: FencingToken
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime | None
    handover_to: WorkerId | None = None

    def age_s(self, now: datetime) -> float | None:
        """Seconds since the last renewal at ``now``; None for a free camera."""
        if self.renewed_at is None:
            return None
        return (now - self.renewed_at).total_seconds()


@dataclass(frozen=True, slots=True)
class UnreachableSite:
    """A site whose lease bucket could not be read (its workers and leases are missing from a status).

    Attributes:
        domain: The site's JetStream domain.
        reason: Why, in one line.
    """

    domain: str
    reason: str


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """Workers and leases at one moment.

    Attributes:
        at: When this status was read (UTC).
        workers: Every worker with a heartbeat in the bucket, sorted by id (dead ones have ``alive`` False).
        leases: Every camera lease in the bucket, sorted by camera id.
        unreachable: Sites whose buckets did not answer (a hub reading several sites): a camera without a
            lease here may be held there, so nothing may be concluded about it.
    """

    at: datetime
    workers: tuple[WorkerState, ...] = ()
    leases: tuple[LeaseState, ...] = field(default_factory=tuple)
    unreachable: tuple[UnreachableSite, ...] = ()

    def worker(self, worker_id: WorkerId) -> WorkerState | None:
        """The worker with id ``worker_id``, or None."""
        return next((worker for worker in self.workers if worker.info.worker_id == worker_id), None)

    def owner_of(self, camera_id: CameraId) -> WorkerId | None:
        """The worker holding ``camera_id``, or None."""
        lease = next((lease for lease in self.leases if lease.camera_id == camera_id), None)
        return None if lease is None else lease.owner
