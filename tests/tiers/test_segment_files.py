"""The segment reader without a bucket: path safety, unavailable warm segments, the retry backoff."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.tiers.conftest import add_segment
from watchkeeper.domain import StorageTier
from watchkeeper.media.protocol import SegmentFiles, SegmentUnavailableError
from watchkeeper.recorder.tiering import TieringPolicy
from watchkeeper.storage.protocols import Store


def test_hot_segment_reads_from_the_media_folder(store: Store, media_root: Path) -> None:
    segment = add_segment(store, media_root, b"0123456789" * 100)
    files = SegmentFiles(media_root)
    assert files.available(segment)
    assert files.size(segment) == 1000
    assert b"".join(files.iter_range(segment, 5, 15)) == b"5678901234"
    with files.open(segment) as handle:
        assert handle.read(3) == b"012"


@pytest.mark.parametrize("path", ["../outside.mp4", "/etc/passwd", "cam-1/link.mp4"])
def test_paths_leaving_the_media_folder_are_refused(
    store: Store, media_root: Path, tmp_path: Path, path: str
) -> None:
    (tmp_path / "outside.mp4").write_bytes(b"secret")
    (media_root / "cam-1").mkdir(exist_ok=True)
    (media_root / "cam-1" / "link.mp4").symlink_to(tmp_path / "outside.mp4")
    segment = replace(add_segment(store, media_root, b"x"), path=path)
    files = SegmentFiles(media_root)
    assert files.local_path(segment) is None
    assert not files.available(segment)
    with pytest.raises(SegmentUnavailableError, match="no readable file"):
        files.open(segment)


def test_warm_segment_without_a_bucket_is_unavailable(store: Store, media_root: Path) -> None:
    segment = add_segment(store, media_root, b"x" * 10)
    (media_root / segment.path).unlink()
    warm = replace(segment, tier=StorageTier.WARM, object_key=f"segments/{segment.path}")
    files = SegmentFiles(media_root)  # no warm tier configured
    assert not files.available(warm)
    with pytest.raises(SegmentUnavailableError):
        files.size(warm)


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (20, 30.0)]
)
def test_backoff_doubles_up_to_the_cap(attempt: int, expected: float) -> None:
    assert TieringPolicy(retry_base_s=1.0, retry_max_s=30.0).backoff_s(attempt) == expected
