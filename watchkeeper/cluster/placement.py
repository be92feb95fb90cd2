"""Capacity-aware placement, the same on every worker: who should take which free camera.

Leader-free: every worker computes the same plan from the same bucket contents and claims only the
cameras planned for itself; compare-and-set on the lease settles any disagreement.
"""

from __future__ import annotations

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


def plan(free: Sequence[CameraSpec], candidates: Sequence[Candidate]) -> dict[CameraId, WorkerId]:
    """Place ``free`` cameras (in camera id order) on ``candidates``, least loaded first.

    Returns:
        The worker chosen for each camera that fits somewhere; cameras no worker can take are left out.
    """
    loads = {candidate.info.worker_id: candidate.load for candidate in candidates}
    placed: dict[CameraId, WorkerId] = {}
    for camera in sorted(free, key=lambda spec: spec.camera_id):
        chosen = best_worker(camera, candidates, loads)
        if chosen is not None:
            placed[camera.camera_id] = chosen
            loads[chosen] += 1
    return placed
