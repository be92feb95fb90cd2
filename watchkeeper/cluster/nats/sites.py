"""``SitesClusterControl``: the hub's view of every site's lease bucket, each in its site's JetStream domain.

With a leaf nats-server per site, each site's workers keep their heartbeats and leases in a bucket of the
site's own JetStream domain (so a cut of the link to the hub changes nothing at the site). A hub node reads
each of those buckets through ``jetstream(domain=...)`` and merges them into one cluster status.

A site whose bucket cannot be read makes :meth:`SitesClusterControl.status` fail, naming the site, rather
than report that site's cameras as unheld: the hub cannot tell a site that is cut off from one whose workers
died. Draining is done at the site (a bucket in another domain is read-only from here: nats-py writes
key-value records on ``$KV.<bucket>.<key>``, which has no domain-prefixed form).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from watchkeeper.cluster.errors import ClusterError, ClusterUnavailableError, UnknownWorkerError
from watchkeeper.cluster.model import ClusterStatus, WorkerId
from watchkeeper.cluster.nats.bucket import BucketSettings
from watchkeeper.cluster.nats.control import NatsClusterControl


@dataclass(frozen=True, slots=True)
class SiteControl:
    """One site's lease bucket, open."""

    domain: str
    control: NatsClusterControl


class SitesClusterControl:
    """Reads every site's lease bucket and merges them (workers and leases of all sites)."""

    def __init__(self, sites: tuple[SiteControl, ...], poll_s: float = 0.25) -> None:
        """Use the open ``sites``; see :meth:`open`."""
        self._sites = sites
        self._poll_s = poll_s

    @classmethod
    async def open(cls, buckets: list[BucketSettings], lease_timeout_s: float) -> SitesClusterControl:
        """Open the bucket of each site (every entry of ``buckets`` names its ``domain``).

        Raises:
            ClusterError: when an entry has no domain, or a site's bucket does not exist.
            ClusterUnavailableError: when NATS or a site cannot be reached.
        """
        missing = [settings.bucket for settings in buckets if settings.domain is None]
        if missing:
            raise ClusterError(f"lease bucket {missing[0]}: a site's bucket needs its JetStream domain")
        opened: list[SiteControl] = []
        try:
            for settings in buckets:
                domain = settings.domain or ""
                try:
                    control = await NatsClusterControl.open(settings, lease_timeout_s)
                except ClusterError as err:
                    raise type(err)(f"site {domain}: {err}") from err
                opened.append(SiteControl(domain, control))
        except BaseException:
            for site in opened:
                await site.control.close()
            raise
        return cls(tuple(opened))

    async def status(self) -> ClusterStatus:
        """Every site's workers and leases now, merged (sorted by worker id and by camera id).

        Raises:
            ClusterUnavailableError: naming the first site whose bucket did not answer.
        """
        results = await asyncio.gather(
            *(site.control.status() for site in self._sites), return_exceptions=True
        )
        statuses: list[ClusterStatus] = []
        for site, result in zip(self._sites, results, strict=True):
            if isinstance(result, ClusterError):
                raise ClusterUnavailableError(f"site {site.domain}: {result}") from result
            if isinstance(result, BaseException):
                raise result
            statuses.append(result)
        if not statuses:
            raise ClusterError("no site lease bucket to read (storage.bus.sources is empty)")
        return ClusterStatus(
            at=max(status.at for status in statuses),
            workers=tuple(
                sorted((w for s in statuses for w in s.workers), key=lambda worker: worker.info.worker_id)
            ),
            leases=tuple(sorted((lease for s in statuses for lease in s.leases), key=lambda x: x.camera_id)),
        )

    async def drain(self, worker_id: WorkerId) -> None:
        """Refuse: a site's bucket is written at the site.

        Raises:
            ClusterError: naming the site of ``worker_id``.
            UnknownWorkerError: when no site has a worker of that id.
        """
        raise ClusterError(await self._refusal(worker_id, "drain"))

    async def undrain(self, worker_id: WorkerId) -> None:
        """Refuse, as :meth:`drain`.

        Raises:
            ClusterError: naming the site of ``worker_id``.
            UnknownWorkerError: when no site has a worker of that id.
        """
        raise ClusterError(await self._refusal(worker_id, "undrain"))

    async def wait_drained(self, worker_id: WorkerId, timeout_s: float) -> ClusterStatus:
        """Wait until ``worker_id`` holds no camera or is gone (a drain started at its site).

        Raises:
            TimeoutError: when it still holds cameras after ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            status = await self.status()
            worker = status.worker(worker_id)
            if worker is None or not worker.alive or not worker.cameras:
                return status
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"worker {worker_id!r} still holds {len(worker.cameras)} camera(s) after {timeout_s:g} s"
                )
            await asyncio.sleep(self._poll_s)

    async def close(self) -> None:
        """Close every site's connection (idempotent)."""
        for site in self._sites:
            await site.control.close()

    async def _refusal(self, worker_id: WorkerId, verb: str) -> str:
        for site in self._sites:
            if (await site.control.status()).worker(worker_id) is not None:
                return (
                    f"worker {worker_id!r} is at site {site.domain}: {verb} it with that site's "
                    "configuration (a node on the site's leaf); the hub only reads site lease buckets"
                )
        domains = ", ".join(site.domain for site in self._sites)
        raise UnknownWorkerError(f"no site ({domains}) has a worker {worker_id!r}")
