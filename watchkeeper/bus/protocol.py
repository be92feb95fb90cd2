"""Typed publish/subscribe. Stages publish domain messages; backends carry them."""

from collections.abc import AsyncIterator
from typing import Protocol

from watchkeeper.bus.messages import BusMessage


class Subscription(Protocol):
    """An open subscription: iterate for messages, close when done."""

    def __aiter__(self) -> AsyncIterator[BusMessage]:
        """Messages in publish order per subject."""
        ...

    async def close(self) -> None:
        """Stop receiving."""
        ...


class Bus(Protocol):
    """A message bus backend (local in-process or NATS JetStream)."""

    async def start(self) -> None:
        """Connect / create streams. Raises ``BusUnavailableError`` when the server cannot be reached."""
        ...

    async def close(self) -> None:
        """Flush and disconnect."""
        ...

    async def publish(self, message: BusMessage) -> None:
        """Publish on ``message.subject``."""
        ...

    async def subscribe(self, subject: str, durable: str | None = None) -> Subscription:
        """Subscribe to a subject (``*`` and ``>`` wildcards as in NATS).

        With ``durable`` set, a consumer of that name resumes after the last acknowledged message, even
        across a restart of the process (on backends that persist; the local backend keeps it for the process).
        """
        ...
