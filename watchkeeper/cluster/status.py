"""Build a ``ClusterStatus`` from the records of the lease bucket (pure; the reader supplies the time)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from watchkeeper.cluster.model import ClusterStatus, LeaseState, WorkerId, WorkerState
from watchkeeper.cluster.records import DrainRecord, LeaseRecord, WorkerRecord, from_us
from watchkeeper.domain import CameraId


@dataclass(frozen=True, slots=True)
class BucketContents:
    """Every record of the lease bucket at one moment (unreadable ones already skipped)."""

    workers: Sequence[WorkerRecord] = ()
    leases: Sequence[LeaseRecord] = ()
    drains: Sequence[DrainRecord] = ()


def build_status(contents: BucketContents, at_us: int, lease_timeout_s: float) -> ClusterStatus:
    """The cluster status as of ``at_us`` (a reader's wall clock).

    A worker is alive when its heartbeat is younger than ``lease_timeout_s``; a lease whose owner is not
    alive any more still shows its owner until another worker takes it.
    """
    timeout_us = int(lease_timeout_s * 1_000_000)
    draining: Collection[WorkerId] = {drain.worker_id for drain in contents.drains}
    held: dict[WorkerId, list[CameraId]] = {}
    for lease in contents.leases:
        if lease.owner is not None:
            held.setdefault(lease.owner, []).append(lease.camera_id)
    workers = tuple(
        WorkerState(
            info=record.info,
            last_heartbeat=from_us(record.heartbeat_us),
            alive=at_us - record.heartbeat_us < timeout_us,
            draining=record.info.worker_id in draining,
            cameras=tuple(sorted(held.get(record.info.worker_id, []))),
        )
        for record in sorted(contents.workers, key=lambda record: record.info.worker_id)
    )
    timeout = timedelta(seconds=lease_timeout_s)
    leases = tuple(
        LeaseState(
            camera_id=lease.camera_id,
            owner=lease.owner,
            token=lease.token,
            acquired_at=None if lease.owner is None else from_us(lease.acquired_us),
            renewed_at=None if lease.owner is None else from_us(lease.renewed_us),
            expires_at=None if lease.owner is None else from_us(lease.renewed_us) + timeout,
            handover_to=lease.handover_to,
        )
        for lease in sorted(contents.leases, key=lambda lease: lease.camera_id)
    )
    return ClusterStatus(at=from_us(at_us), workers=workers, leases=leases)
