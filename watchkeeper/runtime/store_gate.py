"""A worker that starts while the shared store is away: the store is opened in the background.

A ``--role worker`` process does not need PostgreSQL to record: cameras come from the configuration file,
index rows and events wait in the store outbox. When the store does not answer at start-up, the worker
starts anyway and :class:`StoreGate` keeps trying to open (and migrate) it; the jobs that need the store
(inventory sync, retention, tiering, the configuration audit record) are queued with
:meth:`StoreGate.after_ready` and run once, in order, when it answers. Each state change is one log line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from watchkeeper.domain import StorageUnavailableError, WatchkeeperError

log = logging.getLogger(__name__)

Opener = Callable[[], None]
"""Opens (and migrates) the store; raises ``StorageUnavailableError`` while it is away."""


@dataclass(frozen=True, slots=True)
class GateRetry:
    """How often the gate tries the store while it is away (doubling from ``initial_s`` to ``max_s``)."""

    initial_s: float = 1.0
    max_s: float = 10.0


@dataclass(frozen=True, slots=True)
class DeferredJob:
    """A start-up job that needs the store, and its name for the log."""

    name: str
    run: Callable[[], object]


class StoreGate:
    """Opens the store in the background and runs the jobs that wait for it (thread-safe)."""

    def __init__(self, opener: Opener, where: str, retry: GateRetry | None = None) -> None:
        """Open with ``opener``; ``where`` names the store in the log (its URL without password)."""
        self._opener = opener
        self._where = where
        self._retry = retry or GateRetry()
        self._lock = threading.Lock()
        self._jobs: list[DeferredJob] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        """Set once the store was opened; the jobs queued before then have run (or failed) after it."""

    def try_now(self) -> bool:
        """Try to open the store once (blocking); True when it answered.

        A store that does not answer is logged once, in one line; :meth:`start` keeps trying.
        """
        try:
            self._opener()
        except StorageUnavailableError as err:
            log.error(  # noqa: TRY400 - one line; retried in the background
                "store %s unreachable at start-up: %s; recording goes on, index rows and events wait in "
                "the outbox; inventory sync, recovery, retention and tiering wait for the store",
                self._where,
                err,
            )
            return False
        with self._lock:
            self.ready.set()
        return True

    def after_ready(self, name: str, job: Callable[[], object]) -> None:
        """Run ``job`` now (in this thread) when the store is open, else once it is (in the gate's thread).

        A job that fails is logged in one line; the others still run.
        """
        with self._lock:
            if not self.ready.is_set():
                self._jobs.append(DeferredJob(name, job))
                return
        _run(DeferredJob(name, job))

    def start(self) -> None:
        """Keep trying the store in the background (nothing to do when it is open already)."""
        if self.ready.is_set() or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="store-gate", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop trying (queued jobs that have not run are dropped; the next start runs them)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(30.0)

    def _run(self) -> None:
        delay = self._retry.initial_s
        while not self._stopping.wait(delay):
            try:
                self._opener()
            except StorageUnavailableError as err:
                log.debug("store %s still unreachable: %s", self._where, err)
                delay = min(delay * 2, self._retry.max_s)
                continue
            except WatchkeeperError as err:  # it answers but cannot be opened (a migration failed): retry
                log.error("store %s cannot be opened: %s", self._where, err)  # noqa: TRY400 - one line
                delay = self._retry.max_s
                continue
            with self._lock:
                jobs, self._jobs = self._jobs, []
                self.ready.set()
            log.warning(
                "store %s reachable: running what waited for it (%s)",
                self._where,
                ", ".join(job.name for job in jobs) or "nothing",
            )
            for job in jobs:
                if self._stopping.is_set():
                    return
                _run(job)
            return


def _run(job: DeferredJob) -> None:
    try:
        job.run()
    except WatchkeeperError as err:
        log.error("%s failed: %s (it runs again at the next start)", job.name, err)  # noqa: TRY400
