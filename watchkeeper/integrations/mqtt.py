"""MQTT: incident changes and camera states on topics, with Home Assistant discovery.

Topics (``<p>`` is ``integrations.mqtt.topic_prefix``):

* ``<p>/status``: ``online`` / ``offline`` (retained; ``offline`` is the last will, so a crash shows too);
* ``<p>/cameras/<camera_id>/state``: the camera's connection state (retained);
* ``<p>/sites/<site_id>/open_incidents``: how many incidents of the site are open (retained);
* ``<p>/sites/<site_id>/latest_incident``: JSON head of the site's latest changed incident (retained);
* ``<p>/incidents/<incident_id>``: every change of an incident as JSON (not retained);
* ``<discovery_prefix>/sensor/<client_id>/<object_id>/config``: Home Assistant discovery (retained).

Broker down: publications wait in a bounded in-memory queue (``queue_size``; when it is full the oldest
is dropped and counted) and the bridge reconnects with exponential backoff. Retained state topics are
republished in full on every connect, so after an outage Home Assistant converges on the current states
even when queued changes were dropped. Nothing here blocks incident handling: the bridge only reads the
bus (through durable consumers, so a restart resumes) and the incident store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import aiomqtt

from watchkeeper.bus.messages import BreakGlassMessage, BusMessage, CameraStatusMessage, IncidentMessage
from watchkeeper.bus.protocol import Bus, Subscription
from watchkeeper.config.integrations import MqttConfig
from watchkeeper.domain import Camera, Site, SiteId, WatchkeeperError
from watchkeeper.domain.incidents import OPEN_STATES, IncidentQuery
from watchkeeper.domain.tasks import cancel_and_wait
from watchkeeper.storage.protocols import IncidentRepository

log = logging.getLogger(__name__)

INCIDENT_SUBJECT = "wk.incidents.>"
STATUS_SUBJECT = "wk.cameras.*.status"
CUSTODY_SUBJECT = "wk.custody.>"
DURABLE_INCIDENTS = "mqtt-incidents"
DURABLE_STATUS = "mqtt-cameras"
DURABLE_CUSTODY = "mqtt-custody"
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Publication:
    """One MQTT message to send."""

    topic: str
    payload: str
    retain: bool = False


class HomeAssistant:
    """Topic names and Home Assistant discovery documents of one configuration."""

    def __init__(self, config: MqttConfig) -> None:
        """Name topics after ``config``."""
        self._config = config

    @property
    def availability(self) -> str:
        """``<p>/status``."""
        return f"{self._config.topic_prefix}/status"

    def camera_state(self, camera_id: str) -> str:
        """``<p>/cameras/<id>/state``."""
        return f"{self._config.topic_prefix}/cameras/{camera_id}/state"

    def open_incidents(self, site_id: str) -> str:
        """``<p>/sites/<id>/open_incidents``."""
        return f"{self._config.topic_prefix}/sites/{site_id}/open_incidents"

    def latest_incident(self, site_id: str) -> str:
        """``<p>/sites/<id>/latest_incident``."""
        return f"{self._config.topic_prefix}/sites/{site_id}/latest_incident"

    def incident(self, incident_id: str) -> str:
        """``<p>/incidents/<id>``."""
        return f"{self._config.topic_prefix}/incidents/{incident_id}"

    @property
    def break_glass(self) -> str:
        """``<p>/custody/break_glass``: emergency access to live originals (for approvers)."""
        return f"{self._config.topic_prefix}/custody/break_glass"

    def _config_topic(self, object_id: str) -> str:
        return f"{self._config.discovery_prefix}/sensor/{self._config.client_id}/{object_id}/config"

    def _document(self, object_id: str, name: str, state_topic: str) -> dict[str, object]:
        client_id = self._config.client_id
        return {
            "name": name,
            "unique_id": f"{client_id}_{object_id}",
            "object_id": f"{client_id}_{object_id}",
            "state_topic": state_topic,
            "availability_topic": self.availability,
            "device": {
                "identifiers": [client_id],
                "name": f"Watchkeeper {client_id}",
                "manufacturer": "Watchkeeper",
            },
        }

    def discovery(self, sites: Sequence[Site], cameras: Sequence[Camera]) -> list[Publication]:
        """Discovery config of a state sensor per camera and two incident sensors per site."""
        documents: list[tuple[str, dict[str, object]]] = []
        for camera in cameras:
            object_id = f"camera_{camera.id}"
            document = self._document(object_id, f"{camera.name} state", self.camera_state(camera.id))
            document["icon"] = "mdi:cctv"
            documents.append((object_id, document))
        for site in sites:
            object_id = f"site_{site.id}_open_incidents"
            count = self._document(object_id, f"{site.name} open incidents", self.open_incidents(site.id))
            count.update(
                {"state_class": "measurement", "unit_of_measurement": "incidents", "icon": "mdi:alarm-light"}
            )
            documents.append((object_id, count))
            object_id = f"site_{site.id}_latest_incident"
            latest = self._document(object_id, f"{site.name} latest incident", self.latest_incident(site.id))
            latest.update(
                {
                    "value_template": "{{ value_json.title }}",
                    "json_attributes_topic": self.latest_incident(site.id),
                }
            )
            documents.append((object_id, latest))
        return [
            Publication(self._config_topic(object_id), json.dumps(document, sort_keys=True), retain=True)
            for object_id, document in documents
        ]


class MqttBridge:
    """Publishes bus messages to MQTT through a bounded queue; reconnects with backoff."""

    def __init__(
        self,
        bus: Bus,
        config: MqttConfig,
        incidents: IncidentRepository,
        sites: Sequence[Site] = (),
        cameras: Sequence[Camera] = (),
    ) -> None:
        """Bridge ``bus`` to the broker of ``config``; ``sites`` and ``cameras`` get discovery sensors."""
        self._bus = bus
        self._config = config
        self._incidents = incidents
        self._sites = tuple(sites)
        self._cameras = tuple(cameras)
        self.topics = HomeAssistant(config)
        self._queue: deque[Publication] = deque()
        self._ready = asyncio.Event()
        self._retained: dict[str, Publication] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0
        """Publications dropped because the queue was full while the broker was away."""
        self.connected = False

    @property
    def queued(self) -> int:
        """Publications waiting for the broker."""
        return len(self._queue)

    async def start(self) -> None:
        """Count open incidents, subscribe (durable) and start the connection loop."""
        for site in self._sites:
            count = await asyncio.to_thread(self._open_count, site.id)
            self._remember(Publication(self.topics.open_incidents(site.id), str(count), retain=True))
        incidents = await self._bus.subscribe(INCIDENT_SUBJECT, durable=DURABLE_INCIDENTS)
        statuses = await self._bus.subscribe(STATUS_SUBJECT, durable=DURABLE_STATUS)
        custody = await self._bus.subscribe(CUSTODY_SUBJECT, durable=DURABLE_CUSTODY)
        self._tasks = [
            asyncio.create_task(self._consume(incidents), name="mqtt-incidents"),
            asyncio.create_task(self._consume(statuses), name="mqtt-cameras"),
            asyncio.create_task(self._consume(custody), name="mqtt-custody"),
            asyncio.create_task(self._run(), name="mqtt-connection"),
        ]

    async def stop(self) -> None:
        """Stop consuming and disconnect (the broker then publishes the last will: ``offline``)."""
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def handle(self, message: BusMessage) -> None:
        """Queue the publications a bus message makes (an incident recounts its site's open incidents)."""
        if isinstance(message, CameraStatusMessage):
            self._remember(
                Publication(self.topics.camera_state(message.camera_id), message.state.value, True)
            )
        elif isinstance(message, BreakGlassMessage):
            body = message.model_dump_json(exclude={"type", "version"})
            self._push(Publication(self.topics.break_glass, body))
        elif isinstance(message, IncidentMessage):
            body = message.model_dump_json(exclude={"type", "version"})
            self._push(Publication(self.topics.incident(message.incident_id), body))
            if message.site_id is not None:
                count = await asyncio.to_thread(self._open_count, message.site_id)
                self._remember(Publication(self.topics.open_incidents(message.site_id), str(count), True))
                self._remember(Publication(self.topics.latest_incident(message.site_id), body, True))

    def _open_count(self, site_id: SiteId | str) -> int:
        query = IncidentQuery(states=frozenset(OPEN_STATES), site_ids=frozenset({SiteId(site_id)}), limit=1)
        return self._incidents.list(query).total

    def _remember(self, publication: Publication) -> None:
        self._retained[publication.topic] = publication
        self._push(publication)

    def _push(self, publication: Publication) -> None:
        if len(self._queue) >= self._config.queue_size:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "MQTT queue full (%d): dropped %d publication(s) so far", len(self._queue), self.dropped
                )
        self._queue.append(publication)
        self._ready.set()

    async def _consume(self, subscription: Subscription) -> None:
        try:
            async for message in subscription:
                try:
                    await self.handle(message)
                except WatchkeeperError as err:
                    log.error("MQTT: %s not published: %s", type(message).__name__, err)  # noqa: TRY400
        finally:
            await subscription.close()

    def _client(self) -> aiomqtt.Client:
        config = self._config
        return aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password.get_secret_value() if config.password is not None else None,
            identifier=config.client_id,
            keepalive=config.keepalive_s,
            timeout=CONNECT_TIMEOUT_S,
            will=aiomqtt.Will(self.topics.availability, "offline", qos=1, retain=True),
        )

    async def _run(self) -> None:
        delay = self._config.retry_initial_s
        while True:
            try:
                async with self._client() as client:
                    self.connected = True
                    delay = self._config.retry_initial_s
                    log.info("MQTT connected to %s:%d", self._config.host, self._config.port)
                    try:
                        await self._session(client)
                    except asyncio.CancelledError:  # a clean stop: say so (the will covers crashes)
                        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                            offline = client.publish(self.topics.availability, "offline", qos=1, retain=True)
                            await asyncio.wait_for(offline, timeout=2.0)
                        raise
            except aiomqtt.MqttError as err:
                log.warning(
                    "MQTT broker %s:%d unavailable (%s); retry in %.1f s",
                    self._config.host,
                    self._config.port,
                    err,
                    delay,
                )
            finally:
                self.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._config.retry_max_s)

    async def _session(self, client: aiomqtt.Client) -> None:
        """Announce, republish retained state, then drain the queue until the connection fails."""
        qos = self._config.qos
        await client.publish(self.topics.availability, "online", qos=qos, retain=True)
        if self._config.discovery:
            for publication in self.topics.discovery(self._sites, self._cameras):
                await client.publish(publication.topic, publication.payload, qos=qos, retain=True)
        for publication in list(self._retained.values()):
            await client.publish(publication.topic, publication.payload, qos=qos, retain=True)
        lost = asyncio.create_task(_until_disconnected(client))
        ready: asyncio.Task[bool] | None = None
        try:
            while True:
                while self._queue:
                    publication = self._queue[0]
                    await client.publish(
                        publication.topic, publication.payload, qos=qos, retain=publication.retain
                    )
                    if self._queue and self._queue[0] is publication:
                        self._queue.popleft()
                self._ready.clear()
                ready = asyncio.create_task(self._ready.wait())
                done, _ = await asyncio.wait({ready, lost}, return_when=asyncio.FIRST_COMPLETED)
                if lost in done:
                    lost.result()  # raises the MqttError that ended the connection
        finally:
            for task in (lost, ready):
                if task is not None:
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await lost


async def _until_disconnected(client: aiomqtt.Client) -> None:
    """Return (raising ``MqttError``) when the broker connection is lost, even while nothing is sent."""
    async for _ in client.messages:  # nothing is subscribed: this only ends with the connection
        pass
    raise aiomqtt.MqttError("connection closed")
