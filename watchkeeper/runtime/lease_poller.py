"""Reading the cluster's lease status in the background on an API node (holder watch, site directory).

Both need the same loop: connect to the lease server lazily, read the status every so often, say once (not
at every read) when it cannot be read and once when it can again, and close the connection on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from watchkeeper.cluster.errors import ClusterError
from watchkeeper.cluster.model import ClusterStatus
from watchkeeper.cluster.protocol import ClusterControl
from watchkeeper.domain import WatchkeeperError
from watchkeeper.domain.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollerSettings:
    """How a :class:`LeasePoller` reads.

    Attributes:
        poll_s: Seconds between reads.
        name: The background task's name (and the log's, when reads work again).
        consequence: What does not happen while the leases cannot be read (said in the outage line).
    """

    poll_s: float
    name: str
    consequence: str


class LeasePoller:
    """Reads the cluster status every ``poll_s`` and hands each one to ``on_status`` (start / stop)."""

    def __init__(
        self,
        open_control: Callable[[], Awaitable[ClusterControl]],
        on_status: Callable[[ClusterStatus], Awaitable[None]],
        settings: PollerSettings,
    ) -> None:
        """Read through ``open_control()`` (connected at the first read); nothing runs before ``start``."""
        self._open_control = open_control
        self._on_status = on_status
        self._settings = settings
        self._control: ClusterControl | None = None
        self._task: asyncio.Task[None] | None = None
        self._outage_logged = False

    async def start(self) -> None:
        """Start reading in the background (the lease server is connected there: never fails)."""
        self._task = asyncio.create_task(self._run(), name=self._settings.name)

    async def stop(self) -> None:
        """Stop reading and close the connection."""
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
        if self._control is not None:
            with contextlib.suppress(WatchkeeperError):
                await self._control.close()
            self._control = None

    async def read_once(self) -> None:
        """Read the status once and hand it on; a failure is logged once per outage and skipped."""
        try:
            if self._control is None:
                self._control = await self._open_control()
            status = await self._control.status()
        except ClusterError as err:
            if not self._outage_logged:
                log.warning("cannot read the camera leases: %s (%s)", err, self._settings.consequence)
                self._outage_logged = True
            return
        if self._outage_logged:
            log.info("camera leases readable again (%s)", self._settings.name)
            self._outage_logged = False
        await self._on_status(status)

    async def _run(self) -> None:
        while True:
            await self.read_once()
            await asyncio.sleep(self._settings.poll_s)
