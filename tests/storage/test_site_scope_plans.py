"""A site worker's scoped retention and tiering queries use the camera/tier indexes (SQLite, PostgreSQL).

The statements are the ones the repositories really send (captured from the engine), explained with the
same parameters on an index of many cameras, most of their history warm. PostgreSQL is told to avoid
sequential scans (a small table is otherwise scanned whole), so a plan without an index means none serves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from tests.storage.pg import migrated_store
from watchkeeper.domain import CameraId, Segment, StorageTier
from watchkeeper.storage.protocols import Store

T0 = datetime(2026, 5, 1, tzinfo=UTC)
CAMERAS = [CameraId(f"cam-{n:02d}") for n in range(20)]
MINE = frozenset(CAMERAS[:2])
WARM = 36


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request.param, tmp_path) as opened:
        for camera in CAMERAS:
            for n in range(40):  # like a real index: most of each camera's history already warm
                start = T0 + timedelta(minutes=n)
                warm = n < WARM
                opened.segments.add(
                    Segment(
                        camera_id=camera,
                        start=start,
                        end=start + timedelta(seconds=10),
                        path=f"{camera}/{n}.mp4",
                        size_bytes=100,
                        video_codec="h264",
                        width=1,
                        height=1,
                        keyframes=1,
                        tier=StorageTier.WARM if warm else StorageTier.HOT,
                        object_key=f"segments/{camera}/{n}.mp4" if warm else None,
                    )
                )
        yield opened


def _engine(store: Store) -> Engine:
    def bind(session: Session) -> Engine:
        engine = session.get_bind()
        assert isinstance(engine, Engine)
        return engine

    engine: Engine = store._db.read(bind)  # type: ignore[attr-defined]
    return engine


def _plan(store: Store, call: Callable[[], object]) -> str:
    """The query plan of the last statement ``call`` sends."""
    engine = _engine(store)
    sent: list[tuple[str, Any]] = []

    def capture(_conn: object, _cursor: object, statement: str, params: Any, *_rest: object) -> None:
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, params = next(item for item in reversed(sent) if item[0].lstrip().upper().startswith("SELECT"))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE segments")
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql(f"EXPLAIN {statement}", params).all()
            return "\n".join(str(row[-1]) for row in rows)
    with closing(sqlite3.connect(str(engine.url.database))) as db:  # the store's engine reads read-only
        db.execute("ANALYZE")
        rows = db.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
    return "\n".join(str(row[-1]) for row in rows)


def _assert_indexed(plan: str) -> None:
    """The plan reads segments through one of its indexes, never by a full scan of the table."""
    assert "ix_segments_" in plan, plan
    assert "SCAN segments" not in plan, plan  # SQLite's full scan
    assert "Seq Scan on segments" not in plan, plan


def test_scoped_oldest_hot_segments_are_read_through_an_index(store: Store) -> None:
    _assert_indexed(_plan(store, lambda: store.tiers.oldest_hot(50, cameras=MINE)))
    _assert_indexed(_plan(store, lambda: store.retention.oldest_unlocked(tier=StorageTier.HOT, cameras=MINE)))
    _assert_indexed(_plan(store, lambda: store.retention.oldest_unlocked(cameras=MINE)))
    _assert_indexed(_plan(store, lambda: store.retention.total_bytes(cameras=MINE)))


def test_scoped_hot_segments_ended_before_are_read_through_an_index(store: Store) -> None:
    before = T0 + timedelta(hours=1)
    assert len(store.tiers.hot_ending_before(before, 50, cameras=MINE)) == 2 * (40 - WARM)
    _assert_indexed(_plan(store, lambda: store.tiers.hot_ending_before(before, 50, cameras=MINE)))
