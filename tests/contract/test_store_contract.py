"""One behaviour suite for every ``Store`` backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.storage.pg import fresh_pg_database
from watchkeeper.domain import (
    Camera,
    CameraId,
    ConflictError,
    DuplicateError,
    Event,
    EventKind,
    MapPosition,
    Segment,
    Site,
    SiteId,
    StorageUnavailableError,
)
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
CAM = CameraId("gate-north")
OTHER = CameraId("dock-east")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wk.db'}"
        return
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


def seg(start_s: float, end_s: float, camera: CameraId = CAM, path: str | None = None) -> Segment:
    return Segment(
        camera_id=camera,
        start=T0 + timedelta(seconds=start_s),
        end=T0 + timedelta(seconds=end_s),
        path=path or f"{camera}/{start_s:09.3f}.mp4",
        size_bytes=1_000_000,
        video_codec="h264",
        width=1920,
        height=1080,
        keyframes=5,
    )


def ev(event_id: str, start_s: float, camera: CameraId = CAM, end_s: float | None = None) -> Event:
    end = None if end_s is None else T0 + timedelta(seconds=end_s)
    return Event(event_id, camera, EventKind.MOTION, T0 + timedelta(seconds=start_s), end, 0.5, "motion")


# --- sites and cameras -------------------------------------------------------------------------------


def test_sites_upsert_inserts_updates_and_lists_by_id(store: Store) -> None:
    store.sites.upsert(Site(SiteId("b-depot"), "Depot"))
    store.sites.upsert(Site(SiteId("a-campus"), "Campus"))
    store.sites.upsert(Site(SiteId("b-depot"), "Depot West"))
    assert list(store.sites.list()) == [
        Site(SiteId("a-campus"), "Campus"),
        Site(SiteId("b-depot"), "Depot West"),
    ]


def test_cameras_round_trip_with_and_without_position(store: Store) -> None:
    store.sites.upsert(Site(SiteId("campus"), "Campus"))
    placed = Camera(CAM, "Gate north", SiteId("campus"), MapPosition(52.1, -4.25, 90.0, 70.0, "1"), True)
    bare = Camera(OTHER, "Dock east", SiteId("campus"), None, enabled=False)
    store.cameras.upsert(placed)
    store.cameras.upsert(bare)
    assert store.cameras.get(CAM) == placed
    assert store.cameras.get(OTHER) == bare
    assert store.cameras.get(CameraId("missing")) is None


def test_cameras_upsert_updates_and_list_filters_by_site_in_id_order(store: Store) -> None:
    store.sites.upsert(Site(SiteId("s1"), "One"))
    store.sites.upsert(Site(SiteId("s2"), "Two"))
    store.cameras.upsert(Camera(CameraId("c3"), "C3", SiteId("s1")))
    store.cameras.upsert(Camera(CameraId("c1"), "C1", SiteId("s2")))
    store.cameras.upsert(Camera(CameraId("c2"), "C2", SiteId("s1")))
    store.cameras.upsert(Camera(CameraId("c1"), "C1 moved", SiteId("s1"), MapPosition(1.0, 2.0)))
    assert [c.id for c in store.cameras.list()] == ["c1", "c2", "c3"]
    assert [c.id for c in store.cameras.list(SiteId("s1"))] == ["c1", "c2", "c3"]
    assert store.cameras.list(SiteId("s2")) == []
    assert store.cameras.get(CameraId("c1")) == Camera(
        CameraId("c1"), "C1 moved", SiteId("s1"), MapPosition(1.0, 2.0)
    )


def test_camera_of_unknown_site_is_a_conflict(store: Store) -> None:
    with pytest.raises(ConflictError, match="unknown site 'nowhere'"):
        store.cameras.upsert(Camera(CAM, "Gate", SiteId("nowhere")))
    assert store.cameras.list() == []


# --- segments ----------------------------------------------------------------------------------------


def test_segment_add_assigns_ids_and_get_returns_it(store: Store) -> None:
    first = store.segments.add(seg(0, 10))
    second = store.segments.add(seg(10, 20))
    assert first.id is not None
    assert second.id is not None
    assert second.id > first.id
    assert store.segments.get(first.id) == first
    assert store.segments.get(999_999) is None


def test_segment_list_is_oldest_first_per_camera(store: Store) -> None:
    for start in (20, 0, 10):
        store.segments.add(seg(start, start + 10))
    store.segments.add(seg(5, 15, camera=OTHER))
    assert [s.start for s in store.segments.list(CAM)] == [
        T0,
        T0 + timedelta(seconds=10),
        T0 + timedelta(seconds=20),
    ]
    assert [s.camera_id for s in store.segments.list(OTHER)] == [OTHER]


@pytest.mark.parametrize(
    ("start_s", "end_s", "expected_starts"),
    [
        (None, None, [0, 10, 20]),
        (10, 20, [10]),  # touching neighbours [0,10) and [20,30) do not overlap [10,20)
        (5, 25, [0, 10, 20]),
        (9.999, 10.001, [0, 10]),
        (30, None, []),
        (None, 0, []),
        (None, 10, [0]),
        (25, None, [20]),
    ],
)
def test_segment_list_returns_segments_overlapping_the_range(
    store: Store, start_s: float | None, end_s: float | None, expected_starts: list[float]
) -> None:
    for start in (0, 10, 20):
        store.segments.add(seg(start, start + 10))
    start = None if start_s is None else T0 + timedelta(seconds=start_s)
    end = None if end_s is None else T0 + timedelta(seconds=end_s)
    found = store.segments.list(CAM, start, end)
    assert [(s.start - T0).total_seconds() for s in found] == expected_starts


def test_segment_list_honours_limit(store: Store) -> None:
    for start in range(0, 100, 10):
        store.segments.add(seg(start, start + 10))
    assert [(s.start - T0).total_seconds() for s in store.segments.list(CAM, limit=3)] == [0, 10, 20]


def test_duplicate_segment_path_is_a_domain_error_and_store_stays_usable(store: Store) -> None:
    store.segments.add(seg(0, 10, path="gate/a.mp4"))
    with pytest.raises(DuplicateError, match=r"gate/a\.mp4"):
        store.segments.add(seg(10, 20, path="gate/a.mp4"))
    store.segments.add(seg(10, 20, path="gate/b.mp4"))
    assert [s.path for s in store.segments.list(CAM)] == ["gate/a.mp4", "gate/b.mp4"]


# --- events ------------------------------------------------------------------------------------------


def test_event_upsert_get_and_end_update(store: Store) -> None:
    ongoing = ev("e1", 0)
    store.events.upsert(ongoing)
    assert store.events.get("e1") == ongoing
    ended = Event("e1", CAM, EventKind.MOTION, ongoing.start, T0 + timedelta(seconds=7), 0.9, "person")
    store.events.upsert(ended)
    assert store.events.get("e1") == ended
    assert store.events.get("missing") is None
    assert len(store.events.list()) == 1


def test_event_list_newest_first_with_camera_since_and_limit(store: Store) -> None:
    for i, start in enumerate((10, 30, 20, 40)):
        store.events.upsert(ev(f"e{i}", start))
    store.events.upsert(ev("other", 35, camera=OTHER))
    assert [e.id for e in store.events.list()] == ["e3", "other", "e1", "e2", "e0"]
    assert [e.id for e in store.events.list(camera_id=CAM)] == ["e3", "e1", "e2", "e0"]
    assert [e.id for e in store.events.list(since=T0 + timedelta(seconds=30))] == ["e3", "other", "e1"]
    assert [e.id for e in store.events.list(CAM, T0 + timedelta(seconds=20), limit=2)] == ["e3", "e1"]
    assert store.events.list(limit=0) == []


# --- time --------------------------------------------------------------------------------------------


def test_times_round_trip_as_aware_utc(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    local_start = datetime(2024, 7, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    segment = Segment(CAM, local_start, local_start + timedelta(seconds=10), "tz.mp4", 1, "h264", 2, 2, 1)
    saved = store.segments.add(segment)
    assert saved.id is not None
    got = store.segments.get(saved.id)
    assert got is not None
    assert got.start == local_start
    assert got.start.tzinfo is UTC
    assert got.start.hour == 12
    assert got.start.microsecond == 123456
    store.events.upsert(Event("tz", CAM, EventKind.ZONE, local_start, local_start, 1.0))
    event = store.events.get("tz")
    assert event is not None
    assert event.start.tzinfo is UTC
    assert event.end is not None
    assert event.end.tzinfo is UTC
    # range queries compare instants, whatever zone the caller uses
    assert store.segments.list(CAM, start=local_start.astimezone(UTC), end=local_start + timedelta(seconds=1))


def test_naive_times_are_rejected(store: Store) -> None:
    naive = datetime(2024, 1, 1, 12, 0)  # naive on purpose
    with pytest.raises(ValueError, match="naive"):
        store.segments.list(CAM, start=naive)
    with pytest.raises(ValueError, match="naive"):
        store.events.list(since=naive)
    with pytest.raises(ValueError, match="naive"):
        store.segments.add(Segment(CAM, naive, naive, "naive.mp4", 1, "h264", 1, 1, 1))


# --- lifecycle and concurrency -----------------------------------------------------------------------


def test_reopening_keeps_data_and_migrations_are_idempotent(store_url: str) -> None:
    first = open_store(store_url)
    first.sites.upsert(Site(SiteId("kept"), "Kept"))
    first.close()
    first.close()  # idempotent
    second = open_store(store_url)
    try:
        assert [s.id for s in second.sites.list()] == ["kept"]
    finally:
        second.close()


def test_closed_store_raises_storage_unavailable(store_url: str) -> None:
    closed = open_store(store_url)
    closed.close()
    with pytest.raises(StorageUnavailableError, match="closed"):
        closed.sites.upsert(Site(SiteId("late"), "Late"))


def test_many_threads_write_and_read_concurrently_without_errors(store: Store) -> None:
    threads_n, per_thread = 8, 200
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n + 1)

    def writer(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                store.events.upsert(ev(f"t{t}-{i}", t * per_thread + i))
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    def reader() -> None:
        try:
            barrier.wait()
            for _ in range(50):
                store.events.list(limit=10)
        except BaseException as err:
            errors.append(err)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    workers.append(threading.Thread(target=reader))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    stored = store.events.list(limit=10_000)
    assert len(stored) == threads_n * per_thread
    assert len({e.id for e in stored}) == threads_n * per_thread
