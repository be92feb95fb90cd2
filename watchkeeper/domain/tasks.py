"""Stopping background tasks: cancel them all, then wait until each has finished its clean-up."""

import asyncio
import contextlib
from collections.abc import Iterable


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object]]) -> None:
    """Cancel every task in ``tasks``, then await each in turn.

    A task's cancellation is absorbed here; any other exception a task ended with is raised (the tasks
    after it are then cancelled but not awaited). Tasks that had already finished are awaited as they are.
    """
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task
