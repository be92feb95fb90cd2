"""Outbound webhooks: incident changes (and camera states) POSTed to configured URLs, signed with HMAC.

Every request carries ``X-Watchkeeper-Timestamp`` (Unix seconds) and ``X-Watchkeeper-Signature``
(``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>." + body`` keyed with the webhook's secret; see
:func:`sign` and :func:`verify`), plus ``X-Watchkeeper-Event`` and ``X-Watchkeeper-Delivery`` (an id a
receiver can use to drop repeats).

Durability: a bus message becomes one *delivery row per interested webhook* in the database (the outbox)
before anything is sent, and the bus subscription is durable, so a restart resumes where it stopped and
re-sends what was still pending. A failed attempt is retried with exponential backoff; after
``max_attempts`` the delivery is a *dead letter* that an administrator can retry from the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpx

from watchkeeper.bus.messages import BreakGlassMessage, BusMessage, CameraStatusMessage, IncidentMessage
from watchkeeper.bus.protocol import Bus, Subscription
from watchkeeper.config.integrations import IntegrationsConfig, WebhookConfig
from watchkeeper.domain import WatchkeeperError, utcnow
from watchkeeper.domain.integrations import DeliveryState, WebhookDelivery
from watchkeeper.domain.tasks import cancel_and_wait
from watchkeeper.storage.protocols import WebhookDeliveryRepository

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Watchkeeper-Signature"
TIMESTAMP_HEADER = "X-Watchkeeper-Timestamp"
EVENT_HEADER = "X-Watchkeeper-Event"
DELIVERY_HEADER = "X-Watchkeeper-Delivery"
INCIDENT_SUBJECT = "wk.incidents.>"
STATUS_SUBJECT = "wk.cameras.*.status"
CUSTODY_SUBJECT = "wk.custody.>"
DURABLE_INCIDENTS = "webhooks-incidents"
DURABLE_STATUS = "webhooks-cameras"
DURABLE_CUSTODY = "webhooks-custody"
LEASE = timedelta(minutes=5)
"""How long a claimed delivery is reserved for the server that claimed it (it is re-sent after that)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value of ``body`` sent at ``timestamp``: ``sha256=<hex>``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, now: datetime, tolerance_s: float = 300.0
) -> bool:
    """True when ``signature`` is valid for ``body`` and ``timestamp`` is within ``tolerance_s`` of ``now``.

    What a receiver does with the two headers (it is also how the tests check deliveries).
    """
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


@dataclass(frozen=True, slots=True)
class Outbound:
    """What one bus message becomes for webhooks: an event name, what it is about and the JSON body."""

    event: str
    subject_id: str
    body: str


def outbound(message: BusMessage, at: datetime) -> Outbound | None:
    """The webhook form of a bus message (``None`` for messages webhooks never carry)."""
    if isinstance(message, IncidentMessage):
        event, subject_id = f"incident.{message.change}", message.incident_id
    elif isinstance(message, CameraStatusMessage):
        event, subject_id = "camera.status", message.camera_id
    elif isinstance(message, BreakGlassMessage):
        event, subject_id = "custody.break_glass", message.grant_id
    else:
        return None
    data = message.model_dump(mode="json", exclude={"type", "version"})
    body = json.dumps({"event": event, "sent_at": at.isoformat(), "data": data}, separators=(",", ":"))
    return Outbound(event, subject_id, body)


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """How one POST went: the HTTP status (``None`` without an answer) and an error text when it failed."""

    status: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


def next_state(
    delivery: WebhookDelivery, hook: WebhookConfig | None, result: AttemptResult, now: datetime
) -> WebhookDelivery:
    """The delivery after one attempt: delivered, pending with a backoff, or dead."""
    attempts = delivery.attempts + 1
    common = replace(
        delivery, attempts=attempts, last_status=result.status, updated_at=now, last_error=result.error
    )
    if result.ok:
        return replace(common, state=DeliveryState.DELIVERED, last_error="")
    if hook is None or attempts >= hook.max_attempts:
        return replace(common, state=DeliveryState.DEAD)
    return replace(common, next_attempt_at=now + timedelta(seconds=hook.backoff_s(attempts)))


