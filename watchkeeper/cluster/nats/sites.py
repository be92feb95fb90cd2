"""``SitesClusterControl``: the hub's view of every site's lease bucket, each in its site's JetStream domain.

With a leaf nats-server per site, each site's workers keep their heartbeats and leases in a bucket of the
site's own JetStream domain (so a cut of the link to the hub changes nothing at the site). A hub node reads
each of those buckets through ``jetstream(domain=...)`` and merges them into one cluster status.

A site whose bucket cannot be read is listed in the status's ``unreachable`` sites, rather than its cameras
reported as unheld: the hub cannot tell a site that is cut off from one whose workers died. The other sites
are read as usual; only when no site answers does :meth:`SitesClusterControl.status` fail. Draining is done
at the site (a bucket in another domain is read-only from here: nats-py writes
key-value records on ``$KV.<bucket>.<key>``, which has no domain-prefixed form).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from watchkeeper.cluster.errors import ClusterError, ClusterUnavailableError, UnknownWorkerError
from watchkeeper.cluster.model import ClusterStatus, UnreachableSite, WorkerId
from watchkeeper.cluster.nats.bucket import BucketSettings
from watchkeeper.cluster.nats.control import NatsClusterControl, wait_until_drained


@dataclass(slots=True)
class SiteControl:
    """One site's lease bucket: open once it answered (``control``), else retried at the next read."""

    settings: BucketSettings
    control: NatsClusterControl | None = None

    @property
    def domain(self) -> str:
        """The site's JetStream domain."""
        return self.settings.domain or ""

    async def read(self, lease_timeout_s: float) -> ClusterStatus:
        """The site's workers and leases now (opening the bucket first if it never answered).

        Raises:
            ClusterError: when the bucket cannot be opened or read.
        """
        if self.control is None:
            self.control = await NatsClusterControl.open(self.settings, lease_timeout_s)
        return await self.control.status()

    async def close(self) -> None:
        """Close the connection, if open."""
        control, self.control = self.control, None
        if control is not None:
            await control.close()


class SitesClusterControl:
    """Reads every site's lease bucket and merges them (workers and leases of all sites)."""

    def __init__(self, sites: tuple[SiteControl, ...], lease_timeout_s: float, poll_s: float = 0.25) -> None:
        """Use ``sites``; see :meth:`open`."""
        self._sites = sites
        self._lease_timeout_s = lease_timeout_s
        self._poll_s = poll_s

    @classmethod
    async def open(cls, buckets: list[BucketSettings], lease_timeout_s: float) -> SitesClusterControl:
        """Open the bucket of each site (every entry of ``buckets`` names its ``domain``).

        A site that cannot be reached now is opened at a later read (a hub that starts while a site's link
        is down still serves the other sites).

        Raises:
            ClusterError: when an entry has no domain.
            ClusterUnavailableError: when no site can be read at all.
        """
        missing = [settings.bucket for settings in buckets if settings.domain is None]
        if missing:
            raise ClusterError(f"lease bucket {missing[0]}: a site's bucket needs its JetStream domain")
        sites = tuple(SiteControl(settings) for settings in buckets)
        control = cls(sites, lease_timeout_s)
        try:
            await control.status()
        except BaseException:
            await control.close()
            raise
        return control

    async def status(self) -> ClusterStatus:
        """Every readable site's workers and leases now, merged (sorted by worker id and by camera id).

        A site whose bucket does not answer is listed in ``unreachable`` with the reason, rather than its
        cameras reported as unheld: the hub cannot tell a site that is cut off from one whose workers died.

        Raises:
            ClusterUnavailableError: when no site can be read (naming the first, with its reason).
        """
        results = await asyncio.gather(
            *(site.read(self._lease_timeout_s) for site in self._sites), return_exceptions=True
        )
        statuses: list[ClusterStatus] = []
        unreachable: list[UnreachableSite] = []
        for site, result in zip(self._sites, results, strict=True):
            if isinstance(result, ClusterError):
                # Unreachable, or no bucket there yet (no worker of that site has started): either way the
                # other sites are still read, and this one is tried again at the next read.
                await site.close()
                unreachable.append(UnreachableSite(site.domain, str(result)))
            elif isinstance(result, BaseException):
                raise result
            else:
                statuses.append(result)
        if not self._sites:
            raise ClusterError("no site lease bucket to read (storage.bus.sources is empty)")
        if not statuses:
            first = unreachable[0]
            raise ClusterUnavailableError(f"site {first.domain}: {first.reason}")
        return ClusterStatus(
            at=max(status.at for status in statuses),
            workers=tuple(
                sorted((w for s in statuses for w in s.workers), key=lambda worker: worker.info.worker_id)
            ),
            leases=tuple(sorted((lease for s in statuses for lease in s.leases), key=lambda x: x.camera_id)),
            unreachable=tuple(unreachable),
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
        return await wait_until_drained(self.status, worker_id, timeout_s, self._poll_s)

    async def close(self) -> None:
        """Close every site's connection (idempotent)."""
        for site in self._sites:
            await site.close()

    async def _refusal(self, worker_id: WorkerId, verb: str) -> str:
        for site in self._sites:
            if (await site.read(self._lease_timeout_s)).worker(worker_id) is not None:
                return (
                    f"worker {worker_id!r} is at site {site.domain}: {verb} it with that site's "
                    "configuration (a node on the site's leaf); the hub only reads site lease buckets"
                )
        domains = ", ".join(site.domain for site in self._sites)
        raise UnknownWorkerError(f"no site ({domains}) has a worker {worker_id!r}")
