"""Which free cameras a worker claims now, and in what order (pure: no I/O, no clock).

A worker claims at once the free cameras the shared plan (:func:`~watchkeeper.cluster.placement.plan`)
gives it. A free camera planned for another worker is left to that worker for a grace period that grows with
this worker's place in line behind it (the camera's rendezvous ranking over the live, non-draining workers
with spare capacity): the first in line waits ``patience_s``, the second twice that, everyone else three
times. So a planned worker that is slow or gone is covered within a few heartbeats, and when it is, the
workers behind it do not all compare-and-set the same keys at the same moment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from watchkeeper.cluster.model import CameraSpec, WorkerId, WorkerInfo
from watchkeeper.cluster.nats.view import Offer
from watchkeeper.cluster.placement import Candidate, ranking
from watchkeeper.domain import CameraId

MAX_GRACE_STEPS: Final = 3
"""A worker waits at most this many ``patience_s`` for a camera planned for another."""


@dataclass(frozen=True, slots=True)
class ClaimRule:
    """What one worker's claims are decided from besides the free cameras and the candidates.

    Attributes:
        me: This worker.
        planned: The shared plan: the worker each free camera should go to.
        free_for: Seconds this worker has seen each free camera free (missing: just seen).
        patience_s: One grace step (two heartbeats).
    """

    me: WorkerInfo
    planned: Mapping[CameraId, WorkerId]
    free_for: Mapping[CameraId, float]
    patience_s: float


@dataclass(frozen=True, slots=True)
class Claims:
    """What a worker claims now and when it should look again.

    Attributes:
        due: The free cameras to claim now, most entitled first (planned ones, then by grace; ties in camera
            id order). The caller claims as many as it has spare capacity for.
        next_in_s: Seconds until the grace period of another free camera it may take ends (None: none).
    """

    due: tuple[Offer, ...]
    next_in_s: float | None


def grace_s(camera: CameraSpec, candidates: Sequence[Candidate], rule: ClaimRule) -> float | None:
    """How long ``camera`` must have been free before ``rule.me`` claims it; None when it never may.

    0 for a camera planned for this worker; None for one it does not serve, or while it is draining. Else
    ``patience_s`` times this worker's place in line: the camera's ranking over the workers with spare
    capacity, the planned worker left out (first in line 1, second 2, later ones ``MAX_GRACE_STEPS``).
    """
    me = rule.me.worker_id
    planned = rule.planned.get(camera.camera_id)
    if planned == me:
        return 0.0
    if not rule.me.serves(camera) or any(c.draining for c in candidates if c.info.worker_id == me):
        return None
    with_room = [c for c in candidates if c.info.worker_id == me or c.load < c.info.capacity]
    line = [worker_id for worker_id in ranking(camera, with_room) if worker_id != planned]
    place = line.index(me) if me in line else len(line)
    return rule.patience_s * min(place + 1, MAX_GRACE_STEPS)


def decide(free: Sequence[Offer], candidates: Sequence[Candidate], rule: ClaimRule) -> Claims:
    """Which of the ``free`` cameras ``rule.me`` claims now, and when another one comes due."""
    due: list[Offer] = []
    waits: dict[CameraId, float] = {}
    next_in: float | None = None
    for offer in free:
        camera_id = offer.camera.camera_id
        waited = rule.free_for.get(camera_id, 0.0)
        if rule.planned.get(camera_id) != rule.me.worker_id and waited < rule.patience_s:
            # not this worker's, and too early for anyone else: look again once one grace step is over
            # (the ranking is computed only then)
            if rule.me.serves(offer.camera):
                next_in = _earliest(next_in, rule.patience_s - waited)
            continue
        wait = grace_s(offer.camera, candidates, rule)
        if wait is None:
            continue
        if waited >= wait:
            due.append(offer)
            waits[camera_id] = wait
        else:
            next_in = _earliest(next_in, wait - waited)
    ordered = sorted(due, key=lambda offer: (waits[offer.camera.camera_id], offer.camera.camera_id))
    return Claims(tuple(ordered), next_in)


def claim_order(free: Sequence[Offer], candidates: Sequence[Candidate], rule: ClaimRule) -> list[Offer]:
    """The free cameras ``rule.me`` should claim now, most entitled first (see :attr:`Claims.due`)."""
    return list(decide(free, candidates, rule).due)


def _earliest(current: float | None, candidate: float) -> float:
    return candidate if current is None else min(current, candidate)
