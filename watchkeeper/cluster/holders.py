"""Which cameras no live worker holds, as an observer of the lease status sees it (pure, no I/O).

An API node reads the cluster status every so often and feeds it here. A lease counts as held while its
owner keeps renewing it: the observer notes when it first saw each lease's current ``(owner, token,
renewed_at)`` on its own monotonic clock, and a lease that stood still for ``timeout_s`` has expired (the
same rule the workers use; no other host's clock is compared with this one's). A camera without a live
lease for a further ``timeout_s`` (time for another worker to take it over) is reported once as unheld,
until it is held again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from watchkeeper.cluster.model import ClusterStatus, FencingToken, LeaseState, WorkerId
from watchkeeper.domain import CameraId


@dataclass(frozen=True, slots=True)
class Unheld:
    """A camera no live worker has held for a lease timeout after its lease ended.

    Attributes:
        camera_id: The camera.
        last_owner: The worker that held it last, if any.
        last_renewed: When that worker last renewed the lease (its clock), if known: when the camera was last
            known to be recorded.
    """

    camera_id: CameraId
    last_owner: WorkerId | None
    last_renewed: datetime | None


@dataclass(frozen=True, slots=True)
class _Mark:
    owner: WorkerId | None
    token: FencingToken
    renewed_at: datetime | None

    @classmethod
    def of(cls, lease: LeaseState | None) -> _Mark | None:
        return None if lease is None else cls(lease.owner, lease.token, lease.renewed_at)


@dataclass(frozen=True, slots=True)
class _Seen:
    mark: _Mark | None
    at: float
    """Monotonic time this observer first saw ``mark``."""


class HolderTracker:
    """Turns a series of cluster statuses into "camera X has no live holder" reports (not thread-safe)."""

    def __init__(self, cameras: Iterable[CameraId], timeout_s: float) -> None:
        """Watch ``cameras``; ``timeout_s`` is the cluster's lease timeout."""
        self._cameras = frozenset(cameras)
        self._timeout_s = timeout_s
        self._domains: Mapping[CameraId, str] = {}
        self._seen: dict[CameraId, _Seen] = {}
        self._free_since: dict[CameraId, float] = {}
        self._reported: set[CameraId] = set()

    @property
    def unheld(self) -> frozenset[CameraId]:
        """Cameras reported unheld and not held again since."""
        return frozenset(self._reported)

    def observe(self, status: ClusterStatus, now: float) -> list[Unheld]:
        """Take in ``status`` read at ``now`` (monotonic); returns the cameras that just became unheld.

        While a site's bucket is unreachable (``status.unreachable``), a camera of that site (see
        :meth:`set_domains`; a camera of unknown site counts as maybe there) without a lease in the buckets
        that were read may be held there: it is not judged, and its timers start again from this read.
        """
        leases = {lease.camera_id: lease for lease in status.leases}
        found: list[Unheld] = []
        for camera_id in sorted(self._cameras):
            lease = leases.get(camera_id)
            if lease is None and self._maybe_away(camera_id, status):
                self._pause(camera_id, now)
                continue
            seen = self._see(camera_id, _Mark.of(lease), now)
            if seen.mark is not None and seen.mark.owner is not None and now - seen.at < self._timeout_s:
                self._free_since.pop(camera_id, None)
                self._reported.discard(camera_id)
                continue
            expired = seen.mark is not None and seen.mark.owner is not None
            free_since = self._free_since.setdefault(camera_id, seen.at + (self._timeout_s if expired else 0))
            if camera_id in self._reported or now - free_since < self._timeout_s:
                continue
            self._reported.add(camera_id)
            found.append(
                Unheld(
                    camera_id,
                    lease.owner if lease is not None else None,
                    seen.mark.renewed_at if seen.mark is not None else None,
                )
            )
        return found

    def set_cameras(self, cameras: Iterable[CameraId]) -> None:
        """Watch ``cameras`` from now on (a configuration edit); what was seen of the others is forgotten."""
        self._cameras = frozenset(cameras)
        for kept in (self._seen, self._free_since):
            for camera_id in [c for c in kept if c not in self._cameras]:
                del kept[camera_id]
        self._reported &= self._cameras

    def retry(self, camera_id: CameraId) -> None:
        """Report ``camera_id`` again at the next observation if it is still unheld (its report was lost)."""
        self._reported.discard(camera_id)

    def set_domains(self, domains: Mapping[CameraId, str]) -> None:
        """The JetStream domain of each camera's site (hub nodes reading several sites; others: empty)."""
        self._domains = dict(domains)

    def _maybe_away(self, camera_id: CameraId, status: ClusterStatus) -> bool:
        if not status.unreachable:
            return False
        domain = self._domains.get(camera_id)
        return domain is None or any(site.domain == domain for site in status.unreachable)

    def _pause(self, camera_id: CameraId, now: float) -> None:
        """Judge ``camera_id`` afresh from ``now`` on (its holder cannot be read now)."""
        seen = self._seen.get(camera_id)
        if seen is not None:
            self._seen[camera_id] = _Seen(seen.mark, now)
        self._free_since.pop(camera_id, None)

    def _see(self, camera_id: CameraId, mark: _Mark | None, now: float) -> _Seen:
        seen = self._seen.get(camera_id)
        if seen is None or seen.mark != mark:
            seen = self._seen[camera_id] = _Seen(mark, now)
        return seen
