"""Which cameras' footage a node's media folder holds, so retention and tiering touch only that footage.

One box, or workers sharing one media folder (the same NFS path everywhere), hold every camera's footage.
With several sites (``cluster.site`` and ``cluster.pin_cameras_to_sites``), each site's workers have their
own media folder holding only the footage of that site's cameras: retention and tiering on such a worker
must neither evict nor walk the index rows of another site's footage, whose files are simply not here.

A camera removed from the configuration belongs to no site any more; its footage still expires where it is:
:meth:`FootageScope.resolved` adds each indexed camera that is not configured and whose folder
``<media_root>/<camera_id>/`` exists on this node.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.cluster import ClusterConfig
from watchkeeper.domain import CameraId
from watchkeeper.storage.protocols import RetentionRepository


@dataclass(frozen=True, slots=True)
class FootageScope:
    """The cameras whose footage this node is responsible for (``cameras`` None: every camera).

    ``configured``: every camera of the configuration, of any site (a camera outside it is no site's).
    """

    cameras: frozenset[CameraId] | None = None
    site: str | None = None
    configured: frozenset[CameraId] = frozenset()

    @classmethod
    def of(cls, cluster: ClusterConfig, cameras: Iterable[CameraConfig]) -> FootageScope:
        """The scope of a camera-running node: its site's cameras when cameras are pinned to sites.

        With ``pin_cameras_to_sites`` and leased workers, a worker only ever records the cameras of its own
        ``cluster.site`` (none without a site), so its media folder holds only theirs. Otherwise (one box,
        local leases, or unpinned workers sharing one media folder) every camera's footage is here.
        """
        if cluster.leases != "nats" or not cluster.pin_cameras_to_sites:
            return cls()
        listed = list(cameras)
        own = frozenset(CameraId(camera.id) for camera in listed if camera.site == cluster.site)
        return cls(cameras=own, site=cluster.site, configured=frozenset(CameraId(c.id) for c in listed))

    def resolved(self, index: RetentionRepository, media_root: Path) -> FootageScope:
        """This scope plus the indexed cameras no longer configured whose footage is here (for one pass).

        Such a camera is covered when its folder ``<media_root>/<camera_id>/`` exists on this node: its day
        rules (the defaults), the quotas and tiering go on for it. The everything-scope is returned as it is
        (without reading the index).

        Raises:
            WatchkeeperError: If the index cannot be read.
        """
        if self.cameras is None:
            return self
        extra = {
            camera_id
            for camera_id in index.camera_ids()
            if camera_id not in self.configured
            and camera_id not in self.cameras
            and _own_folder(media_root, camera_id)
        }
        return replace(self, cameras=self.cameras | extra) if extra else self

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


def _own_folder(media_root: Path, camera_id: CameraId) -> bool:
    """True when ``<media_root>/<camera_id>/`` is a folder here (never for names that are not one level)."""
    name = str(camera_id)
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        return False
    try:
        return (media_root / name).is_dir()
    except OSError:
        return False
