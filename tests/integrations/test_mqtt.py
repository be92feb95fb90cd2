"""MQTT bridge against the real Mosquitto: states, Home Assistant discovery, last will, broker outages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import aiomqtt
import pytest

from tests.integrations.conftest import incident_message
from tests.support.services import require_service
from watchkeeper.bus.local import LocalBus
from watchkeeper.bus.messages import CameraStatusMessage
from watchkeeper.config.integrations import MqttConfig
from watchkeeper.domain import Camera, CameraId, CameraState, Site, SiteId
from watchkeeper.domain.incidents import IncidentState
from watchkeeper.integrations.mqtt import MqttBridge
from watchkeeper.storage.protocols import Store

BROKER = ("127.0.0.1", 1883)
SITES = (Site(SiteId("site-a"), "Site A"),)
CAMERAS = (Camera(CameraId("a1"), "Gate", SiteId("site-a")),)


@pytest.fixture
def prefix() -> str:
    require_service("Mosquitto", *BROKER)
    return f"wktest-{uuid.uuid4().hex[:10]}"


def mqtt_config(prefix: str, port: int = BROKER[1], **overrides: object) -> MqttConfig:
    values = {
        "enabled": True,
        "port": port,
        "topic_prefix": prefix,
        "discovery_prefix": f"{prefix}-ha",
        "client_id": prefix,
        "retry_initial_s": 0.1,
        "retry_max_s": 0.5,
    }
    return MqttConfig.model_validate({**values, **overrides})


class Watcher:
    """Collects what the broker delivers under the test's topics (retained messages included)."""

    def __init__(self) -> None:
        self.messages: dict[str, list[str]] = {}

    def last(self, topic: str) -> str | None:
        values = self.messages.get(topic)
        return values[-1] if values else None

    async def wait(self, check: Callable[[], object], timeout: float = 8.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out; seen topics: {sorted(self.messages)}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def watching(prefix: str) -> AsyncIterator[Watcher]:
    watcher = Watcher()
    async with aiomqtt.Client(*BROKER, identifier=f"{prefix}-watcher") as client:
        await client.subscribe(f"{prefix}/#", qos=1)
        await client.subscribe(f"{prefix}-ha/#", qos=1)

        async def collect() -> None:
            async for message in client.messages:
                payload = (
                    message.payload.decode() if isinstance(message.payload, bytes) else str(message.payload)
                )
                watcher.messages.setdefault(str(message.topic), []).append(payload)

        task = asyncio.create_task(collect())
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def clear_retained(prefix: str, watcher: Watcher) -> None:
    async with aiomqtt.Client(*BROKER, identifier=f"{prefix}-cleaner") as client:
        for topic in list(watcher.messages):
            await client.publish(topic, b"", retain=True)


async def test_states_discovery_and_availability(prefix: str, store: Store) -> None:
    bus = LocalBus()
    await bus.start()
    bridge = MqttBridge(bus, mqtt_config(prefix), store.incidents, SITES, CAMERAS)
    async with watching(prefix) as watcher:
        await bridge.start()
        try:
            await watcher.wait(lambda: watcher.last(f"{prefix}/status") == "online")
            await bus.publish(
                CameraStatusMessage(
                    camera_id=CameraId("a1"), state=CameraState.STREAMING, since=datetime.now(UTC)
                )
            )
            message = incident_message(site="site-a")
            await bus.publish(message)
            await watcher.wait(lambda: watcher.last(f"{prefix}/cameras/a1/state") == "streaming")
            await watcher.wait(lambda: watcher.last(f"{prefix}/incidents/{message.incident_id}") is not None)
            await watcher.wait(lambda: watcher.last(f"{prefix}/sites/site-a/latest_incident") is not None)
        finally:
            await bridge.stop()
        await watcher.wait(lambda: watcher.last(f"{prefix}/status") == "offline")  # the last will
        await clear_retained(prefix, watcher)
    await bus.close()
    incident = json.loads(watcher.last(f"{prefix}/incidents/{message.incident_id}") or "{}")
    assert incident["incident_id"] == message.incident_id
    assert incident["state"] == "new"
    assert watcher.last(f"{prefix}/sites/site-a/open_incidents") == "0"  # counted from the store (empty)
    camera = json.loads(watcher.last(f"{prefix}-ha/sensor/{prefix}/camera_a1/config") or "{}")
    assert camera["state_topic"] == f"{prefix}/cameras/a1/state"
    assert camera["availability_topic"] == f"{prefix}/status"
    assert camera["unique_id"] == f"{prefix}_camera_a1"
    count = json.loads(watcher.last(f"{prefix}-ha/sensor/{prefix}/site_site-a_open_incidents/config") or "{}")
    assert count["state_topic"] == f"{prefix}/sites/site-a/open_incidents"
    latest = json.loads(
        watcher.last(f"{prefix}-ha/sensor/{prefix}/site_site-a_latest_incident/config") or "{}"
    )
    assert (
        latest["json_attributes_topic"] == latest["state_topic"] == f"{prefix}/sites/site-a/latest_incident"
    )


class Proxy:
    """A TCP relay in front of the broker that the test can take down and bring back."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.links: list[asyncio.StreamWriter] = []

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*BROKER)
        self.links += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self.server is not None:
            self.server.close()
            for link in self.links:
                link.close()
            self.links.clear()
            await self.server.wait_closed()
            self.server = None


async def test_broker_down_queues_and_delivers_after_reconnect(prefix: str, store: Store) -> None:
    proxy = Proxy()
    await proxy.up()
    port = proxy.port
    await proxy.down()  # the broker is "down" from the start
    bus = LocalBus()
    await bus.start()
    bridge = MqttBridge(bus, mqtt_config(prefix, port=port), store.incidents, SITES, CAMERAS)
    await bridge.start()
    async with watching(prefix) as watcher:
        try:
            messages = [incident_message(site="site-a") for _ in range(5)]
            for message in messages:
                await bus.publish(message)  # incident handling goes on: publish never waits for MQTT
            await asyncio.sleep(0.5)
            assert not bridge.connected
            assert bridge.queued >= 5
            await proxy.up()
            await watcher.wait(
                lambda: all(watcher.last(f"{prefix}/incidents/{m.incident_id}") for m in messages)
            )
            assert bridge.queued == 0
            assert bridge.connected
            await proxy.down()  # and once more: the bridge notices and reconnects again
            await watcher.wait(lambda: not bridge.connected)
            late = incident_message(site="site-a", state=IncidentState.ACKNOWLEDGED)
            await bus.publish(late)
            await proxy.up()
            await watcher.wait(lambda: watcher.last(f"{prefix}/incidents/{late.incident_id}") is not None)
        finally:
            await bridge.stop()
            await proxy.down()
            await clear_retained(prefix, watcher)
    await bus.close()
    assert bridge.dropped == 0


async def test_queue_is_bounded_and_counts_what_it_drops(prefix: str, store: Store) -> None:
    bus = LocalBus()
    bridge = MqttBridge(bus, mqtt_config(prefix, port=9, queue_size=10), store.incidents)
    for _ in range(25):
        await bridge.handle(incident_message(site=None))
    assert bridge.queued == 10
    assert bridge.dropped == 15
