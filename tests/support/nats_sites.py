"""Real nats-servers for multi-site tests: a hub (JetStream domain ``hub``) and a site leaf node.

The leaf's remote to the hub goes through a :class:`TcpLink` that a test closes and reopens (a WAN cut). The
hub *advertises* the link's address to its leaf connections: without that, a leaf that lost its connection
reconnects to the hub's real leaf port (learnt from the hub's INFO) and the cut would not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors
import pytest

from tests.cluster.nats_support import NATS_SERVER, ConfiguredNats
from tests.conftest import free_port
from tests.support.tcp_link import TcpLink
from watchkeeper.bus.messages import BusMessage
from watchkeeper.bus.protocol import Subscription


def require_nats_server() -> None:
    """Skip (or fail in CI, through the usual service rule) when the nats-server binary is missing."""
    if not Path(NATS_SERVER).exists():
        pytest.skip(f"{NATS_SERVER} is not installed")


def hub_server(folder: Path, leaf_port: int, advertise_port: int | None = None) -> ConfiguredNats:
    """A hub, JetStream domain ``hub``, leaf connections on ``leaf_port`` (advertised: ``advertise_port``)."""
    advertise = f'advertise: "127.0.0.1:{advertise_port}", ' if advertise_port else ""
    port = free_port()
    text = (
        f"listen: 127.0.0.1:{port}\nserver_name: hub\n"
        f'jetstream {{ store_dir: "{folder / "js"}", domain: hub }}\n'
        f"leafnodes {{ {advertise}listen: 127.0.0.1:{leaf_port} }}\n"
    )
    return ConfiguredNats(folder, text, port)


def leaf_server(folder: Path, hub_port: int, domain: str = "site1") -> ConfiguredNats:
    """A site leaf: JetStream domain ``domain``, one leaf remote to ``127.0.0.1:hub_port``."""
    port = free_port()
    text = (
        f"listen: 127.0.0.1:{port}\nserver_name: {domain}\n"
        f'jetstream {{ store_dir: "{folder / "js"}", domain: {domain} }}\n'
        f'leafnodes {{ remotes: [ {{ url: "nats-leaf://127.0.0.1:{hub_port}" }} ] }}\n'
    )
    return ConfiguredNats(folder, text, port)


async def wait_linked(hub: ConfiguredNats, leaf: ConfiguredNats, timeout_s: float = 15.0) -> None:
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


@dataclass
class SiteLink:
    """A hub and one site leaf whose link goes through ``link`` (close it to cut the site off)."""

    hub: ConfiguredNats
    leaf: ConfiguredNats
    link: TcpLink


@contextlib.contextmanager
def hub_and_site(folder: Path, domain: str = "site1") -> Iterator[SiteLink]:
    """Start a hub and a site leaf linked through a TCP hop; stop both afterwards."""
    require_nats_server()
    hub_leaf_port = free_port()
    with TcpLink(hub_leaf_port) as link:
        hub = hub_server(folder / "hub", hub_leaf_port, advertise_port=link.port)
        leaf = leaf_server(folder / domain, link.port, domain)
        hub.start()
        try:
            leaf.start()
            try:
                yield SiteLink(hub, leaf, link)
            finally:
                leaf.stop()
        finally:
            hub.stop()


class Drain:
    """Collects a subscription's messages in a background task (so no fetch is ever cancelled midway)."""

    def __init__(self, subscription: Subscription) -> None:
        """Start collecting from ``subscription``."""
        self.messages: list[BusMessage] = []
        self._subscription = subscription
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for message in self._subscription:
            self.messages.append(message)

    async def wait_for(self, count: int, timeout_s: float = 20.0) -> None:
        """Wait until at least ``count`` messages arrived."""
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} of {count} messages arrived"
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        """Close the subscription and wait for the collector."""
        await self._subscription.close()
        await asyncio.wait_for(self._task, 10)
