"""Master key file (0600, created once, refused when missing or too open) and key rotation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.custody.conftest import CAM, T0
from watchkeeper.privacy.crypto import DecryptingReader, encrypt_file
from watchkeeper.privacy.keys import (
    FileKeyProvider,
    KeyUnavailableError,
    MasterKeyFileError,
    SegmentKeys,
    rewrap_all,
)
from watchkeeper.storage.protocols import Store


def test_created_on_first_run_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    provider = FileKeyProvider.open(path, encrypted_data_exists=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = FileKeyProvider.open(path, encrypted_data_exists=True)
    assert again.current_id == provider.current_id


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_loose_permissions_stop_startup(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    FileKeyProvider.open(path, encrypted_data_exists=False)
    path.chmod(mode)
    with pytest.raises(MasterKeyFileError, match=r"readable by group or others.*chmod 600"):
        FileKeyProvider.open(path, encrypted_data_exists=True)


def test_missing_key_file_with_encrypted_data_stops_startup(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyFileError, match="missing but encrypted recordings exist"):
        FileKeyProvider.open(tmp_path / "gone.key", encrypted_data_exists=True)
    assert not (tmp_path / "gone.key").exists()


def test_malformed_key_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.key"
    path.write_text("mk-1 not-base64!\n")
    path.chmod(0o600)
    with pytest.raises(MasterKeyFileError, match="line 1"):
        FileKeyProvider.open(path, encrypted_data_exists=False)


def test_rotation_rewraps_data_keys_without_touching_media(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "master.key"
    old = FileKeyProvider.open(path, encrypted_data_exists=False)
    keys = SegmentKeys(old, store.data_keys)
    data_key = keys.for_writing(CAM, T0)
    (tmp_path / "plain").write_bytes(b"original footage" * 1000)
    encrypt_file(tmp_path / "plain", tmp_path / "seg.mp4", data_key)
    before = (tmp_path / "seg.mp4").read_bytes()

    new = old.begin_rotation()
    assert rewrap_all(new, new, store.data_keys) == 1
    final = new.finish_rotation()
    assert final.current_id != old.current_id
    assert [record.master_key_id for record in store.data_keys.list()] == [final.current_id]
    assert (tmp_path / "seg.mp4").read_bytes() == before
    fresh = SegmentKeys(FileKeyProvider.open(path, encrypted_data_exists=True), store.data_keys)
    with DecryptingReader(tmp_path / "seg.mp4", fresh.for_reading) as reader:
        assert reader.read() == b"original footage" * 1000
    # The old master key is gone from the file: a copy of the old file no longer unwraps anything.
    with pytest.raises(KeyUnavailableError):
        SegmentKeys(old, store.data_keys).for_reading(data_key.id)


def test_unknown_data_key(store: Store, keys: SegmentKeys) -> None:
    with pytest.raises(KeyUnavailableError, match="does not exist"):
        keys.for_reading("nope/2026-01-01")
