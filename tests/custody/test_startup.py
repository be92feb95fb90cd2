"""Start-up: the custody services come up from config; a missing or too-open master key file stops them."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.audit.verify import all_records
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.storage import StorageConfig
from watchkeeper.domain import CameraId
from watchkeeper.domain.time import utcnow
from watchkeeper.privacy.keys import MasterKeyFileError
from watchkeeper.runtime.custody import build_custody, segment_finisher
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
