"""The tiering loop against a real OpenStack Swift (s3api, SigV4 with tempauth): move, verify, fail, retry."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.swift import SwiftServer
from tests.tiers.conftest import T0, add_segment, manager, s3_settings
from watchkeeper.domain import StorageTier
from watchkeeper.domain.evidence import EvidenceLock
from watchkeeper.integrations.prometheus import PrometheusExporter
from watchkeeper.media.protocol import ObjectInfo, ObjectStoreAuthError, SegmentFiles
from watchkeeper.media.s3 import S3ObjectStore
from watchkeeper.recorder.retention import RetentionManager, RetentionPolicy
from watchkeeper.runtime.metrics import RuntimeMetrics
from watchkeeper.storage.protocols import Store

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]  # the first test waits for Swift to start


def _object_bytes(bucket: S3ObjectStore, key: str) -> bytes:
    return b"".join(bucket.iter_range(key, 0, bucket.stat(key).size))


def test_segment_moves_verified_then_local_copy_deleted(
    store: Store, media_root: Path, bucket: S3ObjectStore
) -> None:
    data = os.urandom(700_000)
    segment = add_segment(store, media_root, data)
    report = manager(store, media_root, bucket).run_once()

    assert (report.moved, report.failed, report.moved_bytes) == (1, 0, len(data))
    moved = store.segments.get(segment.id or 0)
    assert moved is not None
    assert moved.tier is StorageTier.WARM
    assert moved.sha256 == hashlib.sha256(data).hexdigest()
    assert moved.object_key == f"segments/{segment.path}"
    assert not (media_root / segment.path).exists()
    assert _object_bytes(bucket, moved.object_key) == data
    assert bucket.stat(moved.object_key).sha256 == moved.sha256
    # A second pass finds nothing left to move.
    assert manager(store, media_root, bucket).run_once().moved == 0


def test_young_segments_stay_hot_until_disk_pressure(
    store: Store, media_root: Path, bucket: S3ObjectStore
) -> None:
    segment = add_segment(store, media_root, b"young" * 1000)
    young = manager(store, media_root, bucket, lambda: T0)  # it ended 10 s after T0: not old enough
    assert young.run_once().moved == 0
    assert (media_root / segment.path).is_file()
    pressed = manager(
        store, media_root, bucket, lambda: T0, min_free_bytes=2**62
    )  # the disk is "always full"
    assert pressed.run_once().moved == 1
    assert not (media_root / segment.path).exists()


class CorruptingBucket(S3ObjectStore):
    """The real bucket, but every upload is overwritten in Swift with one byte flipped."""

    def put_file(self, key: str, path: Path, sha256: str) -> ObjectInfo:
        info = super().put_file(key, path, sha256)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        self._client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data), Metadata={"sha256": sha256})
        return info


def test_checksum_mismatch_keeps_local_copy(
    store: Store, media_root: Path, bucket: S3ObjectStore, swift: SwiftServer
) -> None:
    data = os.urandom(200_000)
    segment = add_segment(store, media_root, data)
    corrupting = CorruptingBucket(s3_settings(swift, bucket.bucket))
    tiering = manager(store, media_root, corrupting)  # type: ignore[arg-type]
    report = tiering.run_once()

    assert (report.moved, report.failed) == (0, 1)
    assert report.checksum_mismatches == 3  # every try failed verification
    assert "failed verification" in report.errors[0]
    assert (media_root / segment.path).read_bytes() == data
    still = store.segments.get(segment.id or 0)
    assert still is not None
    assert still.tier is StorageTier.HOT
    assert still.object_key is None
    assert tiering.stats.snapshot().checksum_mismatches == 3
    # The bad object was removed from the bucket.
    with pytest.raises(Exception, match="no such object"):
        bucket.stat(f"segments/{segment.path}")


def test_swift_down_is_retried_with_backoff_and_later_succeeds(
    store: Store, media_root: Path, bucket: S3ObjectStore, swift: SwiftServer
) -> None:
    segment = add_segment(store, media_root, os.urandom(50_000))
    tiering = manager(store, media_root, bucket)
    waits: list[float] = []
    tiering.sleep = lambda seconds: bool(waits.append(seconds))
    swift.stop("proxy")
    try:
        down = tiering.run_once()
    finally:
        swift.start("proxy")
    assert (down.moved, down.failed, down.retries) == (0, 1, 2)
    assert waits == [0.05, 0.1]  # exponential backoff
    assert (media_root / segment.path).is_file()
    assert store.segments.get(segment.id or 0).tier is StorageTier.HOT  # type: ignore[union-attr]

    up = tiering.run_once()
    assert (up.moved, up.failed) == (1, 0)
    assert not (media_root / segment.path).exists()
    assert tiering.stats.snapshot().failed == 1
    exported = PrometheusExporter(
        RuntimeMetrics(media_root, list, tiering=tiering.stats.snapshot).snapshot, process_metrics=False
    ).render()
    assert b"watchkeeper_tiering_failures_total 1.0" in exported
    assert b"watchkeeper_tiering_retries_total 2.0" in exported
    assert b"watchkeeper_tiering_moved_segments_total 1.0" in exported


def test_wrong_secret_is_refused_with_a_typed_error(
    store: Store, media_root: Path, bucket: S3ObjectStore, swift: SwiftServer
) -> None:
    intruder = S3ObjectStore(s3_settings(swift, bucket.bucket, secret="not-the-secret"))
    with pytest.raises(ObjectStoreAuthError, match="refused the credentials"):
        intruder.ensure_bucket()
    segment = add_segment(store, media_root, b"x" * 1000)
    report = manager(store, media_root, intruder).run_once()
    assert (report.moved, report.failed, report.retries) == (0, 1, 0)  # no retry on refused credentials
    assert "refused the credentials" in report.errors[0]
    assert (media_root / segment.path).is_file()


def test_warm_segment_reads_with_ranges(store: Store, media_root: Path, bucket: S3ObjectStore) -> None:
    data = os.urandom(600_000)
    segment = add_segment(store, media_root, data)
    manager(store, media_root, bucket).run_once()
    warm = store.segments.get(segment.id or 0)
    assert warm is not None
    files = SegmentFiles(media_root, bucket)
    assert files.local_path(warm) is None
    assert files.available(warm)
    assert files.size(warm) == len(data)
    assert b"".join(files.iter_range(warm, 1000, 1100)) == data[1000:1100]
    with files.open(warm) as handle:
        handle.seek(500_000)
        assert handle.read(300_000) == data[500_000:]
        handle.seek(10)
        assert handle.read(5) == data[10:15]
    assert not SegmentFiles(media_root).available(warm)  # without the bucket: not readable


def _retention(store: Store, media_root: Path, bucket: S3ObjectStore) -> RetentionManager:
    policy = RetentionPolicy(cameras=(), default_retain_days=1, default_event_retain_days=1)
    retention = RetentionManager(store, media_root, policy, clock=lambda: T0 + timedelta(days=3))
    retention.warm = bucket
    return retention


def test_retention_deletes_warm_segments_from_the_bucket(
    store: Store, media_root: Path, bucket: S3ObjectStore
) -> None:
    segment = add_segment(store, media_root, b"old" * 1000)
    manager(store, media_root, bucket).run_once()
    key = f"segments/{segment.path}"
    assert bucket.stat(key).size == 3000

    report = _retention(store, media_root, bucket).run_once()
    assert report.total_segments == 1
    assert store.segments.get(segment.id or 0) is None
    with pytest.raises(Exception, match="no such object"):
        bucket.stat(key)


def test_evidence_lock_keeps_warm_segments_in_the_bucket(
    store: Store, media_root: Path, bucket: S3ObjectStore
) -> None:
    locked = add_segment(store, media_root, b"locked" * 1000, minute=0)
    free = add_segment(store, media_root, b"free" * 1000, minute=5)
    manager(store, media_root, bucket).run_once()
    store.evidence_locks.add(
        EvidenceLock(
            camera_id=locked.camera_id,
            start=locked.start,
            end=locked.end,
            reason="incident 7",
            created_by="admin",
            created_at=T0,
        )
    )
    report = _retention(store, media_root, bucket).run_once()
    assert report.total_segments == 1
    assert store.segments.get(free.id or 0) is None
    kept = store.segments.get(locked.id or 0)
    assert kept is not None
    assert kept.tier is StorageTier.WARM
    assert _object_bytes(bucket, f"segments/{locked.path}") == b"locked" * 1000
    with pytest.raises(Exception, match="no such object"):
        bucket.stat(f"segments/{free.path}")


def test_disk_full_eviction_never_deletes_warm_segments(
    store: Store, media_root: Path, bucket: S3ObjectStore
) -> None:
    old = add_segment(store, media_root, b"old" * 1000, minute=0)
    manager(store, media_root, bucket).run_once()
    young = add_segment(store, media_root, b"young" * 1000, minute=30)
    policy = RetentionPolicy(cameras=(), min_free_bytes=2**62)  # the local disk is "always full"
    retention = RetentionManager(store, media_root, policy, clock=lambda: T0)
    retention.warm = bucket
    report = retention.free_space()
    # Only the hot segment occupies the local disk: it goes, the older warm one stays in the bucket.
    assert report.total_segments == 1
    assert store.segments.get(young.id or 0) is None
    assert store.segments.get(old.id or 0) is not None
    assert bucket.stat(f"segments/{old.path}").size == 3000


def test_segments_without_a_local_file_are_skipped_not_failed(
    store: Store, media_root: Path, bucket: S3ObjectStore
) -> None:
    foreign = add_segment(store, media_root, b"f" * 100, minute=0)
    (media_root / foreign.path).unlink()  # recorded by another worker host: its file is not here
    mine = add_segment(store, media_root, b"m" * 100, minute=5)
    report = manager(store, media_root, bucket, batch=1).run_once()
    assert (report.moved, report.failed, report.retries) == (1, 0, 0)
    skipped = store.segments.get(foreign.id or 0)
    moved = store.segments.get(mine.id or 0)
    assert skipped is not None
    assert skipped.tier is StorageTier.HOT
    assert moved is not None
    assert moved.tier is StorageTier.WARM