class WebhookDispatcher:
    """Turns bus messages into delivery rows and sends due deliveries, on the bus's event loop."""

    def __init__(
        self,
        bus: Bus,
        deliveries: WebhookDeliveryRepository,
        config: IntegrationsConfig,
        clock: Callable[[], datetime] = utcnow,
        client: httpx.AsyncClient | None = None,
        poll_s: float = 1.0,
    ) -> None:
        """Dispatch the webhooks of ``config``; ``client`` defaults to a fresh ``httpx.AsyncClient``."""
        self._bus = bus
        self._deliveries = deliveries
        self._config = config
        self._clock = clock
        self._client = client
        self._own_client = client is None
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Subscribe (durable, shared by every server) and start the sender."""
        if not self._config.webhooks:
            return
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        subscriptions = [await self._bus.subscribe(INCIDENT_SUBJECT, durable=DURABLE_INCIDENTS)]
        if any("camera.status" in hook.events for hook in self._config.webhooks):
            subscriptions.append(await self._bus.subscribe(STATUS_SUBJECT, durable=DURABLE_STATUS))
        if any(hook.wants("custody.break_glass") for hook in self._config.webhooks):
            subscriptions.append(await self._bus.subscribe(CUSTODY_SUBJECT, durable=DURABLE_CUSTODY))
        self._tasks = [
            asyncio.create_task(self._consume(sub), name="webhook-intake") for sub in subscriptions
        ]
        self._tasks.append(asyncio.create_task(self._send_loop(), name="webhook-sender"))

    async def stop(self) -> None:
        """Stop consuming and sending (pending deliveries stay in the database for the next start)."""
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def enqueue(self, message: BusMessage) -> list[WebhookDelivery]:
        """Store one pending delivery per webhook that wants ``message`` (blocking: database)."""
        now = self._clock()
        item = outbound(message, now)
        if item is None:
            return []
        return [
            self._deliveries.add(
                WebhookDelivery(
                    webhook=hook.name,
                    event=item.event,
                    subject_id=item.subject_id,
                    payload=item.body,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
            for hook in self._config.webhooks
            if hook.wants(item.event)
        ]

    def retry(self, delivery_id: int) -> WebhookDelivery:
        """Send a delivery (typically a dead letter) again as soon as possible.

        Raises:
            NotFoundError: If no delivery has that id.
        """
        delivery = self._deliveries.retry(delivery_id, self._clock())
        self._wake.set()
        return delivery

    async def send_due(self) -> int:
        """Attempt every due delivery once; returns how many were attempted."""
        now = self._clock()
        claimed = await asyncio.to_thread(self._deliveries.claim, now, now + LEASE, 100)
        if claimed:
            await asyncio.gather(*(self._attempt(delivery) for delivery in claimed))
        return len(claimed)

    async def _attempt(self, delivery: WebhookDelivery) -> None:
        hook = self._config.webhook(delivery.webhook)
        if hook is None:
            result = AttemptResult(None, f"webhook {delivery.webhook!r} is no longer configured")
        else:
            result = await self.post(hook, delivery)
        updated = next_state(delivery, hook, result, self._clock())
        if updated.state is DeliveryState.DEAD:
            log.warning(
                "webhook %s: delivery %s is a dead letter after %d attempt(s): %s",
                delivery.webhook,
                delivery.id,
                updated.attempts,
                result.error,
            )
        await asyncio.to_thread(self._deliveries.save, updated)

    async def post(self, hook: WebhookConfig, delivery: WebhookDelivery) -> AttemptResult:
        """POST one delivery to ``hook`` (signed); never raises for network or HTTP failures."""
        client = self._client
        if client is None:
            return AttemptResult(None, "dispatcher is not started")
        body = delivery.payload.encode("utf-8")
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(hook.secret.get_secret_value(), timestamp, body),
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: str(delivery.id),
        }
        try:
            response = await client.post(
                hook.url.get_secret_value(), content=body, headers=headers, timeout=hook.timeout_s
            )
        except httpx.HTTPError as err:  # the URL may hold a token: report the kind of failure only
            return AttemptResult(None, f"{type(err).__name__}: no answer from webhook {hook.name!r}")
        if 200 <= response.status_code < 300:
            return AttemptResult(response.status_code)
        return AttemptResult(response.status_code, f"HTTP {response.status_code}")

    async def _consume(self, subscription: Subscription) -> None:
        try:
            async for message in subscription:
                try:
                    await asyncio.to_thread(self.enqueue, message)
                except WatchkeeperError as err:
                    log.error("webhook delivery not queued: %s", err)  # noqa: TRY400
                self._wake.set()
        finally:
            await subscription.close()

    async def _send_loop(self) -> None:
        pruned_at = self._clock()
        while True:
            try:
                while await self.send_due():
                    pass
                if self._clock() - pruned_at > timedelta(minutes=10):
                    pruned_at = self._clock()
                    keep = timedelta(seconds=self._config.keep_delivered_s)
                    await asyncio.to_thread(self._deliveries.prune, DeliveryState.DELIVERED, pruned_at - keep)
            except WatchkeeperError as err:
                log.error("webhook sender: %s", err)  # noqa: TRY400
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
            self._wake.clear()


def dead_letters(deliveries: WebhookDeliveryRepository, limit: int = 50) -> Sequence[WebhookDelivery]:
    """The newest dead letters (a convenience for commands and tests)."""
    return deliveries.list(DeliveryState.DEAD, limit=limit).items
