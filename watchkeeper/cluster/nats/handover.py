"""The draining side of a handover: one camera at a time, to the least loaded worker that serves it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from watchkeeper.cluster.model import CameraSpec, WorkerId
from watchkeeper.cluster.placement import Candidate, best_worker
from watchkeeper.domain import CameraId


@dataclass(frozen=True, slots=True)
class Pending:
    """A handover in flight: ``camera_id`` is offered to ``target`` since ``since`` (monotonic)."""

    camera_id: CameraId
    target: WorkerId
    since: float


@dataclass(frozen=True, slots=True)
class Choice:
    """The next camera to hand over and where to."""

    camera_id: CameraId
    target: WorkerId


class Handover:
    """At most one camera of a draining worker offered to another worker at a time."""

    def __init__(self) -> None:
        """Start with nothing in flight."""
        self.current: Pending | None = None

    def target_for(self, camera_id: CameraId) -> WorkerId | None:
        """The worker ``camera_id`` is being handed to, if it is the one in flight."""
        if self.current is None or self.current.camera_id != camera_id:
            return None
        return self.current.target

    def begin(self, camera_id: CameraId, target: WorkerId, now: float) -> None:
        """Offer ``camera_id`` to ``target`` from ``now``."""
        self.current = Pending(camera_id, target, now)

    def overdue(self, now: float, timeout_s: float) -> bool:
        """Whether the handover in flight has waited ``timeout_s`` without the target taking the camera."""
        return self.current is not None and now - self.current.since >= timeout_s

    def clear(self) -> None:
        """Forget the handover in flight (done, given up, or the drain was cancelled)."""
        self.current = None

    @staticmethod
    def choose(
        held: Iterable[CameraId],
        cameras: Mapping[CameraId, CameraSpec],
        candidates: Sequence[Candidate],
        me: WorkerId,
    ) -> Choice | None:
        """The first held camera (in id order) that some other live, non-draining worker can take."""
        for camera_id in held:
            spec = cameras.get(camera_id, CameraSpec(camera_id))
            target = best_worker(spec, candidates, exclude=frozenset({me}))
            if target is not None:
                return Choice(camera_id, target)
        return None
