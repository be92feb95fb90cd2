"""A daemon thread that runs one housekeeping pass (retention, tiering) at start-up and then periodically."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from watchkeeper.domain import WatchkeeperError

log = logging.getLogger(__name__)


class PeriodicPass:
    """Runs ``run_once`` at start-up and then every ``interval_s`` seconds until stopped.

    A pass that fails with a ``WatchkeeperError`` or ``OSError`` is logged in one line and retried at the next
    interval; the thread never dies of it.
    """

    def __init__(self, name: str, run_once: Callable[[], object], interval_s: float) -> None:
        """Prepare the thread ``name``; ``start()`` launches it."""
        self._name = name
        self._run_once = run_once
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop (after the pass in progress) and wait for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True (at once) when the loop is being stopped."""
        return self._stop.wait(seconds)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._run_once()
            except (WatchkeeperError, OSError) as err:
                log.error("%s pass failed: %s", self._name, err)  # noqa: TRY400 - retried next interval
            self._stop.wait(self._interval_s)
