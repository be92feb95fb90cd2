"""The in-process bus: one host, no server, the default backend.

Every published message is appended to one bounded log (a global sequence, so messages on one subject keep
their order). Each subscription reads the log through a cursor; a durable name owns one cursor for the life
of the ``LocalBus`` (normally the process), so a new subscription of that name resumes where the previous
one stopped, and two open subscriptions of one name share its messages.

Memory policy: the log keeps the last ``history_size`` messages. ``publish`` never waits for subscribers;
when a subscriber (or a closed durable consumer) falls more than ``history_size`` messages behind, the
oldest messages it has not read are dropped for it, counted in :attr:`LocalSubscription.dropped` and logged
at WARNING. Memory stays bounded by ``history_size`` messages whatever the subscribers do.

Threads: ``publish``/``subscribe`` run on the loop that called :meth:`LocalBus.start`; other threads call
:meth:`LocalBus.publish_threadsafe`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

from watchkeeper.bus.errors import BusError
from watchkeeper.bus.messages import BusMessage
from watchkeeper.bus.subjects import matches, parse_pattern
from watchkeeper.bus.threads import run_threadsafe

log = logging.getLogger(__name__)

DEFAULT_HISTORY_SIZE = 10_000
"""Messages the local log keeps for subscribers that fall behind and for durable consumers."""


@dataclass(frozen=True, slots=True)
class _Entry:
    """One published message and its place in the log."""

    seq: int
    subject: str
    message: BusMessage


@dataclass(slots=True)
class _Cursor:
    """A reader's place in the log: the last sequence it has consumed (or skipped as not matching)."""

    subject: str
    pattern: tuple[str, ...]
    position: int
    dropped: int = 0
    wakers: set[asyncio.Event] = field(default_factory=set)


class LocalSubscription:
    """A subscription to a :class:`LocalBus`; iterate it for messages, close it when done."""

    def __init__(self, bus: LocalBus, cursor: _Cursor, durable: str | None) -> None:
        """Read ``bus``'s log through ``cursor`` (shared with other subscriptions of ``durable``)."""
        self._bus = bus
        self._cursor = cursor
        self._durable = durable
        self._wake = asyncio.Event()
        self._closed = False
        cursor.wakers.add(self._wake)

    @property
    def dropped(self) -> int:
        """Messages this subscription's cursor lost because it fell behind the bounded log."""
        return self._cursor.dropped

    def __aiter__(self) -> LocalSubscription:
        """This subscription is its own iterator."""
        return self

    async def __anext__(self) -> BusMessage:
        """The next matching message; waits for one; stops when the subscription or the bus is closed."""
        while not self._closed:
            entry = self._bus.next_for(self._cursor)
            if entry is not None:
                return entry.message
            self._wake.clear()
            await self._wake.wait()
        raise StopAsyncIteration

    async def close(self) -> None:
        """Stop receiving; a durable cursor keeps its position for the next subscription of its name."""
        if self._closed:
            return
        self._closed = True
        self._cursor.wakers.discard(self._wake)
        self._wake.set()
        self._bus.forget(self)


class LocalBus:
    """In-process asyncio bus: NATS-style subjects and wildcards, durable consumers, bounded memory."""

    def __init__(self, history_size: int = DEFAULT_HISTORY_SIZE) -> None:
        """Create a bus that keeps at most ``history_size`` messages.

        Raises:
            ValueError: when ``history_size`` is below 1.
        """
        if history_size < 1:
            raise ValueError(f"history_size must be >= 1, got {history_size}")
        self._history: deque[_Entry] = deque()
        self._history_size = history_size
        self._last_seq = 0
        self._durables: dict[str, _Cursor] = {}
        self._subscriptions: dict[LocalSubscription, _Cursor] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Bind the bus to the running event loop (never fails: there is no server)."""
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        """Close every open subscription; durable positions are kept if the bus is started again."""
        for subscription in list(self._subscriptions):
            await subscription.close()
        self._loop = None

    async def publish(self, message: BusMessage) -> None:
        """Append ``message`` to the log and wake the subscriptions it matches; never waits for them.

        Raises:
            BusError: when the bus is not started or this is not the loop it was started on.
        """
        self._check_loop()
        self._last_seq += 1
        entry = _Entry(self._last_seq, message.subject, message)
        self._history.append(entry)
        if len(self._history) > self._history_size:
            self._evict(self._history.popleft())
        for cursor in self._cursors():
            if matches(cursor.pattern, entry.subject):
                for waker in cursor.wakers:
                    waker.set()

    def publish_threadsafe(self, message: BusMessage) -> Future[None]:
        """Publish from any thread; returns a future of the outcome at once.

        Raises:
            BusError: when the bus is not started.
        """
        return run_threadsafe(self._loop, self.publish(message), "LocalBus")

    async def subscribe(self, subject: str, durable: str | None = None) -> LocalSubscription:
        """Subscribe to ``subject`` (wildcards allowed), optionally as the durable consumer ``durable``.

        Raises:
            BusError: when the subject is malformed, the bus is not started, or ``durable`` is already bound
                to another subject.
        """
        pattern = parse_pattern(subject)
        self._check_loop()
        if durable is None:
            cursor = _Cursor(subject, pattern, self._last_seq)
        else:
            cursor = self._durables.setdefault(durable, _Cursor(subject, pattern, self._last_seq))
            if cursor.subject != subject:
                bound = cursor.subject
                raise BusError(f"durable consumer {durable!r} is bound to {bound!r}, not {subject!r}")
        subscription = LocalSubscription(self, cursor, durable)
        self._subscriptions[subscription] = cursor
        return subscription

    def next_for(self, cursor: _Cursor) -> _Entry | None:
        """The next entry matching ``cursor`` after its position, advancing it; ``None`` when caught up."""
        if not self._history:
            return None
        index = max(0, cursor.position + 1 - self._history[0].seq)
        while index < len(self._history):
            entry = self._history[index]
            cursor.position = entry.seq
            if matches(cursor.pattern, entry.subject):
                return entry
            index += 1
        return None

    def forget(self, subscription: LocalSubscription) -> None:
        """Drop a closed subscription (its durable cursor, if any, stays)."""
        self._subscriptions.pop(subscription, None)

    def _cursors(self) -> list[_Cursor]:
        unique = {id(cursor): cursor for cursor in self._subscriptions.values()}
        unique.update((id(cursor), cursor) for cursor in self._durables.values())
        return list(unique.values())

    def _evict(self, entry: _Entry) -> None:
        for name, cursor in self._named_cursors():
            if cursor.position < entry.seq and matches(cursor.pattern, entry.subject):
                cursor.position = entry.seq
                cursor.dropped += 1
                if cursor.dropped == 1 or cursor.dropped % 1000 == 0:
                    log.warning(
                        "local bus: subscriber %s on %s fell %d messages behind; %d dropped so far",
                        name,
                        cursor.subject,
                        self._history_size,
                        cursor.dropped,
                    )

    def _named_cursors(self) -> list[tuple[str, _Cursor]]:
        named = [(repr(name), cursor) for name, cursor in self._durables.items()]
        durable_ids = {id(cursor) for cursor in self._durables.values()}
        ephemeral = (cursor for cursor in self._subscriptions.values() if id(cursor) not in durable_ids)
        named += [("(ephemeral)", cursor) for cursor in ephemeral]
        return named

    def _check_loop(self) -> None:
        if self._loop is None:
            raise BusError("LocalBus is not started: call `await bus.start()` first")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._loop:
            raise BusError("LocalBus runs on another event loop: call publish_threadsafe() from threads")
