"""Leases on a site's own NATS leaf node survive a cut of the link to the hub; the hub reads them all.

Two real nats-servers of the test: a hub (JetStream domain ``hub``, accepting leaf connections) and a site
leaf (JetStream domain ``site1``, a leaf remote to the hub). A worker connected to the leaf keeps its leases
(same tokens, no loss) while the hub is down, because its lease bucket lives in the leaf's own JetStream;
a tool at the hub reads that bucket through the site's domain (``$JS.site1.API``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats
import pytest

from tests.cluster.lease_support import FAST, cameras, free_port, lease_cluster
from tests.support.nats_sites import hub_server, leaf_server, require_nats_server
from tests.support.nats_sites import wait_linked as _linked
from watchkeeper.cluster.errors import ClusterError, ClusterUnavailableError, UnknownWorkerError
from watchkeeper.cluster.model import WorkerId
from watchkeeper.cluster.nats.bucket import BucketSettings
from watchkeeper.cluster.nats.sites import SitesClusterControl
from watchkeeper.cluster.records import LEASE_PREFIX


@pytest.mark.timeout(120)
async def test_leases_on_a_site_leaf_survive_a_cut_of_the_hub(tmp_path: Path) -> None:
    require_nats_server()
    leaf_port = free_port()
    hub = hub_server(tmp_path / "hub", leaf_port)
    leaf = leaf_server(tmp_path / "leaf", leaf_port)
    hub.start()
    leaf.start()
    try:
        await _linked(hub, leaf)
        async with lease_cluster(url=leaf.url) as cluster:
            worker = await cluster.spawn("w1", cameras("s-1", "s-2"))
            await cluster.wait_until(lambda: len(worker.holds()) == 2, what="two held")
            tokens = dict(worker.leases.held())
            bucket = cluster.settings.bucket
            # A tool at the hub reads the site's bucket through the site's JetStream domain.
            at_hub = await nats.connect(hub.url)
            try:
                site_kv = await at_hub.jetstream(domain="site1").key_value(bucket)
                keys = await site_kv.keys()
                assert {f"{LEASE_PREFIX}s-1", f"{LEASE_PREFIX}s-2"} <= set(keys), keys
            finally:
                await at_hub.close()

            hub.stop()
            until = time.monotonic() + 3 * FAST.lease_timeout_s
            while time.monotonic() < until:
                assert dict(worker.leases.held()) == tokens, "a lease changed while the hub was away"
                await asyncio.sleep(0.1)
            assert worker.lost() == []
            hub.start()
            await _linked(hub, leaf)
            await asyncio.sleep(FAST.lease_timeout_s)
            assert dict(worker.leases.held()) == tokens
            assert worker.lost() == []
    finally:
        leaf.stop()
        hub.stop()


@pytest.mark.timeout(120)
async def test_the_hub_reads_every_site_lease_bucket_through_its_domain(tmp_path: Path) -> None:
    require_nats_server()
    leaf_port = free_port()
    hub = hub_server(tmp_path / "hub", leaf_port)
    site1 = leaf_server(tmp_path / "site1", leaf_port, "site1")
    site2 = leaf_server(tmp_path / "site2", leaf_port, "site2")
    for server in (hub, site1, site2):
        server.start()
    try:
        await _linked(hub, site1)
        await _linked(hub, site2)
        async with lease_cluster(url=site1.url) as one, lease_cluster(url=site2.url) as two:
            w1 = await one.spawn("w1", cameras("a-1", "a-2"))
            w2 = await two.spawn("w2", cameras("b-1"))
            await one.wait_until(lambda: len(w1.holds()) == 2, what="two held at site1")
            await two.wait_until(lambda: len(w2.holds()) == 1, what="one held at site2")
            buckets = [
                BucketSettings(hub.url, one.settings.bucket, request_timeout_s=1.0, domain="site1"),
                BucketSettings(hub.url, two.settings.bucket, request_timeout_s=1.0, domain="site2"),
            ]
            control = await SitesClusterControl.open(buckets, FAST.lease_timeout_s)
            try:
                status = await control.status()
                assert [worker.info.worker_id for worker in status.workers] == ["w1", "w2"]
                assert {lease.camera_id: lease.owner for lease in status.leases} == {
                    "a-1": "w1",
                    "a-2": "w1",
                    "b-1": "w2",
                }
                with pytest.raises(ClusterError, match="worker 'w2' is at site site2: drain it"):
                    await control.drain(WorkerId("w2"))
                with pytest.raises(UnknownWorkerError, match=r"no site \(site1, site2\) has a worker 'w9'"):
                    await control.drain(WorkerId("w9"))

                site2.stop()  # the hub cannot tell a cut-off site from a dead one: it says so, naming it
                status = await control.status()
                assert [site.domain for site in status.unreachable] == ["site2"]
                assert "domain site2" in status.unreachable[0].reason
                assert {lease.camera_id for lease in status.leases} == {"a-1", "a-2"}  # site1 still read
                assert [worker.info.worker_id for worker in status.workers] == ["w1"]

                # A hub starting while site2 is away still reads site1, and picks site2 up later.
                late = await SitesClusterControl.open(buckets, FAST.lease_timeout_s)
                try:
                    assert [site.domain for site in (await late.status()).unreachable] == ["site2"]
                    site1.stop()
                    with pytest.raises(ClusterUnavailableError, match="site site1"):
                        await late.status()  # no site answers at all
                    site1.start()
                    site2.start()
                    await _linked(hub, site1)
                    await _linked(hub, site2)
                    await one.wait_until(lambda: len(w1.holds()) == 2, what="site1's worker back")
                    await two.wait_until(lambda: len(w2.holds()) == 1, what="site2's worker back")
                    deadline = time.monotonic() + 15
                    while True:
                        status = await late.status()
                        if not status.unreachable and len(status.leases) == 3:
                            break
                        assert time.monotonic() < deadline, f"sites never all readable again: {status}"
                        await asyncio.sleep(0.2)
                finally:
                    await late.close()
            finally:
                await control.close()

            missing = BucketSettings(hub.url, "no_such_bucket", request_timeout_s=1.0, domain="site1")
            with pytest.raises(
                ClusterError, match="no lease bucket no_such_bucket in JetStream domain site1"
            ):
                await SitesClusterControl.open([missing], FAST.lease_timeout_s)
            # A site whose workers never started (no bucket there yet) does not hide the others.
            empty_site = BucketSettings(hub.url, "no_such_bucket", request_timeout_s=1.0, domain="site2")
            partial = await SitesClusterControl.open([buckets[0], empty_site], FAST.lease_timeout_s)
            try:
                status = await partial.status()
                assert {lease.camera_id for lease in status.leases} == {"a-1", "a-2"}
                assert [site.domain for site in status.unreachable] == ["site2"]
                assert "no lease bucket no_such_bucket" in status.unreachable[0].reason
            finally:
                await partial.close()
    finally:
        for server in (site2, site1, hub):
            server.stop()
