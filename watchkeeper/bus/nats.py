"""The NATS JetStream bus: several hosts, messages persisted in one stream.

Layout: one stream (``stream``, default ``WATCHKEEPER``) holds every subject under ``<subject_prefix>.>``;
the logical root ``wk`` of a subject is replaced by ``subject_prefix`` on the wire, so several installations
(or tests) can share one server. Publishes wait for the JetStream acknowledgement and carry a
``Nats-Msg-Id`` derived from their content (:mod:`watchkeeper.bus.dedup`), so a retry is stored once within
the stream's duplicate window. Several sites: see :mod:`watchkeeper.bus.sites` (a site token in the subjects,
a hub stream that sources every site's stream across JetStream domains).

Consumers are pull consumers with explicit acks. A message is acknowledged when the subscriber asks for the
next one or closes the subscription (at-least-once: a process that dies while handling a message gets it
again). Messages fetched but not yet handed out are negatively acknowledged on close so the next subscriber
of the same durable name gets them at once, in order. Durable consumers live in the server and resume
after a reconnect or a restart of the process; non-durable subscriptions use an ephemeral consumer that
delivers only new messages and is deleted on close (or by the server after ``inactive_threshold_s``).

Known limit: a durable subscription whose task is cancelled in the middle of a fetch leaves that pull
request open on the server for up to ``fetch_timeout_s``; a message delivered to it in that window comes
back after ``ack_wait_s`` (late and possibly out of order).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Final, cast
from urllib.parse import urlsplit

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    ExternalStream,
    StorageType,
    StreamConfig,
    StreamSource,
)
from nats.js.client import JetStreamContext

from watchkeeper.bus.dedup import HEADER, message_id
from watchkeeper.bus.errors import BusError, BusUnavailableError, MessageFormatError
from watchkeeper.bus.messages import BusMessage, decode, encode
from watchkeeper.bus.sites import SiteLayout
from watchkeeper.bus.subjects import check_token
from watchkeeper.bus.threads import run_threadsafe

log = logging.getLogger(__name__)

FIRST: Final = asyncio.FIRST_COMPLETED

CONSUMER_CHECK_S: Final = 10.0
"""How often an idle subscription asks whether its consumer still exists (a fetch from a deleted consumer
only times out: after a NATS restart without the consumer, or an outage past ``inactive_threshold_s``)."""

DEFAULT_URL: Final = "nats://127.0.0.1:4222"
DEFAULT_STREAM: Final = "WATCHKEEPER"
DEFAULT_PREFIX: Final = "wk"


@dataclass(frozen=True, slots=True)
class NatsTuning:
    """Limits and timings of the stream and its consumers (defaults suit one site)."""

    connect_timeout_s: float = 3.0
    request_timeout_s: float = 5.0
    max_age_s: float = 7 * 24 * 3600.0
    max_msgs: int = 1_000_000
    max_bytes: int = 1 << 30
    ack_wait_s: float = 30.0
    fetch_batch: int = 32
    fetch_timeout_s: float = 1.0
    inactive_threshold_s: float = 60.0
    duplicate_window_s: float = 120.0


def redact_url(url: str) -> str:
    """``url`` without user name or password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class NatsSubscription:
    """A subscription to a JetStream pull consumer; iterate it for messages, close it when done."""

    def __init__(
        self, bus: NatsBus, pull: JetStreamContext.PullSubscription, consumer: str, wire: str, durable: bool
    ) -> None:
        """Wrap ``pull`` (bound to ``consumer`` on ``wire``); an ephemeral consumer is deleted on close."""
        self._bus = bus
        self._pull = pull
        self._consumer = consumer
        self._wire = wire
        self._durable = durable
        self._checked_at = time.monotonic()
        self._buffer: deque[Msg] = deque()
        self._to_ack: Msg | None = None
        self._closed = False

    @property
    def consumer(self) -> str:
        """Name of the JetStream consumer behind this subscription."""
        return self._consumer

    def __aiter__(self) -> NatsSubscription:
        """This subscription is its own iterator."""
        return self

    async def __anext__(self) -> BusMessage:
        """Acknowledge the previous message, then return the next one (waiting for it).

        Raises:
            StopAsyncIteration: when the subscription or the bus is closed.
            BusUnavailableError: when the connection to NATS is closed under the subscription.
        """
        await self._ack_previous(sync=False)
        while not self._closed:
            if not self._buffer:
                await self._fill()
                continue
            raw = self._buffer.popleft()
            try:
                message = decode(raw.data)
            except MessageFormatError as err:
                log.warning("dropping unreadable message on %s: %s", raw.subject, err)
                await self._quietly(raw.term())
                continue
            self._to_ack = raw
            return message
        raise StopAsyncIteration

    async def close(self) -> None:
        """Acknowledge the last message delivered, hand back the undelivered ones, stop the consumer."""
        if self._closed:
            return
        self._closed = True
        self._bus.forget(self)
        await self._ack_previous(sync=True)
        while self._buffer:
            await self._quietly(self._buffer.popleft().nak())
        await self._quietly(self._pull.unsubscribe())
        if not self._durable:
            await self._bus.delete_consumer(self._consumer)

    async def _fill(self) -> None:
        tuning = self._bus.tuning
        try:
            self._buffer.extend(await self._pull.fetch(tuning.fetch_batch, timeout=tuning.fetch_timeout_s))
        except TimeoutError:
            # nats-py raises its own TimeoutError, and a plain asyncio one when the deadline ran out between
            # its no-wait probe and the long poll: both only mean "nothing yet" (the plain one used to end
            # the subscription, and with it the consumer that iterated it).
            await self._revive_if_gone()
            return
        except nats.errors.ConnectionClosedError as err:
            if self._closed or self._bus.closing:
                self._closed = True
                return
            raise BusUnavailableError("the connection to NATS was closed under a subscription") from err
        except nats.errors.Error as err:
            if self._closed:
                return
            log.warning("fetch on consumer %s failed, retrying: %s", self._consumer, err)
            await asyncio.sleep(tuning.fetch_timeout_s)

    async def _revive_if_gone(self) -> None:
        """Every ``CONSUMER_CHECK_S`` while idle: re-create the consumer if the server no longer has it."""
        now = time.monotonic()
        if now - self._checked_at < CONSUMER_CHECK_S or self._closed:
            return
        self._checked_at = now
        pull = await self._bus.revive(self._consumer, self._wire, durable=self._durable)
        if pull is not None:
            old, self._pull = self._pull, pull
            await self._quietly(old.unsubscribe())

    async def _ack_previous(self, sync: bool) -> None:
        raw, self._to_ack = self._to_ack, None
        if raw is None:
            return
        await self._quietly(raw.ack_sync(timeout=self._bus.tuning.request_timeout_s) if sync else raw.ack())

    async def _quietly(self, operation: Awaitable[object]) -> None:
        """Await an ack/nak/unsubscribe; a failure only means a redelivery later, so it is logged."""
        try:
            await operation
        except nats.errors.Error as err:
            log.warning("consumer %s: ack/nak/unsubscribe failed: %s", self._consumer, err)


