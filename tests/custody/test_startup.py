"""Start-up: the custody services come up from config; a missing or too-open master key file stops them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port, write_test_config
from watchkeeper.audit.verify import all_records
from watchkeeper.config.loader import load_config
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.storage import StorageConfig
from watchkeeper.domain import CameraId
from watchkeeper.domain.time import utcnow
from watchkeeper.privacy.keys import FileKeyProvider, MasterKeyFileError, SegmentKeys
from watchkeeper.runtime.custody import build_custody, segment_finisher
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store


def _config(tmp_path: Path) -> WatchkeeperConfig:
    return WatchkeeperConfig(storage=StorageConfig(media_root=tmp_path / "media"))


def test_first_start_creates_keys_and_audits_the_config(tmp_path: Path, store: Store) -> None:
    config = _config(tmp_path)
    custody = build_custody(config, store)
    assert (tmp_path / "keys" / "master.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys" / "export-signing.key").stat().st_mode & 0o777 == 0o600
    assert segment_finisher(custody, config) is not None
    assert custody.retain_days is not None
    assert custody.retain_days <= 30
    build_custody(config, store)  # same config: no second change record
    assert [r.action for r in all_records(store.audit)] == ["config.change"]


def test_loose_key_file_stops_startup(tmp_path: Path, store: Store) -> None:
    build_custody(_config(tmp_path), store)
    (tmp_path / "keys" / "master.key").chmod(0o644)
    with pytest.raises(MasterKeyFileError, match="readable by group or others") as caught:
        build_custody(_config(tmp_path), store)
    assert "\n" not in str(caught.value)


def test_missing_key_file_with_encrypted_data_stops_startup(tmp_path: Path, store: Store) -> None:
    custody = build_custody(_config(tmp_path), store)
    assert custody.keys is not None
    custody.keys.for_writing(CameraId("cam1"), utcnow())
    (tmp_path / "keys" / "master.key").unlink()
    with pytest.raises(MasterKeyFileError, match="missing but encrypted recordings exist"):
        build_custody(_config(tmp_path), store)


@pytest.mark.parametrize("problem", ["loose", "missing"])
def test_serve_stops_with_a_one_line_reason_for_a_bad_master_key(tmp_path: Path, problem: str) -> None:
    path = write_test_config(tmp_path, {"cam1": "rtsp://127.0.0.1:9/none"}, http_port=free_port())
    config = load_config(path)
    key_file = config.custody.paths(config.storage.media_root).master_key_file
    store = open_store(config.storage.database_url.get_secret_value())
    try:
        keys = SegmentKeys(FileKeyProvider.open(key_file, encrypted_data_exists=False), store.data_keys)
        keys.for_writing(CameraId("cam1"), utcnow())  # encrypted data exists from now on
    finally:
        store.close()
    if problem == "loose":
        key_file.chmod(0o644)
    else:
        key_file.unlink()
    result = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    expected = (
        "readable by group or others" if problem == "loose" else "missing but encrypted recordings exist"
    )
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
