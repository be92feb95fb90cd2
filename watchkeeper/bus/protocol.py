"""Typed publish/subscribe. Stages publish domain messages; backends carry them.

Delivery contract, held by every backend (tests/contract/test_bus_contract.py):

* Subjects are ``wk.``-rooted dot-separated tokens; ``*`` matches one token, ``>`` one or more (last only).
* Messages on one subject reach a subscriber in publish order.
* A subscription without ``durable`` sees only messages published after it was opened.
* A durable subscription, the first time its name is used, starts with the messages published after that;
  later subscriptions of the same name resume after the last message delivered to (and acknowledged by) an
  earlier one. Two open subscriptions of the same name share its messages (each message goes to one of them).
* ``publish`` never waits for subscribers; see each backend for what happens to a subscriber that falls
  behind.
"""

from collections.abc import AsyncIterator
from concurrent.futures import Future
from typing import Protocol

from watchkeeper.bus.messages import BusMessage


class Subscription(Protocol):
    """An open subscription: iterate for messages, close when done."""

    def __aiter__(self) -> AsyncIterator[BusMessage]:
        """Messages in publish order per subject; iteration ends when the subscription is closed."""
        ...

    async def close(self) -> None:
        """Stop receiving; a durable subscription records the last message delivered as acknowledged."""
        ...


class Bus(Protocol):
    """A message bus backend (local in-process or NATS JetStream)."""

    async def start(self) -> None:
        """Connect / create streams. Raises ``BusUnavailableError`` when the server cannot be reached."""
        ...

    async def close(self) -> None:
        """Close every open subscription, flush and disconnect."""
        ...

    async def publish(self, message: BusMessage) -> None:
        """Publish on ``message.subject``; returns once the backend has accepted (stored) it.

        Raises ``BusError`` (``BusUnavailableError`` when the server stopped answering).
        """
        ...

    def publish_threadsafe(self, message: BusMessage) -> Future[None]:
        """Publish from any thread (camera workers): schedules :meth:`publish` on the bus's event loop.

        Returns at once; the future holds the outcome. Never wait on it from the event loop's own thread.
        """
        ...

    async def subscribe(self, subject: str, durable: str | None = None) -> Subscription:
        """Subscribe to a subject (``*`` and ``>`` wildcards as in NATS).

        With ``durable`` set, a consumer of that name resumes after the last acknowledged message, even
        across a restart of the process (on backends that persist; the local backend keeps it for the
        process's life).
        """
        ...
