"""On an API node: show a camera that no live worker holds as offline, and let it raise the offline alarm.

A worker that dies (or stops, or is cut off) publishes nothing more for its cameras, so the status board
would keep their last status (often ``streaming``) until another worker takes them. ``HolderWatch`` reads
the lease status every half lease timeout (``cluster.holders.HolderTracker`` judges it on this node's own
clock) and, for a camera whose lease expired (or was released) with no new holder within the lease timeout,
publishes an ``offline`` status with the reason :data:`NO_HOLDER_REASON` on the bus. Every API node's board
shows it, and the incident feed treats it like any camera going offline: after
``incidents.camera_offline_grace_s`` a camera-offline equipment alarm, closed again when a worker takes the
camera and it streams.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from watchkeeper.bus.messages import CameraStatusMessage
from watchkeeper.bus.protocol import Bus
from watchkeeper.cluster.holders import HolderTracker, Unheld
from watchkeeper.cluster.model import ClusterStatus
from watchkeeper.cluster.protocol import ClusterControl
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.storage import NatsBusConfig
from watchkeeper.domain import CameraId, CameraState, CameraStatus, WatchkeeperError, utcnow
from watchkeeper.runtime.lease_poller import LeasePoller, PollerSettings

log = logging.getLogger(__name__)

NO_HOLDER_REASON = "no worker holds this camera"


@dataclass(frozen=True, slots=True)
class HolderTiming:
    """How often the leases are read and how long one lives (``cluster.lease_timeout_s``)."""

    poll_s: float
    lease_timeout_s: float


class HolderWatch:
    """Publishes ``offline`` for cameras that no live worker holds (an API-side integration: start/stop)."""

    def __init__(
        self,
        open_control: Callable[[], Awaitable[ClusterControl]],
        bus: Bus,
        cameras: Iterable[CameraId],
        timing: HolderTiming,
        current_since: Callable[[CameraId], datetime],
    ) -> None:
        """Watch ``cameras``' leases through ``open_control()``; publish on ``bus``.

        ``current_since`` gives the ``since`` of the status this node shows now: the offline status is never
        older, so the board takes it.
        """
        self._bus = bus
        self._tracker = HolderTracker(cameras, timing.lease_timeout_s)
        self._current_since = current_since
        self._poller = LeasePoller(
            open_control,
            self._observe,
            PollerSettings(timing.poll_s, "holder-watch", "camera holders not checked"),
        )
        self._sites_away: set[str] = set()

    def set_cameras(self, cameras: Iterable[CameraId], domains: Mapping[CameraId, str] | None = None) -> None:
        """Watch ``cameras`` from now on (the enabled cameras of an edited configuration; on the loop).

        ``domains``: the JetStream domain of each camera's site (see :func:`camera_domains`), when known.
        """
        self._tracker.set_cameras(cameras)
        if domains is not None:
            self._tracker.set_domains(domains)

    async def start(self) -> None:
        """Start watching (the lease server is connected in the background: never fails)."""
        await self._poller.start()

    async def stop(self) -> None:
        """Stop watching and close the connection."""
        await self._poller.stop()

    async def _observe(self, status: ClusterStatus) -> None:
        away = {site.domain for site in status.unreachable}
        if away != self._sites_away:
            if away - self._sites_away:
                log.warning(
                    "cannot read the camera leases of site(s) %s: their cameras are not checked meanwhile",
                    ", ".join(sorted(away - self._sites_away)),
                )
            self._sites_away = away
        for unheld in self._tracker.observe(status, time.monotonic()):
            await self._announce(unheld)

    async def _announce(self, unheld: Unheld) -> None:
        camera_id = unheld.camera_id
        shown = self._current_since(camera_id)
        since = unheld.last_renewed or utcnow()
        if since <= shown:
            since = shown + timedelta(microseconds=1)
        last = f" (last held by {unheld.last_owner})" if unheld.last_owner else ""
        log.warning("camera %s: no worker holds it%s; showing it offline", camera_id, last)
        status = CameraStatus(camera_id, CameraState.OFFLINE, since, NO_HOLDER_REASON)
        try:
            await self._bus.publish(CameraStatusMessage.from_domain(status))
        except WatchkeeperError as err:
            log.warning("publishing the offline status of camera %s failed: %s", camera_id, err)
            self._tracker.retry(camera_id)


def camera_domains(config: WatchkeeperConfig) -> dict[CameraId, str]:
    """On a hub node (``storage.bus.sources``): the JetStream domain holding each camera's leases.

    A camera's ``site`` is matched with a source's site token (``site``, else its ``domain``); cameras
    without a site, or of a site no source names, are left out (their site is unknown).
    """
    bus = config.storage.bus
    if not isinstance(bus, NatsBusConfig) or not bus.sources:
        return {}
    by_site = {source.site_token: source.domain for source in bus.sources}
    return {
        CameraId(camera.id): by_site[camera.site]
        for camera in config.cameras
        if camera.site is not None and camera.site in by_site
    }
