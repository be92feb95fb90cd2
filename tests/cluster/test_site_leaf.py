"""Leases on a site's own NATS leaf node survive a cut of the link to the hub.

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
