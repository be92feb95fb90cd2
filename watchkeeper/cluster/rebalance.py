"""Rebalancing: a worker above its fair share hands one camera at a time to a less loaded worker.

Leader-free like placement: each worker decides only about its own cameras, from the same bucket contents.
A worker moves a camera when another live, non-draining worker that serves it has spare capacity and

* the two differ by at least ``min_imbalance`` cameras, and
* after the move this worker is still at least as loaded (cameras per capacity) as the other,

so a move never makes the pair less balanced and two workers never hand a camera back and forth. The move
itself is a drain handover (the old owner records until the new one streams), one camera in flight per
worker; the next is chosen once the last has moved (or the offer timed out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from watchkeeper.cluster.model import CameraSpec, WorkerId
from watchkeeper.cluster.placement import Candidate
from watchkeeper.domain import CameraId


@dataclass(frozen=True, slots=True)
class RebalancePolicy:
    """Whether and when a worker moves cameras to less loaded workers (``cluster.rebalance*``).

    Attributes:
        enabled: Move cameras at all.
        min_imbalance: Smallest difference in cameras between this worker and the target (at least 2: a
            difference of 1 would only swap which of the two has the extra camera).
    """

    enabled: bool = True
    min_imbalance: int = 2

    def __post_init__(self) -> None:
        """Reject a threshold under 2."""
        if self.min_imbalance < 2:
            raise ValueError(f"min_imbalance must be at least 2, not {self.min_imbalance}")


@dataclass(frozen=True, slots=True)
class Move:
    """Hand ``camera_id`` over to ``target``."""

    camera_id: CameraId
    target: WorkerId


def choose_move(
    held: Sequence[CameraId],
    cameras: Mapping[CameraId, CameraSpec],
    candidates: Sequence[Candidate],
    me: Candidate,
    policy: RebalancePolicy,
) -> Move | None:
    """The camera ``me`` should hand over now and to whom, or None when the cluster is balanced enough.

    ``held`` are ``me``'s cameras; the last one (in id order) that some suitable worker serves is chosen, and
    of the suitable workers the least loaded per capacity (ties: fewest cameras, then smallest id).
    """
    if not policy.enabled or me.draining:
        return None
    others = [
        c
        for c in candidates
        if c.info.worker_id != me.info.worker_id and not c.draining and _worth_it(me, c, policy)
    ]
    for camera_id in sorted(held, reverse=True):
        spec = cameras.get(camera_id, CameraSpec(camera_id))
        fits = [c for c in others if c.info.serves(spec)]
        if fits:
            target = min(fits, key=lambda c: (c.load / c.info.capacity, c.load, c.info.worker_id))
            return Move(camera_id, target.info.worker_id)
    return None


def _worth_it(me: Candidate, target: Candidate, policy: RebalancePolicy) -> bool:
    """Room on ``target``, a big enough difference, and ``me`` still as loaded per capacity after the move."""
    if target.load >= target.info.capacity or me.load - target.load < policy.min_imbalance:
        return False
    return (me.load - 1) * target.info.capacity >= (target.load + 1) * me.info.capacity
