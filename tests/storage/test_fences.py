"""Fencing tokens on SQLite and PostgreSQL: a writer with an older lease token is refused, atomically."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from tests.storage.fence_rows import CAM, OTHER, T0, segment
from tests.storage.pg import fresh_pg_database
from watchkeeper.domain import CameraId, DuplicateError, Event, EventKind
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store
from watchkeeper.storage.sql.fences import admit_in


def event(number: int, camera: CameraId = CAM) -> Event:
    return Event(f"ev-{camera}-{number}", camera, EventKind.MOTION, T0, None, 0.5, "motion")


def test_newer_and_equal_tokens_are_admitted_older_refused(store: Store) -> None:
    assert store.fences.newest(CAM) is None
    assert store.fences.admit(CAM, 5)
    assert store.fences.admit(CAM, 5)
    assert store.fences.admit(CAM, 9)
    assert not store.fences.admit(CAM, 5)
    assert store.fences.newest(CAM) == 9


def test_tokens_are_per_camera(store: Store) -> None:
    assert store.fences.admit(CAM, 100)
    assert store.fences.admit(OTHER, 3)
    assert store.fences.newest(OTHER) == 3


def test_token_zero_is_unfenced_and_not_recorded(store: Store) -> None:
    assert store.fences.admit(CAM, 0)
    assert store.fences.newest(CAM) is None
    assert store.fences.admit(CAM, 4)
    assert store.fences.admit(CAM, 0)
    assert store.fences.newest(CAM) == 4


def test_negative_token_is_a_value_error(store: Store) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        store.fences.admit(CAM, -1)


def test_stale_segment_writer_is_refused_and_nothing_is_indexed(store: Store) -> None:
    first = store.fences.add_segment(segment(0), token=7)
    assert first is not None
    assert first.id is not None
    taken_over = store.fences.add_segment(segment(1), token=8)
    assert taken_over is not None
    assert store.fences.add_segment(segment(2), token=7) is None
    paths = [s.path for s in store.segments.list(CAM)]
    assert paths == [segment(0).path, segment(1).path]


def test_duplicate_fenced_segment_raises_and_keeps_the_token(store: Store) -> None:
    assert store.fences.add_segment(segment(0), token=3) is not None
    with pytest.raises(DuplicateError, match="already indexed"):
        store.fences.add_segment(segment(0), token=4)
    assert store.fences.newest(CAM) == 3  # the failed write rolled its fence update back


def test_stale_event_writer_is_refused(store: Store) -> None:
    assert store.fences.upsert_event(event(1), token=2)
    assert store.fences.admit(CAM, 3)
    assert not store.fences.upsert_event(event(2), token=2)
    assert store.events.get("ev-gate-north-1") is not None
    assert store.events.get("ev-gate-north-2") is None


def test_a_stale_writer_waits_for_the_newer_transaction_and_is_refused() -> None:
    """PostgreSQL: token 10 admitted in an open transaction; a concurrent token 9 must end refused."""
    with fresh_pg_database() as url:
        store = open_store(url)
        engine = create_engine(url)
        result: list[bool] = []
        try:
            with Session(engine) as session, session.begin():
                assert admit_in(session, CAM, 10)
                rival = threading.Thread(target=lambda: result.append(store.fences.admit(CAM, 9)))
                rival.start()
                rival.join(timeout=0.3)  # it blocks on the row until this transaction ends
            rival.join(timeout=30)
            assert result == [False]
            assert store.fences.newest(CAM) == 10
        finally:
            engine.dispose()
            store.close()
