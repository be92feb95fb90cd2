"""Leases on a site's own NATS leaf node survive a cut of the link to the hub.

Two real nats-servers of the test: a hub (JetStream domain ``hub``, accepting leaf connections) and a site
leaf (JetStream domain ``site1``, a leaf remote to the hub). A worker connected to the leaf keeps its leases
(same tokens, no loss) while the hub is down, because its lease bucket lives in the leaf's own JetStream;
a tool at the hub reads that bucket through the site's domain (``$JS.site1.API``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import nats
import pytest

from tests.cluster.lease_support import FAST, cameras, free_port, lease_cluster
from tests.cluster.nats_support import NATS_SERVER, ConfiguredNats
from watchkeeper.cluster.records import LEASE_PREFIX

__all__ = ["NATS_SERVER", "ConfiguredNats"]  # other tests start their own hub and leaves with these


def _hub(folder: Path, leaf_port: int) -> ConfiguredNats:
    port = free_port()
    text = (
        f"listen: 127.0.0.1:{port}\nserver_name: hub\n"
        f'jetstream {{ store_dir: "{folder / "js"}", domain: hub }}\n'
        f"leafnodes {{ listen: 127.0.0.1:{leaf_port} }}\n"
    )
    return ConfiguredNats(folder, text, port)


def _leaf(folder: Path, leaf_port: int) -> ConfiguredNats:
    port = free_port()
    text = (
        f"listen: 127.0.0.1:{port}\nserver_name: site1\n"
        f'jetstream {{ store_dir: "{folder / "js"}", domain: site1 }}\n'
        f'leafnodes {{ remotes: [ {{ url: "nats-leaf://127.0.0.1:{leaf_port}" }} ] }}\n'
    )
    return ConfiguredNats(folder, text, port)


async def _linked(hub: ConfiguredNats, leaf: ConfiguredNats, timeout_s: float = 15.0) -> None:
    """Wait until a message published at the leaf reaches a subscriber at the hub (the leaf link is up)."""
    at_hub = await nats.connect(hub.url)
    at_leaf = await nats.connect(leaf.url)
    try:
        subscription = await at_hub.subscribe("wkleaf.ping")
        await at_hub.flush()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await at_leaf.publish("wkleaf.ping", b"1")
            await at_leaf.flush()
            with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
                await subscription.next_msg(timeout=0.3)
                return
        raise AssertionError("the leaf never connected to the hub")
    finally:
        await at_leaf.close()
        await at_hub.close()


@pytest.mark.timeout(120)
async def test_leases_on_a_site_leaf_survive_a_cut_of_the_hub(tmp_path: Path) -> None:
    if not Path(NATS_SERVER).exists():
        pytest.skip(f"{NATS_SERVER} is not installed")
    leaf_port = free_port()
    hub = _hub(tmp_path / "hub", leaf_port)
    leaf = _leaf(tmp_path / "leaf", leaf_port)
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
