"""Bucket records: round trips, clear errors for unreadable values, tokens that always rise."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from watchkeeper.cluster import FencingToken, WorkerId, WorkerInfo
from watchkeeper.cluster.records import (
    DrainRecord,
    LeaseRecord,
    RecordFormatError,
    WorkerRecord,
    decode_drain,
    decode_lease,
    decode_worker,
    encode_drain,
    encode_lease,
    encode_worker,
    from_us,
    next_token,
)
from watchkeeper.cluster.status import BucketContents, build_status
from watchkeeper.domain import CameraId, SiteId

INFO = WorkerInfo(WorkerId("w1"), "host-a", 8, "cuda", SiteId("north"), "1.2.3")


def test_records_round_trip() -> None:
    worker = WorkerRecord(INFO, 1_700_000_000_000_000, 1_699_999_999_000_000)
    lease = LeaseRecord(CameraId("c1"), WorkerId("w1"), FencingToken(42), 1, 2, WorkerId("w2"))
    drain = DrainRecord(WorkerId("w1"), 3)
    assert decode_worker(encode_worker(worker)) == worker
    assert decode_lease(encode_lease(lease)) == lease
    assert decode_drain(encode_drain(drain)) == drain


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff", "unreadable lease record"),
        (b"[]", "expected a lease record"),
        (b'{"v":1,"kind":"worker"}', "expected a lease record"),
        (b'{"v":9,"kind":"lease"}', "lease record version 9 is not 1"),
        (b'{"v":1,"kind":"lease","camera_id":"c"}', "bad lease record"),
    ],
)
def test_unreadable_lease_records_raise_a_typed_error(raw: bytes, message: str) -> None:
    with pytest.raises(RecordFormatError, match=message):
        decode_lease(raw)


def test_tokens_rise_above_the_previous_one_and_the_clock() -> None:
    clock_ms = time.time_ns() // 1_000_000
    assert next_token(None) >= clock_ms
    far_future = FencingToken(clock_ms * 10)
    assert next_token(far_future) == far_future + 1


def test_status_marks_stale_heartbeats_dead_and_lists_cameras_per_worker() -> None:
    now = 1_800_000_000_000_000
    fresh = WorkerRecord(INFO, now - 1_000_000, now - 60_000_000)
    stale_info = WorkerInfo(WorkerId("w0"), "host-b", 4)
    stale = WorkerRecord(stale_info, now - 10_000_000, now - 60_000_000)
    leases = [
        LeaseRecord(CameraId("c2"), WorkerId("w1"), FencingToken(5), now - 5_000_000, now - 1_000_000),
        LeaseRecord(CameraId("c1"), WorkerId("w1"), FencingToken(4), now - 5_000_000, now - 1_000_000),
        LeaseRecord(CameraId("c3"), None, FencingToken(3), now - 9_000_000, now - 9_000_000),
    ]
    contents = BucketContents([fresh, stale], leases, [DrainRecord(WorkerId("w0"), now)])
    status = build_status(contents, now, lease_timeout_s=6.0)
    assert [w.info.worker_id for w in status.workers] == ["w0", "w1"]
    dead, live = status.workers
    assert (dead.alive, dead.draining, dead.cameras) == (False, True, ())
    assert (live.alive, live.draining, live.cameras) == (True, False, ("c1", "c2"))
    assert [lease.camera_id for lease in status.leases] == ["c1", "c2", "c3"]
    c1 = status.leases[0]
    assert c1.expires_at == from_us(now + 5_000_000)
    assert c1.age_s(status.at) == pytest.approx(1.0)
    free = status.leases[2]
    assert (free.owner, free.renewed_at, free.age_s(status.at)) == (None, None, None)
    assert status.owner_of(CameraId("c2")) == "w1"
    assert status.owner_of(CameraId("nope")) is None


def test_worker_record_carries_the_advertised_http_url_and_reads_older_records_without_it() -> None:
    advertised = WorkerRecord(replace(INFO, http_url="http://10.1.0.5:8081"), 5, 4)
    assert decode_worker(encode_worker(advertised)) == advertised
    older = json.loads(encode_worker(WorkerRecord(INFO, 5, 4)))
    del older["http_url"]  # written by a worker of the previous release
    assert decode_worker(json.dumps(older).encode()).info.http_url is None
