"""The tier queries of the recording index: one behaviour suite for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.contract.test_retention_store_contract import CAM, OTHER, add_seg, at, lock
from tests.storage.pg import migrated_store
from watchkeeper.domain import StorageTier
from watchkeeper.domain.segment import TierCounts
from watchkeeper.storage.protocols import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request.param, tmp_path) as opened:
        yield opened


def test_new_segments_are_hot(store: Store) -> None:
    segment = add_seg(store, 0, 10)
    assert segment.tier is StorageTier.HOT
    assert segment.object_key is None
    assert segment.sha256 is None


def test_hot_candidates_by_end_and_by_start_with_offsets(store: Store) -> None:
    first = add_seg(store, 0, 10)
    second = add_seg(store, 5, 20, camera=OTHER)
    third = add_seg(store, 30, 40)
    assert [s.id for s in store.tiers.hot_ending_before(at(20))] == [first.id, second.id]
    assert [s.id for s in store.tiers.hot_ending_before(at(100), limit=1, offset=1)] == [second.id]
    assert [s.id for s in store.tiers.oldest_hot(limit=2)] == [first.id, second.id]
    assert [s.id for s in store.tiers.oldest_hot(offset=2)] == [third.id]
    with pytest.raises(ValueError, match=">= 0"):
        store.tiers.oldest_hot(offset=-1)


def test_mark_warm_switches_once_and_keeps_everything_else(store: Store) -> None:
    segment = add_seg(store, 0, 10, size=4000)
    other = add_seg(store, 20, 30)
    warm = store.tiers.mark_warm(segment.id or 0, "segments/a.mp4", "ab" * 32)
    assert warm is not None
    assert warm.tier is StorageTier.WARM
    assert (warm.object_key, warm.sha256) == ("segments/a.mp4", "ab" * 32)
    assert (warm.path, warm.size_bytes, warm.start) == (segment.path, 4000, segment.start)
    assert store.segments.get(segment.id or 0) == warm
    assert store.tiers.mark_warm(segment.id or 0, "segments/b.mp4", "cd" * 32) is None  # already warm
    assert store.tiers.mark_warm(999_999, "segments/c.mp4", "ef" * 32) is None  # gone
    assert [s.id for s in store.tiers.oldest_hot()] == [other.id]
    assert store.tiers.counts() == TierCounts(
        hot_segments=1, hot_bytes=1000, warm_segments=1, warm_bytes=4000
    )


def test_local_only_eviction_skips_warm_and_locked_segments(store: Store) -> None:
    warm = add_seg(store, 0, 10)
    store.tiers.mark_warm(warm.id or 0, "segments/w.mp4", "00" * 32)
    locked = add_seg(store, 20, 30)
    store.evidence_locks.add(lock(20, 30))
    hot = add_seg(store, 40, 50, camera=CAM)
    assert [s.id for s in store.retention.oldest_unlocked(tier=StorageTier.HOT)] == [hot.id]
    assert [s.id for s in store.retention.oldest_unlocked()] == [warm.id, hot.id]
    assert (
        store.tiers.hot_ending_before(at(60) + timedelta(days=1))[0].id == locked.id
    )  # locks don't block moves


def test_warm_rows_are_walked_by_id_in_pages(store: Store) -> None:
    segments = [add_seg(store, 10 * n, 10 * n + 5) for n in range(5)]
    for segment in (segments[0], segments[2], segments[3]):
        store.tiers.mark_warm(segment.id or 0, f"segments/{segment.id}.mp4", "ab" * 32)
    first = store.tiers.warm_after(0, limit=2)
    assert [s.id for s in first] == [segments[0].id, segments[2].id]
    assert all(s.tier is StorageTier.WARM for s in first)
    assert [s.id for s in store.tiers.warm_after(first[-1].id or 0)] == [segments[3].id]
    assert store.tiers.warm_after(segments[3].id or 0) == []
    with pytest.raises(ValueError, match=">= 0"):
        store.tiers.warm_after(0, limit=-1)
