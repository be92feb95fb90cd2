"""The state of a worker's store outbox, as the runtime reports it and the metrics export it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutboxSnapshot:
    """The outbox's state and counters since start-up (for metrics, health and tests).

    Attributes:
        depth: Rows waiting in the journal now.
        store_reachable: False from a failed write until the next one succeeds.
        delivered: Rows written as soon as they came (the store answered).
        replayed: Rows written after waiting for the store (an outage, or left from the last run).
        refused: Rows the store refused because their fencing token was stale (another worker took over).
        quarantined: Files of refused segment rows moved to the media folder's quarantine.
        duplicates: Segment rows already indexed when replayed (nothing written twice).
        dropped: Rows neither written nor kept: unreadable, or refused by the store for another reason.
        outages: Times the store went away.
        last_catch_up_rows: Rows replayed in the last catch-up (from the store's return to an empty outbox).
        last_catch_up_s: Seconds that catch-up took.
        indexed_stale: Refused segment rows indexed anyway because nobody else recorded their seconds.
    """

    depth: int
    store_reachable: bool
    delivered: int
    replayed: int
    refused: int
    quarantined: int
    duplicates: int
    dropped: int
    outages: int
    last_catch_up_rows: int
    last_catch_up_s: float
    indexed_stale: int = 0
