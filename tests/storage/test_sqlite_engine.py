"""SQLite specifics: WAL, foreign keys, one writer thread, read-only pooled readers."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper.domain import CameraId, Segment, StorageUnavailableError
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.sql.engine import SqliteDatabase, connect_database, mask_url, parse_url

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def database(sqlite_url: str) -> Iterator[SqliteDatabase]:
    open_store(sqlite_url).close()  # migrate
    db = connect_database(sqlite_url)
    assert isinstance(db, SqliteDatabase)
    yield db
    db.close()


def _pragma(session: Session, name: str) -> object:
    return session.execute(text(f"PRAGMA {name}")).scalar_one()


def test_connections_use_wal_foreign_keys_and_a_busy_timeout(database: SqliteDatabase) -> None:
    for run in (database.read, database.write):
        assert run(lambda s: _pragma(s, "journal_mode")) == "wal"
        assert run(lambda s: _pragma(s, "foreign_keys")) == 1
        assert run(lambda s: _pragma(s, "busy_timeout")) == 10_000


def test_writes_run_on_the_one_writer_thread_and_reads_on_the_caller(database: SqliteDatabase) -> None:
    names = {database.write(lambda _s: threading.current_thread().name) for _ in range(3)}
    assert len(names) == 1
    assert names.pop().startswith("sqlite-writer:")
    assert database.read(lambda _s: threading.current_thread()) is threading.current_thread()


def test_read_connections_are_read_only(database: SqliteDatabase) -> None:
    with pytest.raises(StorageUnavailableError, match=r"attempt to write a readonly database"):
        database.read(lambda s: s.execute(text("INSERT INTO sites (id, name) VALUES ('x', 'X')")))


def test_a_failed_write_rolls_back_and_the_writer_keeps_going(database: SqliteDatabase) -> None:
    def half_then_fail(session: Session) -> None:
        session.execute(text("INSERT INTO sites (id, name) VALUES ('half', 'Half')"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        database.write(half_then_fail)
    database.write(lambda s: s.execute(text("INSERT INTO sites (id, name) VALUES ('ok', 'Ok')")))
    assert database.read(lambda s: list(s.execute(text("SELECT id FROM sites")).scalars())) == ["ok"]


def test_foreign_keys_are_enforced(database: SqliteDatabase) -> None:
    insert = text("INSERT INTO cameras (id, name, site_id, enabled) VALUES ('c', 'C', 'nowhere', 1)")
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        database.write(lambda s: s.execute(insert))


def test_two_stores_on_one_file_write_concurrently_without_locking_errors(sqlite_url: str) -> None:
    stores = [open_store(sqlite_url), open_store(sqlite_url)]
    errors: list[BaseException] = []

    def work(store_index: int, thread_index: int) -> None:
        try:
            for i in range(100):
                start = T0 + timedelta(seconds=i)
                path = f"s{store_index}/t{thread_index}/{i}.mp4"
                segment = Segment(CameraId("cam"), start, start, path, 1, "h264", 1, 1, 1)
                stores[store_index].segments.add(segment)
        except BaseException as err:  # asserted below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(s, t)) for s in range(2) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert len(stores[0].segments.list(CameraId("cam"), limit=10_000)) == 800
    finally:
        for store in stores:
            store.close()


def test_urls_are_normalised_and_masked() -> None:
    parsed = parse_url("postgresql://u:pw@h:5432/db")
    assert parsed.drivername == "postgresql+psycopg"
    assert mask_url(parsed) == "postgresql+psycopg://u:***@h:5432/db"
