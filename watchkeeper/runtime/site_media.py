"""The hub API reads another site's hot footage from a live worker of that site (issue 10, several sites).

With per-site media folders, a hot segment's file is in the media folder of the site that recorded it. An
API node whose own folder lacks the file asks a live worker of the camera's site for it over that worker's
HTTP port (a signed link, ``media.signing``). :class:`SiteDirectory` keeps the list of live workers and the
URLs they advertise in their heartbeats (``cluster.http_url``), read from the lease bucket every half lease
timeout, and hands :class:`~watchkeeper.media.protocol.SegmentFiles` a store for each such segment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from watchkeeper.cluster.model import ClusterStatus
from watchkeeper.cluster.protocol import ClusterControl
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import CameraId, Segment
from watchkeeper.media.protocol import SiteUnavailableError
from watchkeeper.media.remote import SiteSegmentStore, WorkerSegmentStore
from watchkeeper.runtime.lease_poller import LeasePoller, PollerSettings

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 10.0
"""Connect and read timeout of one request to a site worker."""


@dataclass(frozen=True, slots=True)
class _Seen:
    """The cluster status last read, and when (monotonic seconds)."""

    status: ClusterStatus
    at: float


class SiteDirectory:
    """Live workers of each site and their HTTP URLs, for reading other sites' hot segment files."""

    def __init__(
        self,
        config: WatchkeeperConfig,
        open_control: Callable[[], Awaitable[ClusterControl]],
        client: httpx.Client | None = None,
    ) -> None:
        """Prepare; :meth:`start` begins reading the lease bucket (``cluster.media_secret`` must be set).

        Raises:
            ValueError: ``cluster.media_secret`` is not set.
        """
        secret = config.cluster.media_secret
        if secret is None:
            raise ValueError("cluster.media_secret is not set")
        self._secret = secret.get_secret_value()
        self._pinned = config.cluster.pin_cameras_to_sites
        self._sites = {CameraId(camera.id): camera.site for camera in config.cameras}
        self._poll_s = config.cluster.lease_timeout_s / 2
        self._stale_s = config.cluster.lease_timeout_s * 3
        self._client = client if client is not None else httpx.Client(timeout=FETCH_TIMEOUT_S)
        self._lock = threading.Lock()
        self._seen: _Seen | None = None
        self._poller = LeasePoller(
            open_control,
            self._take,
            PollerSettings(self._poll_s, "site-directory", "other sites' hot footage may not play"),
        )

    def set_cameras(self, config: WatchkeeperConfig) -> None:
        """Take the cameras' sites of an edited configuration (a camera added, or moved to another site)."""
        sites = {CameraId(camera.id): camera.site for camera in config.cameras}
        with self._lock:
            self._sites = sites

    async def start(self) -> None:
        """Start reading the lease bucket (in the background: never fails)."""
        await self._poller.start()

    async def stop(self) -> None:
        """Stop reading and close the connections."""
        await self._poller.stop()
        self._client.close()

    async def refresh(self) -> None:
        """Read the lease bucket once (a failure keeps the last list until it goes stale)."""
        await self._poller.read_once()

    async def _take(self, status: ClusterStatus) -> None:
        with self._lock:
            self._seen = _Seen(status, time.monotonic())

    def store_for(self, segment: Segment) -> SiteSegmentStore:
        """The media folders of the live workers that may hold ``segment`` (its lease holder first).

        Raises:
            SiteUnavailableError: No live worker of the camera's site advertises an HTTP URL now.
        """
        with self._lock:
            site = self._sites.get(segment.camera_id)
        where = f"site {site}" if self._pinned and site is not None else "a worker"
        with self._lock:
            seen = self._seen
        if seen is None or time.monotonic() - seen.at > self._stale_s:
            raise SiteUnavailableError(
                f"segment {segment.id} of camera {segment.camera_id} is in the media folder of {where}, and "
                "the list of live workers cannot be read now (the lease server does not answer)"
            )
        urls = self._candidates(seen.status, segment.camera_id, site)
        if not urls:
            raise SiteUnavailableError(
                f"segment {segment.id} of camera {segment.camera_id} is in the media folder of {where}, and "
                "no worker there is reachable now (site link down or its workers stopped); it plays again "
                "when the site is back, or once it has moved to the warm tier"
            )
        stores = [WorkerSegmentStore(url, self._secret, self._client) for url in urls]
        return SiteSegmentStore(site or "-", stores)

    def _candidates(self, status: ClusterStatus, camera_id: CameraId, site: str | None) -> list[str]:
        """URLs of the live workers that may hold the camera's footage, the camera's holder first."""
        holder = next((lease.owner for lease in status.leases if lease.camera_id == camera_id), None)
        ranked = sorted(status.workers, key=lambda worker: worker.info.worker_id != holder)
        urls = []
        for worker in ranked:
            info = worker.info
            if not worker.alive or info.http_url is None:
                continue
            if self._pinned and info.site != site:
                continue
            urls.append(info.http_url)
        return urls
