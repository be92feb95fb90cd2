"""Capacity-aware placement, the same on every worker: who should take which free camera.

Leader-free: every worker computes the same plan from the same bucket contents and claims only the
cameras planned for itself; compare-and-set on the lease settles any disagreement.

The plan ranks the workers for each camera by rendezvous (highest-random-weight) hashing of camera and
worker id, so a camera's first choice does not depend on loads: workers that read the bucket at slightly
different moments (one has already claimed its cameras, another not yet) still agree on who takes what, and
20 workers given 1,000 free cameras at once do not all compare-and-set the same keys. A quota (the free and
held cameras spread in proportion to capacity, rounded down) keeps the spread even: a camera whose first
choice is at its quota goes to the next in its ranking below quota, else to the least loaded worker with
spare capacity.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from watchkeeper.cluster.model import CameraSpec, WorkerId, WorkerInfo
from watchkeeper.domain import CameraId


@dataclass(frozen=True, slots=True)
class Candidate:
    """A live worker as placement sees it.

    Attributes:
        info: What it advertises.
        load: Cameras it holds now.
        draining: Whether it is draining (it takes nothing).
    """

    info: WorkerInfo
    load: int
    draining: bool = False


def _rank(candidate: Candidate, load: int) -> tuple[float, int, str]:
    return (load / candidate.info.capacity, load, candidate.info.worker_id)


def best_worker(
    camera: CameraSpec,
    candidates: Iterable[Candidate],
    loads: Mapping[WorkerId, int] | None = None,
    exclude: frozenset[WorkerId] = frozenset(),
) -> WorkerId | None:
    """The least loaded non-draining worker that serves ``camera`` and has spare capacity.

    Args:
        camera: The camera to place.
        candidates: Live workers.
        loads: Loads to use instead of each candidate's own (a plan in progress).
        exclude: Workers not to pick.

    Returns:
        The chosen worker id (ties go to the smallest id), or None when none fits.
    """
    best: tuple[tuple[float, int, str], WorkerId] | None = None
    for candidate in candidates:
        worker_id = candidate.info.worker_id
        load = candidate.load if loads is None else loads.get(worker_id, candidate.load)
        if candidate.draining or worker_id in exclude or load >= candidate.info.capacity:
            continue
        if not candidate.info.serves(camera):
            continue
        rank = _rank(candidate, load)
        if best is None or rank < best[0]:
            best = (rank, worker_id)
    return None if best is None else best[1]


def rendezvous_score(camera_id: CameraId, worker_id: WorkerId) -> int:
    """The weight of ``worker_id`` for ``camera_id``: a stable hash of both, the same on every host."""
    digest = hashlib.blake2b(f"{camera_id}\n{worker_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def ranking(camera: CameraSpec, candidates: Iterable[Candidate]) -> list[WorkerId]:
    """The non-draining workers that serve ``camera``, best first by rendezvous score (ties: smaller id)."""
    serving = [c.info.worker_id for c in candidates if not c.draining and c.info.serves(camera)]
    return sorted(serving, key=lambda worker_id: (-rendezvous_score(camera.camera_id, worker_id), worker_id))


def quotas(free_count: int, candidates: Sequence[Candidate]) -> dict[WorkerId, int]:
    """Each non-draining worker's share of the held and ``free_count`` free cameras, by capacity.

    A share is rounded down and never above the worker's capacity (the remainder is placed least loaded).
    """
    taking = [c for c in candidates if not c.draining]
    total = free_count + sum(c.load for c in taking)
    room = sum(c.info.capacity for c in taking)
    return {
        c.info.worker_id: min(c.info.capacity, math.floor(total * c.info.capacity / room)) for c in taking
    }


def plan(free: Sequence[CameraSpec], candidates: Sequence[Candidate]) -> dict[CameraId, WorkerId]:
    """Place ``free`` cameras (in camera id order) on ``candidates`` by rendezvous ranking and quota.

    Each camera goes to the best ranked worker (:func:`ranking`) still under its quota (:func:`quotas`),
    else (the few left over by rounding, or pinned cameras whose site's workers are at quota) to the least
    loaded one with spare capacity (:func:`best_worker`), so the spread is one the rebalancer leaves alone.
    The plan depends only on the free cameras and the candidates with their loads, never on the order either
    is given in.

    Returns:
        The worker chosen for each camera that fits somewhere; cameras no worker can take are left out.
    """
    loads = {c.info.worker_id: c.load for c in candidates}
    share = quotas(len(free), candidates)
    placed: dict[CameraId, WorkerId] = {}
    for camera in sorted(free, key=lambda spec: spec.camera_id):
        order = [w for w in ranking(camera, candidates) if loads[w] < share[w]]
        chosen = order[0] if order else best_worker(camera, candidates, loads)
        if chosen is None:
            continue
        placed[camera.camera_id] = chosen
        loads[chosen] += 1
    return placed
