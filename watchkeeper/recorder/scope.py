"""Which cameras' footage a node's media folder holds, so retention and tiering touch only that footage.

One box, or workers sharing one media folder (the same NFS path everywhere), hold every camera's footage.
With several sites (``cluster.site`` and ``cluster.pin_cameras_to_sites``), each site's workers have their
own media folder holding only the footage of that site's cameras: retention and tiering on such a worker
must neither evict nor walk the index rows of another site's footage, whose files are simply not here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.cluster import ClusterConfig
from watchkeeper.domain import CameraId


@dataclass(frozen=True, slots=True)
class FootageScope:
    """The cameras whose footage this node is responsible for (``cameras`` None: every camera)."""

    cameras: frozenset[CameraId] | None = None
    site: str | None = None

    @classmethod
    def of(cls, cluster: ClusterConfig, cameras: Iterable[CameraConfig]) -> FootageScope:
        """The scope of a camera-running node: its site's cameras when cameras are pinned to sites.

        With ``pin_cameras_to_sites`` and leased workers, a worker only ever records the cameras of its own
        ``cluster.site`` (none without a site), so its media folder holds only theirs. Otherwise (one box,
        local leases, or unpinned workers sharing one media folder) every camera's footage is here.
        """
        if cluster.leases != "nats" or not cluster.pin_cameras_to_sites:
            return cls()
        own = frozenset(CameraId(camera.id) for camera in cameras if camera.site == cluster.site)
        return cls(cameras=own, site=cluster.site)

    @property
    def everything(self) -> bool:
        """True when this node is responsible for every camera's footage."""
        return self.cameras is None

    def covers(self, camera_id: CameraId) -> bool:
        """True when ``camera_id``'s footage is this node's to keep, move and delete."""
        return self.cameras is None or camera_id in self.cameras

    def describe(self) -> str:
        """One line for the log."""
        if self.cameras is None:
            return "every camera"
        return f"the {len(self.cameras)} camera(s) of site {self.site or '(none)'}"
