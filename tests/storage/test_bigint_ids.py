"""Ids of the tables that grow with recording are 64-bit on PostgreSQL (migration ``0012_bigint_ids``).

At 10,000 cameras a 32-bit segment id runs out within a month; these tests check the column and sequence
types, that a segment past the 32-bit range is indexed and read back, and the migration's down step.
"""

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError

from watchkeeper.domain import CameraId, Segment
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.sql.migrate import alembic_config, upgrade

WIDENED = {
    ("segments", "id"),
    ("webhook_deliveries", "id"),
    ("incident_journal", "seq"),
    ("incident_transitions", "id"),
    ("incident_escalations", "id"),
    ("audit_log", "seq"),
}
BEYOND_32_BITS = 2**31 + 10


def _column_types(conn: Connection) -> dict[tuple[str, str], str]:
    rows = conn.execute(
        text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
    )
    return {(table, column): kind for table, column, kind in rows}


def _sequence_types(conn: Connection) -> dict[tuple[str, str], str]:
    found = {}
    for table, column in WIDENED:
        name = conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": column})
        if name is not None:
            found[(table, column)] = conn.scalar(
                text("SELECT data_type::text FROM pg_sequences WHERE schemaname || '.' || sequencename = :n"),
                {"n": name},
            )
    return found


def _segment(start: datetime) -> Segment:
    return Segment(
        camera_id=CameraId("cam1"),
        start=start,
        end=start + timedelta(seconds=10),
        path=f"cam1/{start:%Y/%m/%d/%H/%M.%S}.mp4",
        size_bytes=1_000,
        video_codec="h264",
        width=640,
        height=360,
        keyframes=1,
    )


def _pg(url: str) -> str:
    return alembic_config(url).get_main_option("sqlalchemy.url") or ""


def test_growing_ids_and_their_sequences_are_bigint_on_postgresql(pg_url: str) -> None:
    upgrade(pg_url)
    engine = create_engine(_pg(pg_url))
    try:
        with engine.connect() as conn:
            types = _column_types(conn)
            assert {key: types[key] for key in WIDENED} == dict.fromkeys(WIDENED, "bigint")
            # A serial sequence of type integer would stop at 2**31 - 1 whatever the column's type.
            sequences = _sequence_types(conn)
            assert set(sequences) == WIDENED - {("audit_log", "seq")}
            assert set(sequences.values()) == {"bigint"}
            assert types[("users", "id")] == "integer"  # human-scale tables stay as they were
    finally:
        engine.dispose()


def test_a_segment_beyond_the_32_bit_range_is_indexed_and_read_back(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        engine = create_engine(_pg(pg_url))
        with engine.begin() as conn:
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('segments', 'id'), :v)"), {"v": BEYOND_32_BITS}
            )
        engine.dispose()
        added = store.segments.add(_segment(datetime(2026, 12, 6, 4, 0, tzinfo=UTC)))
        assert added.id == BEYOND_32_BITS + 1
        assert store.segments.get(BEYOND_32_BITS + 1) == added
    finally:
        store.close()


def test_the_down_step_restores_integer_and_refuses_ids_it_cannot_hold(pg_url: str) -> None:
    upgrade(pg_url)
    config = alembic_config(pg_url)
    command.downgrade(config, "0011_tiers")
    engine = create_engine(_pg(pg_url))
    try:
        with engine.connect() as conn:
            types = _column_types(conn)
            assert {key: types[key] for key in WIDENED} == dict.fromkeys(WIDENED, "integer")
            assert set(_sequence_types(conn).values()) == {"integer"}
        upgrade(pg_url)
        store = open_store(pg_url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence('segments', 'id'), :v)"), {"v": BEYOND_32_BITS}
                )
            store.segments.add(_segment(datetime(2026, 12, 6, 4, 0, tzinfo=UTC)))
        finally:
            store.close()
        with pytest.raises(DBAPIError, match="out of range"):
            command.downgrade(config, "0011_tiers")
        with engine.connect() as conn:  # the failed down step changed nothing
            assert _column_types(conn)[("segments", "id")] == "bigint"
    finally:
        engine.dispose()
