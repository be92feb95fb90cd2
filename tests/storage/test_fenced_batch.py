"""Batches of fenced index writes on SQLite and PostgreSQL: one transaction, each under its own token."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.storage.fence_rows import CAM, OTHER, T0, segment
from watchkeeper.domain import Event, EventKind
from watchkeeper.storage.fenced import FencedOutcome, FencedWrite
from watchkeeper.storage.protocols import Store


def test_a_batch_writes_in_order_and_says_what_became_of_each_write(store: Store) -> None:
    assert store.fences.add_segment(segment(0, OTHER), 9) is not None  # OTHER was taken over: token 9
    event = Event("ev-1", CAM, EventKind.MOTION, T0, T0 + timedelta(seconds=1), 0.5)
    results = store.fences.write_batch(
        [
            FencedWrite(5, segment=segment(1)),
            FencedWrite(5, event=event),
            FencedWrite(5, segment=segment(1)),  # the same path again: nothing written
            FencedWrite(4, segment=segment(2, OTHER)),  # stale for OTHER
            FencedWrite(6, segment=segment(2)),  # a newer token of CAM in the same batch
            FencedWrite(5, segment=segment(3)),  # ... after which token 5 is stale
        ]
    )
    outcomes = [result.outcome for result in results]
    assert outcomes == [
        FencedOutcome.WRITTEN,
        FencedOutcome.WRITTEN,
        FencedOutcome.DUPLICATE,
        FencedOutcome.STALE,
        FencedOutcome.WRITTEN,
        FencedOutcome.STALE,
    ]
    assert results[0].segment is not None
    assert results[0].segment.id is not None
    paths = [item.path for item in store.segments.list(CAM, limit=10)]
    assert sorted(paths) == [segment(1).path, segment(2).path]
    assert [item.path for item in store.segments.list(OTHER, limit=10)] == [segment(0, OTHER).path]
    assert store.events.get("ev-1") is not None
    assert store.fences.newest(CAM) == 6
    # After token 6 was admitted, token 5 is stale for CAM.
    stale = store.fences.write_batch([FencedWrite(5, segment=segment(4))])
    assert [result.outcome for result in stale] == [FencedOutcome.STALE]


def test_a_fenced_write_carries_exactly_one_row() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        FencedWrite(1)
    with pytest.raises(ValueError, match="non-negative"):
        FencedWrite(-1, segment=segment(0))
