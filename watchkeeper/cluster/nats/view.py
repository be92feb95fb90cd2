"""One worker's reading of the lease bucket: who is alive, which cameras are free, what is handed to it.

Expiry is judged on the reader's own monotonic clock: a record is stale when its revision has not changed
for ``lease_timeout_s`` since this reader first saw that revision. No other host's clock is trusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from watchkeeper.cluster.model import CameraSpec, WorkerId
from watchkeeper.cluster.nats.bucket import Revisions
from watchkeeper.cluster.placement import Candidate
from watchkeeper.cluster.records import LeaseRecord, lease_key, worker_key
from watchkeeper.domain import CameraId


@dataclass(slots=True)
class Observations:
    """When this reader first saw each key's current revision (monotonic seconds)."""

    first_seen: dict[str, tuple[int, float]] = field(default_factory=dict)

    def observe(self, revisions: Mapping[str, int], now: float) -> None:
        """Record ``revisions`` seen at ``now``; keys gone from the bucket are forgotten."""
        seen = {}
        for key, revision in revisions.items():
            previous = self.first_seen.get(key)
            seen[key] = previous if previous is not None and previous[0] == revision else (revision, now)
        self.first_seen = seen

    def observe_prefix(self, prefix: str, revisions: Mapping[str, int], now: float) -> None:
        """Like :meth:`observe` for the keys starting with ``prefix`` only; other keys stay as they are."""
        kept = {key: seen for key, seen in self.first_seen.items() if not key.startswith(prefix)}
        for key, revision in revisions.items():
            previous = self.first_seen.get(key)
            kept[key] = previous if previous is not None and previous[0] == revision else (revision, now)
        self.first_seen = kept

    def stale(self, key: str, now: float, timeout_s: float) -> bool:
        """Whether ``key``'s revision has stood still for ``timeout_s`` (unknown keys are not stale)."""
        seen = self.first_seen.get(key)
        return seen is not None and now - seen[1] >= timeout_s


@dataclass(frozen=True, slots=True)
class Offer:
    """A camera this worker may claim now, with the record and revision to compare-and-set against."""

    camera: CameraSpec
    previous: LeaseRecord | None
    revision: int


@dataclass(frozen=True, slots=True)
class BucketView:
    """What one worker makes of a snapshot.

    Attributes:
        candidates: Live workers (this one included) with their loads, for placement.
        free: Cameras of this worker's list that no live lease holds, with what to compare against.
        handed_to_me: Cameras a draining worker is handing to this one.
        owners: Current owner of each leased camera (live or not), for loss reasons.
        draining: Workers asked to drain.
    """

    candidates: tuple[Candidate, ...]
    free: tuple[Offer, ...]
    handed_to_me: tuple[Offer, ...]
    owners: Mapping[CameraId, WorkerId | None]
    draining: frozenset[WorkerId]


@dataclass(frozen=True, slots=True)
class ViewInput:
    """What a view is made from."""

    snapshot: Revisions
    observations: Observations
    now: float
    timeout_s: float
    me: Candidate


def build_view(source: ViewInput, cameras: Sequence[CameraSpec], held: frozenset[CameraId]) -> BucketView:
    """Read ``source.snapshot`` from the point of view of worker ``source.me`` holding ``held``."""
    me = source.me.info.worker_id
    contents = source.snapshot.contents
    draining = frozenset(drain.worker_id for drain in contents.drains)
    alive = {
        record.info.worker_id: record.info
        for record in contents.workers
        if record.info.worker_id != me
        and not source.observations.stale(worker_key(record.info.worker_id), source.now, source.timeout_s)
    }
    leases = {lease.camera_id: lease for lease in contents.leases}
    loads: dict[WorkerId, int] = dict.fromkeys(alive, 0)
    live_lease: set[CameraId] = set()
    for lease in contents.leases:
        key = lease_key(lease.camera_id)
        if lease.owner is None or lease.owner == me:
            continue
        if lease.owner in alive and not source.observations.stale(key, source.now, source.timeout_s):
            live_lease.add(lease.camera_id)
            loads[lease.owner] += 1
    candidates = (
        source.me,
        *(Candidate(info, loads[worker_id], worker_id in draining) for worker_id, info in alive.items()),
    )
    free: list[Offer] = []
    handed: list[Offer] = []
    for camera in cameras:
        if camera.camera_id in held:
            continue
        current = leases.get(camera.camera_id)
        revision = source.snapshot.lease_revisions.get(lease_key(camera.camera_id), 0)
        if current is None or camera.camera_id not in live_lease:
            free.append(Offer(camera, current, revision))
        elif current.handover_to == me:
            handed.append(Offer(camera, current, revision))
    owners = {lease.camera_id: lease.owner for lease in contents.leases}
    return BucketView(tuple(candidates), tuple(free), tuple(handed), owners, draining)
