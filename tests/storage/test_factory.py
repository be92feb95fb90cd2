"""``open_store`` errors: clear one-line messages, never a password."""

import os
import time
from pathlib import Path

import pytest

from watchkeeper.domain import StorageUnavailableError, WatchkeeperError
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.sql.store import SqlStore


def test_unreachable_postgres_fails_fast_with_the_password_masked() -> None:
    began = time.monotonic()
    with pytest.raises(StorageUnavailableError) as caught:
        open_store("postgresql://watch:s3cr3t-pw@127.0.0.1:5999/wk")
    assert time.monotonic() - began < 5
    message = str(caught.value)
    assert "s3cr3t-pw" not in message
    assert "watch:***@127.0.0.1:5999/wk" in message
    assert message.startswith("cannot reach database at postgresql+psycopg://")
    assert "connection refused" in message.lower()
    assert "\n" not in message
    assert isinstance(caught.value, WatchkeeperError)
    assert caught.value.code == "storage_unavailable"


def test_missing_postgres_database_is_storage_unavailable(pg_url: str) -> None:
    with pytest.raises(StorageUnavailableError, match="does not exist") as caught:
        open_store(pg_url.rsplit("/", 1)[0] + "/wk_no_such_db")
    assert "\n" not in str(caught.value)


def test_sqlite_under_a_file_instead_of_a_folder_is_storage_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(StorageUnavailableError, match="cannot be created") as caught:
        open_store(f"sqlite:///{blocker / 'sub' / 'wk.db'}")
    assert str(blocker / "sub") in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into any folder")
def test_sqlite_in_a_read_only_folder_is_storage_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StorageUnavailableError, match="not writable"):
            open_store(f"sqlite:///{folder / 'wk.db'}")
    finally:
        folder.chmod(0o700)


def test_sqlite_on_a_read_only_file_system_is_storage_unavailable() -> None:
    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc")
    with pytest.raises(StorageUnavailableError, match="cannot"):
        open_store("sqlite:////proc/self/watchkeeper/wk.db")


def test_sqlite_creates_a_missing_folder(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'new' / 'deeper' / 'wk.db'}")
    try:
        assert isinstance(store, SqlStore)
        assert store.backend == "sqlite"
        assert (tmp_path / "new" / "deeper" / "wk.db").is_file()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("mysql://u:pw@host/db", "unsupported database"),
        ("postgresql+psycopg2://u:pw@host/db", "unsupported PostgreSQL driver"),
        ("not a url", "not a database URL"),
    ],
)
def test_unsupported_urls_are_value_errors(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        open_store(url)
    assert ":pw@" not in str(caught.value)
