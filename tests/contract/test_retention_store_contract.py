"""Evidence locks and retention queries: one behaviour suite for SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.domain import CameraId, ConflictError, Event, EventKind, NotFoundError, Segment
from watchkeeper.domain.evidence import EvidenceLock
from watchkeeper.storage.protocols import Store

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
CAM = CameraId("gate-north")
OTHER = CameraId("dock-east")


def add_seg(store: Store, start_s: float, end_s: float, camera: CameraId = CAM, size: int = 1000) -> Segment:
    return store.segments.add(
        Segment(
            camera_id=camera,
            start=T0 + timedelta(seconds=start_s),
            end=T0 + timedelta(seconds=end_s),
            path=f"{camera}/{start_s:09.3f}.mp4",
            size_bytes=size,
            video_codec="h264",
            width=320,
            height=180,
            keyframes=1,
        )
    )


def lock(start_s: float, end_s: float, camera: CameraId = CAM) -> EvidenceLock:
    return EvidenceLock(
        camera_id=camera,
        start=T0 + timedelta(seconds=start_s),
        end=T0 + timedelta(seconds=end_s),
        reason="incident 42",
        created_by="alice",
        created_at=T0,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- evidence locks ----------------------------------------------------------------------------------


def test_locks_are_added_listed_and_released(store: Store) -> None:
    first = store.evidence_locks.add(lock(100, 200))
    second = store.evidence_locks.add(lock(0, 50, OTHER))
    assert first.id is not None
    assert second.id is not None
    assert first.active
    assert store.evidence_locks.get(first.id) == first
    assert [item.id for item in store.evidence_locks.list()] == [second.id, first.id]
    assert [item.id for item in store.evidence_locks.list(CAM)] == [first.id]

    released = store.evidence_locks.release(first.id, at(300))
    assert released.released_at == at(300)
    assert not released.active
    assert [item.id for item in store.evidence_locks.list(CAM)] == []
    assert store.evidence_locks.list(CAM, active_only=False) == [released]
    assert store.evidence_locks.get(999_999) is None


@pytest.mark.parametrize(
    ("lock_id", "release_twice", "expected"),
    [(999_999, False, NotFoundError), (None, True, ConflictError)],
)
def test_release_errors(
    store: Store, lock_id: int | None, release_twice: bool, expected: type[Exception]
) -> None:
    added = store.evidence_locks.add(lock(0, 10))
    target = lock_id if lock_id is not None else added.id
    assert target is not None
    if release_twice:
        store.evidence_locks.release(target, at(20))
    with pytest.raises(expected):
        store.evidence_locks.release(target, at(30))


def test_lock_validation_and_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="after its start"):
        lock(10, 10)
    with pytest.raises(ValueError, match="reason"):
        EvidenceLock(CAM, at(0), at(1), " ", "alice", T0)
    with pytest.raises(ValueError, match="naive"):
        store.evidence_locks.release(store.evidence_locks.add(lock(0, 1)).id or 0, datetime(2024, 1, 1))


# --- retention queries -------------------------------------------------------------------------------


def test_expired_separates_continuous_and_event_footage_and_skips_locks(store: Store) -> None:
    plain = add_seg(store, 0, 10)
    with_event = add_seg(store, 10, 20)
    locked = add_seg(store, 20, 30)
    recent = add_seg(store, 1000, 1010)
    add_seg(store, 0, 10, OTHER)
    store.events.upsert(Event("e1", CAM, EventKind.MOTION, at(12), at(15), 0.9))
    store.events.upsert(Event("e2", OTHER, EventKind.MOTION, at(0), at(30), 0.9))  # other camera: no effect
    store.evidence_locks.add(lock(25, 26))

    continuous = store.retention.expired(CAM, at(500), with_events=False)
    assert [s.id for s in continuous] == [plain.id]
    events = store.retention.expired(CAM, at(500), with_events=True)
    assert [s.id for s in events] == [with_event.id]
    assert store.retention.expired(CAM, at(19), with_events=True) == []  # must END before the cut-off
    everything = store.retention.expired(CAM, at(2000), with_events=False)
    assert [s.id for s in everything] == [plain.id, recent.id]
    assert locked.id not in [s.id for s in everything]


def test_an_open_event_protects_everything_after_its_start(store: Store) -> None:
    before = add_seg(store, 0, 10)
    add_seg(store, 20, 30)
    add_seg(store, 100, 110)
    store.events.upsert(Event("open", CAM, EventKind.MOTION, at(15), None, 0.5))
    assert [s.id for s in store.retention.expired(CAM, at(500), with_events=False)] == [before.id]
    assert len(store.retention.expired(CAM, at(500), with_events=True)) == 2


def test_a_released_lock_no_longer_protects(store: Store) -> None:
    segment = add_seg(store, 0, 10)
    held = store.evidence_locks.add(lock(5, 6))
    assert store.retention.oldest_unlocked() == []
    store.evidence_locks.release(held.id or 0, at(100))
    assert [s.id for s in store.retention.oldest_unlocked()] == [segment.id]


def test_oldest_unlocked_spans_cameras_oldest_first(store: Store) -> None:
    b = add_seg(store, 10, 20, OTHER)
    a = add_seg(store, 0, 10, CAM)
    c = add_seg(store, 20, 30, CAM)
    add_seg(store, 30, 40, OTHER)
    store.evidence_locks.add(lock(31, 32, OTHER))
    assert [s.id for s in store.retention.oldest_unlocked()] == [a.id, b.id, c.id]
    assert [s.id for s in store.retention.oldest_unlocked(limit=2)] == [a.id, b.id]
    with pytest.raises(ValueError, match="limit"):
        store.retention.oldest_unlocked(limit=-1)


def test_delete_unlocked_removes_file_first_then_row_and_respects_locks(store: Store) -> None:
    gone = add_seg(store, 0, 10)
    failing = add_seg(store, 10, 20)
    locked = add_seg(store, 20, 30)
    store.evidence_locks.add(lock(21, 22))
    seen: list[str] = []

    def remove(segment: Segment) -> bool:
        seen.append(segment.path)
        return segment.id != failing.id  # that file "cannot be deleted": its row stays

    ids = [s.id for s in (gone, failing, locked) if s.id is not None]
    evicted = store.retention.delete_unlocked([*ids, 999_999], remove)
    assert [s.id for s in evicted] == [gone.id]
    assert seen == [gone.path, failing.path]  # the locked one was never offered
    assert store.segments.get(gone.id or 0) is None
    assert store.segments.get(failing.id or 0) is not None
    assert store.segments.get(locked.id or 0) is not None


def test_delete_total_bytes_page_paths_and_camera_ids(store: Store) -> None:
    segments = [add_seg(store, i * 10, i * 10 + 10, size=100 + i) for i in range(5)]
    add_seg(store, 0, 10, OTHER, size=1)
    assert store.retention.total_bytes() == sum(100 + i for i in range(5)) + 1
    assert store.retention.total_bytes(OTHER) == 1
    assert list(store.retention.camera_ids()) == [OTHER, CAM]
    first = store.retention.page(0, 2)
    assert [s.id for s in first] == [segments[0].id, segments[1].id]
    assert [s.id for s in store.retention.page(first[-1].id or 0, 100)][:3] == [s.id for s in segments[2:5]]
    assert store.retention.indexed_paths(CAM, at(10), at(30)) == {segments[1].path, segments[2].path}
    assert store.retention.delete([segments[0].id or 0, segments[1].id or 0, 999_999]) == 2
    assert store.retention.total_bytes(CAM) == 102 + 103 + 104
    assert store.retention.delete([]) == 0


def test_camera_page_walks_one_camera_in_start_order(store: Store) -> None:
    later = add_seg(store, 50, 60)
    earlier = [add_seg(store, 0, 10), add_seg(store, 10, 20)]
    same_start = store.segments.add(replace(earlier[1], id=None, path=f"{CAM}/tie.mp4"))  # ties: by id
    add_seg(store, 0, 10, OTHER)
    walked: list[int | None] = []
    after = None
    while page := store.retention.camera_page(CAM, after, 2):
        assert len(page) <= 2
        walked += [segment.id for segment in page]
        after = page[-1]
    assert walked == [earlier[0].id, earlier[1].id, same_start.id, later.id]
    with pytest.raises(ValueError, match="no id"):
        store.retention.camera_page(CAM, replace(later, id=None))


def test_eviction_never_deletes_footage_locked_concurrently(store: Store) -> None:
    """Locks and evictions racing from two threads: whatever the order, locked footage survives."""
    segments = [add_seg(store, i * 10, i * 10 + 10) for i in range(40)]
    ids = [s.id or 0 for s in segments]
    locked_range = lock(195, 205)  # overlaps segments 19 and 20
    barrier = threading.Barrier(2)

    def add_lock() -> None:
        barrier.wait()
        store.evidence_locks.add(locked_range)

    thread = threading.Thread(target=add_lock)
    thread.start()
    barrier.wait()
    evicted = store.retention.delete_unlocked(ids, lambda _segment: True)
    thread.join()
    remaining = {s.id for s in store.segments.list(CAM)}
    # Either the eviction committed first (all 40 gone, the lock came later) or the lock did (19, 20 kept).
    assert (len(evicted) == 40 and not remaining) or remaining == {ids[19], ids[20]}
