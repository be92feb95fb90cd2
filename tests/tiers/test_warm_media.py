"""Real recorded segments in the warm tier: encrypted originals stay ciphertext, clips and HLS read them."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from tests.custody.conftest import T0, index_segments, record_segments
from tests.tiers.conftest import manager
from watchkeeper.domain import Segment, StorageTier
from watchkeeper.media.protocol import SegmentFiles
from watchkeeper.media.s3 import S3ObjectStore
from watchkeeper.privacy.crypto import MAGIC, DecryptingReader, SegmentSealer
from watchkeeper.privacy.keys import SegmentKeys
from watchkeeper.recorder.export import ClipSource, cut_clip
from watchkeeper.recorder.hls import scan_layout, scan_layout_stream
from watchkeeper.storage.protocols import Store

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]  # the first test waits for Swift to start


def _tier_all(store: Store, media_root: Path, bucket: S3ObjectStore, count: int) -> list[Segment]:
    tiering = manager(store, media_root, bucket, lambda: T0 + timedelta(days=1))
    report = tiering.run_once()
    assert (report.moved, report.failed) == (count, 0)
    warm = [store.segments.get(i) for i in range(1, count + 1)]
    assert all(s is not None and s.tier is StorageTier.WARM for s in warm)
    return [s for s in warm if s is not None]


def test_encrypted_originals_stay_ciphertext_in_the_bucket(
    store: Store, media_root: Path, bucket: S3ObjectStore, clip_file: Path, keys: SegmentKeys
) -> None:
    recorded = record_segments(clip_file, media_root, SegmentSealer(keys.for_writing))
    index_segments(store, recorded)
    warm = _tier_all(store, media_root, bucket, len(recorded))
    files = SegmentFiles(media_root, bucket)
    for segment in warm:
        assert segment.object_key is not None
        stored = b"".join(bucket.iter_range(segment.object_key, 0, bucket.stat(segment.object_key).size))
        assert stored.startswith(MAGIC)  # the bytes at rest in Swift are the encrypted file
        assert b"ftyp" not in stored
        assert b"moof" not in stored
        reader = DecryptingReader(files.open(segment), keys.for_reading)
        reader.verify()  # every chunk authenticates when read back through ranged GETs
        assert reader.read(8)[4:8] == b"ftyp"
        reader.close()

    def decrypting(segment: Segment) -> io.BufferedReader:
        return io.BufferedReader(DecryptingReader(files.open(segment), keys.for_reading))

    sources = [ClipSource(s, Path(s.path), partial(decrypting, s)) for s in warm]
    clip = cut_clip(sources, T0, T0 + timedelta(seconds=2), media_root / "clip.mp4")
    assert clip.frames > 5


def test_plain_warm_segments_serve_hls_layouts_and_clips(
    store: Store, media_root: Path, bucket: S3ObjectStore, clip_file: Path
) -> None:
    recorded = index_segments(store, record_segments(clip_file, media_root, None), protected=True)
    layouts = {s.id: scan_layout(media_root / s.path) for s in recorded}
    warm = _tier_all(store, media_root, bucket, len(recorded))
    files = SegmentFiles(media_root, bucket)
    for segment in warm:
        assert files.local_path(segment) is None
        with files.open(segment) as handle:
            assert scan_layout_stream(handle, files.size(segment), segment.path) == layouts[segment.id]
    sources = [ClipSource(s, Path(s.path), partial(files.open, s)) for s in warm]
    clip = cut_clip(sources, T0, T0 + timedelta(seconds=2), media_root / "clip.mp4")
    assert clip.frames > 5
    assert replace(clip, path=Path()).duration_s > 1.0
