"""Publishing from threads that are not the bus's event loop (camera workers run in threads)."""

import asyncio
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

from watchkeeper.bus.errors import BusError


def run_threadsafe(
    loop: asyncio.AbstractEventLoop | None, coroutine: Coroutine[Any, Any, None], owner: str
) -> Future[None]:
    """Schedule ``coroutine`` on ``loop`` from any thread and return its future at once.

    Args:
        loop: The loop the bus was started on (``None`` when it has not been started).
        coroutine: The publish to run there.
        owner: Name of the bus, for error messages.

    Raises:
        BusError: when the bus was never started or its loop is closed (the coroutine is discarded).
    """
    if loop is None or loop.is_closed():
        coroutine.close()
        raise BusError(f"{owner} is not running: start it with `await bus.start()` on an event loop first")
    return asyncio.run_coroutine_threadsafe(coroutine, loop)
