"""The worker's store outbox: index rows and events reach the shared store in order, even after an outage.

Camera threads never write the shared store (PostgreSQL across a site link) themselves: each segment row and
event change goes into the local :class:`OutboxJournal` with its fencing token, and one delivery thread
writes the journal's rows to the store oldest first, removing each once the store has it. While the store
answers, a row spends milliseconds in the journal (write-through); while it does not (connection refused,
timeout: ``StorageUnavailableError``), rows pile up on local disk, recording goes on, and the thread retries
with a backoff; when the store answers again the rows are replayed in order.

Replay is idempotent: a segment row already indexed (a write whose commit reached the store but whose answer
did not) is refused by the unique ``path`` and counted as a duplicate; an event is an upsert by its id.
Replay respects fencing: a row whose token another worker's takeover has superseded is refused by
``store.fences``, logged with its camera and counted, never merged. The file of a refused segment row is
handed to the ``quarantine`` hook (``FencedSegmentQuarantine``): moved to ``<media>/.quarantine/`` when the
new owner's segments cover its seconds, else indexed anyway (the only copy of those seconds), so that no
file stays in the media folder that nobody indexes.

Alarms do not wait for the store: event changes and segments that wait because the store is away go out on
the bus at once (marked ``published``, so that their replay writes only the row): incidents are raised and
API nodes see no recording gap during an outage. Segments announced so carry no index id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from watchkeeper.bus.messages import BusMessage, EventMessage, SegmentMessage
from watchkeeper.domain import (
    Event,
    Segment,
    StorageUnavailableError,
    WatchkeeperError,
)
from watchkeeper.domain.custody import DataKeyRecord
from watchkeeper.domain.outbox import OutboxSnapshot
from watchkeeper.recorder.quarantine import SetAside, SetAsideKind
from watchkeeper.runtime.outbox_journal import (
    EntryKind,
    NewEntry,
    OutboxEntry,
    OutboxError,
    OutboxJournal,
    describe,
)
from watchkeeper.storage.custody import DataKeyRepository
from watchkeeper.storage.fenced import FencedOutcome, FencedResult, FencedWrite
from watchkeeper.storage.protocols import FenceRepository

log = logging.getLogger(__name__)

Publish = Callable[[BusMessage], None]
"""Hands a message to the bus without waiting (``ThreadBridge.publish``)."""

Quarantine = Callable[[Segment, int], SetAside]
"""Sets aside the file of a segment refused under a stale token: quarantined, indexed anyway, or kept."""
T = TypeVar("T")

BATCH = 100
"""Rows read from the journal and written to the store at a time (one transaction)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the delivery thread waits between tries while the store is away."""

    initial_s: float = 0.5
    max_s: float = 2.0
    write_deadline_s: float = 6.0
    """A store write not answered within this counts as the store being away (a hanging link); the rows
    stay in the journal. The write may still land later: replay is idempotent."""


@dataclass(frozen=True, slots=True)
class OutboxHooks:
    """Optional parts of a :class:`StoreOutbox` (see its constructor)."""

    quarantine: Quarantine | None = None
    store_ready: threading.Event | None = None
    data_keys: DataKeyRepository | None = None


@dataclass(slots=True)
class _Counters:
    """Written by the delivery thread only."""

    delivered: int = 0
    replayed: int = 0
    refused: int = 0
    quarantined: int = 0
    indexed_stale: int = 0
    duplicates: int = 0
    dropped: int = 0
    outages: int = 0
    last_catch_up_rows: int = 0
    last_catch_up_s: float = 0.0


@dataclass(slots=True)
class _CatchUp:
    """A catch-up in progress: since when the store answers again, and how many rows it handled so far."""

    began: float
    replayed: int = 0


class StoreOutbox:
    """Delivers a worker's index rows and events to the shared store through the local journal."""

    def __init__(
        self,
        journal: OutboxJournal,
        fences: FenceRepository,
        publish: Publish,
        retry: RetryPolicy | None = None,
        hooks: OutboxHooks | None = None,
    ) -> None:
        """Deliver ``journal``'s rows through ``fences``; announce written rows with ``publish``.

        ``hooks`` (all optional): ``quarantine`` receives each segment whose row is refused as stale (else its
        file stays in place); with ``store_ready`` (a worker started without its store) nothing is written
        before it is set; ``data_keys`` takes the data keys made while the store was away
        (:meth:`keep_data_key`).
        """
        hooks = hooks or OutboxHooks()
        self._store_ready = hooks.store_ready
        self._data_keys = hooks.data_keys
        self._quarantine = hooks.quarantine
        self._journal = journal
        self._fences = fences
        self._publish = publish
        self._retry = retry or RetryPolicy()
        self._counters = _Counters()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._flush_deadline = 0.0
        self._thread = threading.Thread(target=self._run, name="store-outbox", daemon=True)
        self._away_since: float | None = None
        self._catch_up: _CatchUp | None = None
        self._depth = 0
        self.store_reachable = self._store_ready is None or self._store_ready.is_set()
        """Written by the delivery thread; camera threads read it to announce events at once."""
        if not self.store_reachable:  # started without the store: an outage from the start
            self._away_since = time.monotonic()
            self._counters.outages += 1

    @property
    def path(self) -> str:
        """The journal file."""
        return str(self._journal.path)

    def start(self) -> None:
        """Start delivering (rows left from the last run first)."""
        waiting = self._journal.depth()
        if waiting:
            log.warning("outbox %s holds %s write(s) from the last run: replaying them", self.path, waiting)
            self._catch_up = _CatchUp(time.monotonic())
        self._thread.start()

    def add_segment(self, segment: Segment, token: int) -> None:
        """Queue ``segment``'s index row, recorded under ``token`` (from a camera thread; never blocks long).

        While the store is away the segment is announced on the bus at once (without an index id), so that
        API nodes do not see a recording gap. A journal that cannot be written (disk full) is logged: the
        file stays on disk, unindexed, and the media recovery of a later start indexes it.
        """
        away = not self.store_reachable
        try:
            self._journal.append(NewEntry.of_segment(segment, token, published=away))
        except OutboxError as err:
            log.error(  # noqa: TRY400 - one line
                "camera %s: segment %s not queued for the index: %s",
                segment.camera_id,
                segment.path,
                err,
                extra={"camera": segment.camera_id},
            )
            return
        if away:
            self._publish(SegmentMessage.from_domain(segment))
        self._wake.set()

    def add_event(self, event: Event, event_state: str, token: int) -> None:
        """Queue an event change recorded under ``token``; announce it at once while the store is away.

        A journal that cannot be written is logged and the alarm still goes out on the bus (its row is lost).
        """
        away = not self.store_reachable
        try:
            self._journal.append(NewEntry.of_event(event, event_state, token, published=away))
        except OutboxError as err:
            log.error(  # noqa: TRY400 - one line
                "camera %s: event %s not queued for the store: %s",
                event.camera_id,
                event.id,
                err,
                extra={"camera": event.camera_id},
            )
            away = True
        if away:
            self._publish(EventMessage.from_domain(event, event_state))
        self._wake.set()

    def keep_data_key(self, record: DataKeyRecord) -> None:
        """Queue a wrapped data key made while the store is away, ahead of the segments sealed with it.

        Raises:
            OutboxError: The journal cannot be written (the key must not be used then).
        """
        self._journal.append(NewEntry.of_data_key(record))
        self._wake.set()

    def snapshot(self) -> OutboxSnapshot:
        """The current depth and counters."""
        counters = self._counters
        try:
            self._depth = self._journal.depth()
        except OutboxError as err:  # closed, or the disk failed: the last depth read
            log.debug("outbox depth unavailable: %s", err)
        return OutboxSnapshot(
            depth=self._depth,
            store_reachable=self.store_reachable,
            delivered=counters.delivered,
            replayed=counters.replayed,
            refused=counters.refused,
            quarantined=counters.quarantined,
            indexed_stale=counters.indexed_stale,
            duplicates=counters.duplicates,
            dropped=counters.dropped,
            outages=counters.outages,
            last_catch_up_rows=counters.last_catch_up_rows,
            last_catch_up_s=counters.last_catch_up_s,
        )

    def close(self, flush_timeout_s: float = 10.0) -> None:
        """Deliver what waits (for up to ``flush_timeout_s`` while the store is away), then close the journal.

        Rows still waiting stay in the journal for the next start.
        """
        self._flush_deadline = time.monotonic() + flush_timeout_s
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(flush_timeout_s + 30.0)
        if self._thread.is_alive():  # stuck in a store call that does not time out
            log.error("outbox delivery did not stop; %s keeps its waiting rows", self.path)
            return
        depth = self._journal.depth()
        if depth:
            log.warning("outbox %s keeps %s write(s) for the next start (store away)", self.path, depth)
        self._journal.close()

    def _run(self) -> None:
        while True:
            try:
                self._deliver_all()
            except OutboxError as err:  # the journal itself failed (disk, I/O): keep trying, slowly
                log.error("outbox %s: %s", self.path, err)  # noqa: TRY400 - one line, retried
            except Exception:  # a bug must not end delivery for good: the rows stay, it retries
                log.exception("outbox %s: delivery failed; retrying", self.path)
            else:
                return
            if self._stopping.wait(self._retry.max_s):
                return

    def _deliver_all(self) -> None:
        """Deliver until stopped: the journal's rows oldest first, retrying while the store is away."""
        delay = self._retry.initial_s
        while True:
            self._wake.clear()
            batch = _one_kind(self._journal.head(BATCH))
            if not batch:
                self._finish_catch_up()
                if self._stopping.is_set():
                    return
                self._wake.wait(1.0)
                continue
            try:
                self._deliver_any(batch)
                delay = self._retry.initial_s
            except StorageUnavailableError as err:
                self._store_away(err)
                if self._stopping.is_set():
                    remaining = self._flush_deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    time.sleep(min(delay, remaining))
                else:
                    self._stopping.wait(delay)
                delay = min(delay * 2, self._retry.max_s)

    def _deliver_any(self, batch: list[OutboxEntry]) -> None:
        """Deliver ``batch`` (rows of one kind: see ``_one_kind``); ``StorageUnavailableError`` propagates."""
        if self._store_ready is not None and not self._store_ready.is_set():
            raise StorageUnavailableError("the store has not answered since start-up")
        if batch[0].kind is EntryKind.DATA_KEY:
            self._deliver_keys(batch)
        else:
            self._deliver(batch)

    def _deliver(self, batch: list[OutboxEntry]) -> None:
        """Write ``batch`` in one transaction and remove it (``StorageUnavailableError`` propagates).

        A row that cannot be read is dropped; a batch the store refuses for another reason (a bad row) is
        written again one row at a time, so only the bad row is dropped.
        """
        entries: list[OutboxEntry] = []
        writes: list[FencedWrite] = []
        for entry in batch:
            try:
                writes.append(_write_of(entry))
            except WatchkeeperError as err:
                self._dropped(entry, err)
                continue
            entries.append(entry)
        attempt = time.monotonic()
        try:
            results = self._bounded(lambda: self._fences.write_batch(writes)) if writes else []
        except StorageUnavailableError:
            raise
        except Exception as err:
            if len(entries) > 1:
                for entry in entries:
                    self._deliver([entry])
                self._journal.remove_through(batch[-1].seq)
                return
            self._dropped(entries[0], err)
            results, entries, writes = [], [], []
        self._store_back(attempt)
        for entry, write, result in zip(entries, writes, results, strict=True):
            self._handled(entry, write, result)
        self._journal.remove_through(batch[-1].seq)
        if self._catch_up is not None:
            self._catch_up.replayed += len(batch)

    def _deliver_keys(self, batch: list[OutboxEntry]) -> None:
        """Store the wrapped data keys of ``batch`` (idempotent; errors other than unreadable rows propagate).

        A key is never dropped for a store error: the files sealed with it cannot be read without it.
        """
        attempt = time.monotonic()
        for entry in batch:
            try:
                record = entry.data_key()
            except OutboxError as err:
                self._dropped(entry, err)
                continue
            if self._data_keys is None:
                raise OutboxError(f"{describe(entry)} waits, but this outbox has no data key store")
            self._bounded(partial(self._data_keys.keep, record))
            log.info("camera %s: %s reached the store", entry.camera_id, describe(entry))
        self._store_back(attempt)
        self._journal.remove_through(batch[-1].seq)
        if self._catch_up is not None:
            self._catch_up.replayed += len(batch)

    def _bounded(self, call: Callable[[], T]) -> T:
        """``call()`` in a helper thread, waited for ``write_deadline_s`` at most.

        Raises:
            StorageUnavailableError: No answer in time (the call is left to finish or fail on its own; the
                connection's TCP checks end it on a dead link) or the store is unreachable.
        """
        answer: Future[T] = Future()

        def run() -> None:
            try:
                answer.set_result(call())
            except BaseException as err:  # handed to the delivery thread
                answer.set_exception(err)

        threading.Thread(target=run, name="store-outbox-write", daemon=True).start()
        deadline = self._retry.write_deadline_s
        try:
            return answer.result(deadline)
        except FutureTimeoutError as err:
            raise StorageUnavailableError(
                f"the store did not answer within {deadline:.0f} s (the link hangs?)"
            ) from err

    def _handled(self, entry: OutboxEntry, write: FencedWrite, result: FencedResult) -> None:
        """Announce and count one written row, or log and count a refused or duplicate one."""
        if result.outcome is FencedOutcome.STALE:
            self._refused(entry)
            return
        if result.outcome is FencedOutcome.DUPLICATE:
            self._counters.duplicates += 1
            log.info(
                "camera %s: %s was already indexed (replayed)",
                entry.camera_id,
                describe(entry),
                extra={"camera": entry.camera_id},
            )
            return
        if self._catch_up is None:
            self._counters.delivered += 1
        else:
            self._counters.replayed += 1
        if entry.published:
            return
        if result.segment is not None:
            self._publish(SegmentMessage.from_domain(result.segment))
        elif write.event is not None:
            self._publish(entry.event())

    def _dropped(self, entry: OutboxEntry, err: BaseException) -> None:
        self._counters.dropped += 1
        log.error(
            "camera %s: %s could not be written and is dropped: %s",
            entry.camera_id,
            describe(entry),
            err,
            extra={"camera": entry.camera_id},
        )

    def _refused(self, entry: OutboxEntry) -> None:
        self._counters.refused += 1
        announced = " (it was announced on the bus while the store was away)" if entry.published else ""
        log.warning(
            "camera %s: %s refused, fencing token %s is stale (another worker has the camera)%s%s",
            entry.camera_id,
            describe(entry),
            entry.token,
            announced,
            self._set_aside(entry),
            extra={"camera": entry.camera_id},
        )

    def _set_aside(self, entry: OutboxEntry) -> str:
        """Set aside the file of a refused segment row; what became of it, for the refusal's log line."""
        if entry.kind is not EntryKind.SEGMENT or self._quarantine is None:
            return ""
        try:
            segment = entry.segment()
        except WatchkeeperError:
            return ""
        outcome = self._quarantine(segment, entry.token)
        if outcome.kind is SetAsideKind.QUARANTINED:
            self._counters.quarantined += 1
        elif outcome.kind is SetAsideKind.INDEXED:
            self._counters.indexed_stale += 1
        return outcome.describe()

    def _announce_waiting(self) -> None:
        """Announce every waiting write not yet on the bus (the store is away): alarms must not wait."""
        for entry in self._journal.unpublished():
            try:
                message: BusMessage = (
                    SegmentMessage.from_domain(entry.segment())
                    if entry.kind is EntryKind.SEGMENT
                    else entry.event()
                )
            except WatchkeeperError as err:
                log.error("outbox row %s cannot be announced: %s", entry.seq, err)  # noqa: TRY400
                continue
            self._publish(message)
            self._journal.mark_published(entry.seq)

    def _store_away(self, err: StorageUnavailableError) -> None:
        if self._away_since is None:
            self._away_since = time.monotonic()
            self._catch_up = None
            self.store_reachable = False
            self._counters.outages += 1
            log.error(
                "store unreachable: %s; recording goes on, index rows and events wait in %s (%s waiting)",
                err,
                self.path,
                self._journal.depth(),
            )
        self._announce_waiting()

    def _store_back(self, attempt: float) -> None:
        """The store took a batch begun at ``attempt`` (monotonic) after an outage: catch-up began then."""
        if self._away_since is None:
            return
        away_s = attempt - self._away_since
        self._away_since = None
        self.store_reachable = True
        waiting = self._journal.depth()
        self._catch_up = _CatchUp(attempt)
        log.warning(
            "store reachable again after %.1f s: replaying %s waiting write(s) from %s",
            away_s,
            waiting,
            self.path,
        )

    def _finish_catch_up(self) -> None:
        catch_up = self._catch_up
        if catch_up is None:
            return
        self._catch_up = None
        took_s = time.monotonic() - catch_up.began
        self._counters.last_catch_up_rows = catch_up.replayed
        self._counters.last_catch_up_s = took_s
        rate = catch_up.replayed / took_s if took_s > 0 else 0.0
        log.warning(
            "outbox caught up: %s write(s) replayed in %.2f s (%.0f/s); %s refused as stale so far",
            catch_up.replayed,
            took_s,
            rate,
            self._counters.refused,
        )


def _one_kind(batch: list[OutboxEntry]) -> list[OutboxEntry]:
    """The leading rows of ``batch`` that are all data keys, or all index rows and events."""
    if not batch:
        return batch
    keys = batch[0].kind is EntryKind.DATA_KEY
    for index, entry in enumerate(batch):
        if (entry.kind is EntryKind.DATA_KEY) is not keys:
            return batch[:index]
    return batch


def _write_of(entry: OutboxEntry) -> FencedWrite:
    """The fenced write of an outbox row.

    Raises:
        OutboxError: The row cannot be read.
    """
    if entry.kind is EntryKind.SEGMENT:
        return FencedWrite(entry.token, segment=entry.segment())
    return FencedWrite(entry.token, event=entry.event().to_domain())
