"""Start-up recovery of encrypted originals: complete ones (GCM verifies) indexed, damaged quarantined."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.custody.conftest import CAM, record_segments
from watchkeeper.domain import Rendition
from watchkeeper.privacy.crypto import SegmentSealer, is_encrypted
from watchkeeper.privacy.keys import FileKeyProvider, SegmentKeys
from watchkeeper.recorder.quarantine import REASON_SUFFIX
from watchkeeper.recorder.recovery import (
    UnreadableSegmentError,
    UnverifiableSegmentError,
    probe_segment,
    recover_media,
)
from watchkeeper.runtime.custody import open_verified
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store


def test_complete_encrypted_originals_are_indexed_damaged_ones_quarantined(
    tmp_path: Path, store: Store, keys: SegmentKeys, clip_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    media = tmp_path / "media"
    segments = record_segments(clip_file, media, SegmentSealer(keys.for_writing))
    assert len(segments) >= 3
    assert all(is_encrypted(media / s.path) for s in segments)
    flipped, cut = media / segments[0].path, media / segments[1].path
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    cut.write_bytes(cut.read_bytes()[:-100])  # a crash mid-write: shorter than its header says

    with caplog.at_level(logging.INFO, logger="watchkeeper.recorder.recovery"):
        report = recover_media(store, media, lambda path: open_verified(keys, path))

    assert report.reindexed == len(segments) - 2
    assert report.quarantined_unreadable == 2
    indexed = list(store.segments.list(CAM, rendition=Rendition.ORIGINAL))
    assert [s.path for s in indexed] == [s.path for s in segments[2:]]
    for recovered, original in zip(indexed, segments[2:], strict=True):
        assert recovered.video_codec == "h264"
        assert recovered.keyframes == original.keyframes
        assert recovered.size_bytes == (media / original.path).stat().st_size
    assert not flipped.exists()
    assert not cut.exists()
    moved = sorted(path.name for path in (media / ".quarantine").iterdir())
    assert len([name for name in moved if not name.endswith(REASON_SUFFIX)]) == 2
    assert len([name for name in moved if name.endswith(REASON_SUFFIX)]) == 2  # each with its reason
    assert "failed authentication" in caplog.text
    assert not recover_media(store, media, lambda path: open_verified(keys, path)).repaired


def test_without_the_reader_an_encrypted_original_is_unreadable(
    tmp_path: Path, keys: SegmentKeys, clip_file: Path
) -> None:
    segment = record_segments(clip_file, tmp_path, SegmentSealer(keys.for_writing))[0]
    with pytest.raises(UnreadableSegmentError):
        probe_segment(tmp_path / segment.path)
    probed = probe_segment(tmp_path / segment.path, lambda path: open_verified(keys, path))
    assert probed.video_codec == "h264"


def test_an_original_whose_key_is_unavailable_is_left_in_place(
    tmp_path: Path, store: Store, keys: SegmentKeys, clip_file: Path
) -> None:
    media = tmp_path / "media"
    segments = record_segments(clip_file, media, SegmentSealer(keys.for_writing))
    other_store = open_store(f"sqlite:///{tmp_path / 'other.db'}")  # a database that lost the data keys
    other_db_keys = SegmentKeys(
        FileKeyProvider.open(tmp_path / "other" / "master.key", encrypted_data_exists=False),
        other_store.data_keys,
    )
    with pytest.raises(UnverifiableSegmentError):
        open_verified(other_db_keys, media / segments[0].path)
    report = recover_media(store, media, lambda path: open_verified(other_db_keys, path))
    assert report.reindexed == 0
    assert report.quarantined_unreadable == 0
    assert report.skipped_files == len(segments)
    assert all((media / s.path).is_file() for s in segments)
    other_store.close()


def test_a_plain_original_passes_through_the_reader(
    tmp_path: Path, keys: SegmentKeys, clip_file: Path
) -> None:
    segment = record_segments(clip_file, tmp_path, None)[0]
    assert open_verified(keys, tmp_path / segment.path) is None