class NatsBus:
    """Message bus on NATS JetStream (nats-py)."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        stream: str = DEFAULT_STREAM,
        subject_prefix: str = DEFAULT_PREFIX,
        tuning: NatsTuning | None = None,
        layout: SiteLayout | None = None,
    ) -> None:
        """Configure the bus; nothing connects before :meth:`start`.

        Args:
            url: NATS server URL (credentials allowed; they never appear in messages).
            stream: JetStream stream name, created or updated on start.
            subject_prefix: Wire prefix that replaces the logical root ``wk`` (may hold dots).
            tuning: Stream limits and consumer timings.
            layout: This node's site token and the site streams its stream sources (default: one site).
        """
        self._url = url
        self._stream = stream
        self._prefix = subject_prefix
        self.tuning = tuning or NatsTuning()
        self._layout = layout or SiteLayout()
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscriptions: set[NatsSubscription] = set()
        self.closing = False

    @property
    def stream(self) -> str:
        """The JetStream stream name."""
        return self._stream

    @property
    def layout(self) -> SiteLayout:
        """This node's site token and the site streams its stream sources."""
        return self._layout

    async def start(self) -> None:
        """Connect and create (or update) the stream.

        Raises:
            BusUnavailableError: within ``connect_timeout_s`` when the server does not answer.
            BusError: when JetStream refuses the stream (JetStream disabled, overlapping subjects).
        """
        client = Client()
        first_error: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

        async def on_error(err: Exception) -> None:
            if not first_error.done():
                first_error.set_result(err)
            if client.is_connected or client.is_reconnecting:
                log.warning("NATS %s: %s", redact_url(self._url), err)

        self.closing = False
        connecting = asyncio.ensure_future(self._connect(client, on_error))
        await asyncio.wait(
            (connecting, first_error), timeout=self.tuning.connect_timeout_s, return_when=FIRST
        )
        if not (connecting.done() and connecting.exception() is None):
            connecting.cancel()
            self.closing = True
            await _close_quietly(client)
            reason = _reason(first_error.result() if first_error.done() else None, connecting)
            raise BusUnavailableError(f"NATS at {redact_url(self._url)} is not reachable: {reason}")
        self._client = client
        self._js = client.jetstream(timeout=self.tuning.request_timeout_s)
        try:
            await self._ensure_stream(self._js)
        except BusError:
            await self.close()
            raise
        self._loop = asyncio.get_running_loop()
        log.info("NATS bus on %s, stream %s", redact_url(self._url), self._stream)

    async def close(self) -> None:
        """Close every subscription, flush and disconnect."""
        self.closing = True
        for subscription in list(self._subscriptions):
            await subscription.close()
        client, self._client, self._js, self._loop = self._client, None, None, None
        if client is not None:
            await _close_quietly(client)

    async def publish(self, message: BusMessage) -> None:
        """Publish and wait for JetStream to store it.

        Raises:
            BusUnavailableError: when the server does not acknowledge within ``request_timeout_s``.
            BusError: when the bus is not started or JetStream rejects the message.
        """
        js = self._require()
        subject = self._layout.publish_subject(message.subject, self._prefix)
        msg_id = message_id(message)
        try:
            await js.publish(
                subject,
                encode(message),
                timeout=self.tuning.request_timeout_s,
                # A sourced message keeps its headers, and nats-server 2.9 makes the hub's stream refuse one
                # that expects another stream's name: site publishes carry no expectation.
                stream=self._stream if self._layout.site is None else None,
                headers=None if msg_id is None else {HEADER: msg_id},
            )
        except nats.errors.TimeoutError as err:
            raise BusUnavailableError(f"NATS did not acknowledge a message on {subject} in time") from err
        except nats.errors.Error as err:
            raise BusError(f"NATS refused a message on {subject}: {err}") from err

    def publish_threadsafe(self, message: BusMessage) -> Future[None]:
        """Publish from any thread; returns a future of the outcome at once.

        Raises:
            BusError: when the bus is not started.
        """
        return run_threadsafe(self._loop, self.publish(message), "NatsBus")

    async def subscribe(self, subject: str, durable: str | None = None) -> NatsSubscription:
        """Subscribe through a durable consumer named ``durable`` or a new ephemeral one.

        Raises:
            BusError: when the subject or name is malformed, ``durable`` is bound to another subject, or the
                server refuses the consumer.
        """
        js = self._require()
        wire = self._layout.filter_subject(subject, self._prefix)
        try:
            if durable is None:
                name = f"eph-{uuid.uuid4().hex}"
                await js.add_consumer(self._stream, self._consumer_config(wire, name, durable=False))
            else:
                name = self._check_durable(durable)
                await self._ensure_durable(js, wire, name, subject)
            pull = await js.pull_subscribe_bind(consumer=name, stream=self._stream)
        except nats.errors.TimeoutError as err:
            raise BusUnavailableError(f"NATS did not answer while subscribing to {subject}") from err
        except nats.errors.Error as err:
            raise BusError(f"NATS refused a consumer on {subject}: {err}") from err
        subscription = NatsSubscription(self, pull, name, wire, durable=durable is not None)
        self._subscriptions.add(subscription)
        return subscription

    async def revive(
        self, name: str, wire: str, *, durable: bool
    ) -> JetStreamContext.PullSubscription | None:
        """Re-create consumer ``name`` on ``wire`` if the server lost it; returns its new pull subscription.

        None when it was not lost, or the server did not answer (asked again at the next check). The new
        consumer delivers messages from now on: what was published while it was missing is not delivered to
        it (logged).
        """
        js = self._js
        if js is None:
            return None
        try:
            await js.consumer_info(self._stream, name)
        except nats.js.errors.NotFoundError:
            pass
        except nats.errors.Error:
            return None
        else:
            return None
        try:
            await js.add_consumer(self._stream, self._consumer_config(wire, name, durable=durable))
            pull = await js.pull_subscribe_bind(consumer=name, stream=self._stream)
        except nats.errors.Error as err:
            log.warning(
                "consumer %s is gone from stream %s and could not be re-created: %s", name, self._stream, err
            )
            return None
        log.warning(
            "consumer %s was gone from stream %s (NATS restarted, or idle past its threshold): re-created; "
            "messages published meanwhile were not delivered to it",
            name,
            self._stream,
        )
        return pull

    def forget(self, subscription: NatsSubscription) -> None:
        """Drop a closed subscription from the bus's list."""
        self._subscriptions.discard(subscription)

    async def delete_consumer(self, name: str) -> None:
        """Delete a consumer (used for ephemeral ones on close); failures are logged."""
        if self._js is None:
            return
        try:
            await self._js.delete_consumer(self._stream, name)
        except nats.errors.Error as err:
            log.warning("could not delete consumer %s: %s", name, err)

    async def delete_stream(self) -> None:
        """Delete the stream and every consumer on it (tests and uninstall).

        Raises:
            BusError: when the bus is not started or the server refuses.
        """
        js = self._require()
        try:
            await js.delete_stream(self._stream)
        except nats.js.errors.NotFoundError:
            return
        except nats.errors.Error as err:
            raise BusError(f"could not delete stream {self._stream}: {err}") from err

    async def _connect(self, client: Client, on_error: Callable[[Exception], Awaitable[None]]) -> None:
        await client.connect(
            servers=[self._url],
            name="watchkeeper",
            connect_timeout=max(1, math.ceil(self.tuning.connect_timeout_s)),
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            error_cb=on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )

    async def _on_disconnected(self) -> None:
        if not self.closing:
            log.warning("NATS %s disconnected; reconnecting", redact_url(self._url))

    async def _on_reconnected(self) -> None:
        log.info("NATS %s reconnected", redact_url(self._url))

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        config = StreamConfig(
            name=self._stream,
            subjects=self._layout.stream_subjects(self._prefix),
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.tuning.max_age_s,
            max_msgs=self.tuning.max_msgs,
            max_bytes=self.tuning.max_bytes,
            duplicate_window=self.tuning.duplicate_window_s,
            sources=[
                StreamSource(name=source.stream, external=ExternalStream(api=source.api))
                for source in self._layout.sources
            ]
            or None,
        )
        try:
            try:
                await js.stream_info(self._stream)
            except nats.js.errors.NotFoundError:
                await js.add_stream(config)
            else:
                await js.update_stream(config)
        except nats.errors.TimeoutError as err:
            raise BusUnavailableError(f"NATS did not answer while creating stream {self._stream}") from err
        except nats.js.errors.ServiceUnavailableError as err:
            raise BusError(f"JetStream is not enabled on {redact_url(self._url)}: {err}") from err
        except nats.errors.Error as err:
            raise BusError(f"NATS refused stream {self._stream}: {err}") from err

    async def _ensure_durable(self, js: JetStreamContext, wire: str, name: str, subject: str) -> None:
        try:
            info = await js.consumer_info(self._stream, name)
        except nats.js.errors.NotFoundError:
            await js.add_consumer(self._stream, self._consumer_config(wire, name, durable=True))
            return
        bound = info.config.filter_subject
        if bound != wire:
            raise BusError(f"durable consumer {name!r} is bound to {bound!r}, not {subject!r}")

    def _consumer_config(self, wire: str, name: str, durable: bool) -> ConsumerConfig:
        return ConsumerConfig(
            name=name,
            durable_name=name if durable else None,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.tuning.ack_wait_s,
            filter_subject=wire,
            inactive_threshold=None if durable else self.tuning.inactive_threshold_s,
        )

    @staticmethod
    def _check_durable(durable: str) -> str:
        try:
            return check_token(durable, "durable consumer name")
        except ValueError as err:
            raise BusError(str(err)) from err

    def _require(self) -> JetStreamContext:
        if self._js is None:
            raise BusError("NatsBus is not started: call `await bus.start()` first")
        return self._js


def _reason(error: Exception | None, connecting: asyncio.Future[None]) -> str:
    """One line saying why the first connection failed."""
    if error is None and connecting.done() and not connecting.cancelled():
        error = cast("Exception | None", connecting.exception())
    if error is None:
        return "no answer in time"
    return str(error) or type(error).__name__


async def _close_quietly(client: Client) -> None:
    try:
        await client.close()
    except (nats.errors.Error, OSError) as err:
        log.debug("closing NATS client: %s", err)
