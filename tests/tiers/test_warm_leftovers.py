"""A crash between a segment's switch to the warm tier and the delete of its local copy leaves a local file
identical to the object; the next start's first tiering pass deletes it, but only once the real Swift
(s3api) bucket is verified to hold the same bytes. Anything that disagrees keeps the local file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.tiers.conftest import add_segment, manager
from watchkeeper.domain import Segment, StorageTier
from watchkeeper.integrations.prometheus import PrometheusExporter
from watchkeeper.media.s3 import S3ObjectStore
from watchkeeper.runtime.metrics import RuntimeMetrics
from watchkeeper.storage.protocols import Store

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]  # the first test waits for Swift to start


def _crash_after_the_switch(
    store: Store, media_root: Path, bucket: S3ObjectStore, segment: Segment
) -> Segment:
    """Tiering's steps 1-4 (hash, upload, the row switched to warm), then the process dies: no delete."""
    local = media_root / segment.path
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    key = f"segments/{segment.path}"
    bucket.put_file(key, local, digest)
    warm = store.tiers.mark_warm(segment.id or 0, key, digest)
    assert warm is not None
    return warm


def test_the_first_pass_deletes_a_local_copy_the_bucket_holds_verified(
    store: Store, media_root: Path, bucket: S3ObjectStore
) -> None:
    data = os.urandom(300_000)
    warm = _crash_after_the_switch(store, media_root, bucket, add_segment(store, media_root, data))
    assert (media_root / warm.path).is_file()  # before: nothing removed it
    tiering = manager(store, media_root, bucket)
    report = tiering.run_once()
    assert report.leftovers_removed == 1
    assert not (media_root / warm.path).exists()
    assert not (media_root / warm.path).parent.exists()  # empty hour folders go too
    row = store.segments.get(warm.id or 0)
    assert row is not None
    assert row.tier is StorageTier.WARM
    assert b"".join(bucket.iter_range(warm.object_key or "", 0, len(data))) == data
    metrics = RuntimeMetrics(media_root, list, tiering=tiering.stats.snapshot)
    text = PrometheusExporter(metrics.snapshot, process_metrics=False).render().decode()
    assert "watchkeeper_tiering_leftovers_removed_total 1.0" in text


def test_a_local_copy_that_the_bucket_does_not_match_is_kept(
    store: Store, media_root: Path, bucket: S3ObjectStore
) -> None:
    lost = _crash_after_the_switch(store, media_root, bucket, add_segment(store, media_root, b"a" * 5000, 0))
    bucket.delete(lost.object_key or "")  # the object is gone: the local copy is the only one left
    altered = _crash_after_the_switch(
        store, media_root, bucket, add_segment(store, media_root, b"b" * 5000, 5)
    )
    (media_root / altered.path).write_bytes(b"c" * 5000)  # the local file is not what was uploaded
    truncated = _crash_after_the_switch(
        store, media_root, bucket, add_segment(store, media_root, b"d" * 5000, 10)
    )
    bucket.put_file(truncated.object_key or "", _file(media_root, b"d" * 4000), truncated.sha256 or "")
    report = manager(store, media_root, bucket).run_once()
    assert report.leftovers_removed == 0
    for segment in (lost, altered, truncated):
        assert (media_root / segment.path).is_file()


def test_only_the_first_pass_walks_the_warm_rows(
    store: Store, media_root: Path, bucket: S3ObjectStore
) -> None:
    tiering = manager(store, media_root, bucket)
    assert tiering.run_once().leftovers_removed == 0
    warm = _crash_after_the_switch(store, media_root, bucket, add_segment(store, media_root, b"e" * 100))
    assert tiering.run_once().leftovers_removed == 0  # a running loop never leaves one behind itself
    assert (media_root / warm.path).is_file()
    assert manager(store, media_root, bucket).run_once().leftovers_removed == 1  # the next start


def _file(media_root: Path, data: bytes) -> Path:
    path = media_root / "upload.tmp"
    path.write_bytes(data)
    return path
