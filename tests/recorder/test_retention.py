"""Retention on a real SQLite index and real files: days, event days, quotas, evidence locks."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchkeeper.config.cameras import CameraConfig
from watchkeeper.config.recording import RecordingConfig
from watchkeeper.domain import CameraId, Event, EventKind, Segment
from watchkeeper.domain.evidence import EvidenceLock
from watchkeeper.recorder.retention import (
    CameraRetention,
    EvictionReason,
    RetentionLoop,
    RetentionManager,
    RetentionPolicy,
    RetentionStats,
)
from watchkeeper.recorder.segmenter import segment_path
from watchkeeper.storage.protocols import Store

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CAM = CameraId("cam1")
OTHER = CameraId("cam2")
DAY = timedelta(days=1)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    return root


def record(store: Store, media: Path, start: datetime, camera: CameraId = CAM, size: int = 1000) -> Segment:
    """A real file in the segment layout plus its index row."""
    path = segment_path(media, camera, start)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    return store.segments.add(
        Segment(
            camera_id=camera,
            start=start,
            end=start + timedelta(seconds=10),
            path=path.relative_to(media).as_posix(),
            size_bytes=size,
            video_codec="h264",
            width=320,
            height=180,
            keyframes=1,
        )
    )


def policy(
    *,
    cameras: tuple[CameraRetention, ...] = (CameraRetention(CAM, 7, 14), CameraRetention(OTHER, 7, 14)),
    max_bytes: int | None = None,
    min_free_bytes: int = 0,
) -> RetentionPolicy:
    return RetentionPolicy(cameras=cameras, max_bytes=max_bytes, min_free_bytes=min_free_bytes)


def manager(store: Store, media: Path, rules: RetentionPolicy) -> RetentionManager:
    return RetentionManager(store, media, rules, clock=lambda: NOW)


def remaining(store: Store, camera: CameraId = CAM) -> list[datetime]:
    return [s.start for s in store.segments.list(camera)]


def test_policy_from_config_applies_camera_overrides_and_safe_defaults() -> None:
    recording = RecordingConfig()
    assert recording.retain_days <= 30
    assert recording.event_retain_days <= 30
    cameras = [
        CameraConfig.model_validate(
            {
                "id": camera_id,
                "name": camera_id,
                "site": "s",
                "inputs": [{"url": "file.mp4", "roles": ["record", "detect"]}],
                **extra,
            }
        )
        for camera_id, extra in (("cam1", {"retain_days": 2}), ("cam2", {}))
    ]
    rules = RetentionPolicy.from_config(recording, cameras)
    assert rules.for_camera(CAM) == CameraRetention(CAM, 2, 14)
    assert rules.for_camera(OTHER) == CameraRetention(OTHER, 7, 14)
    assert rules.for_camera(CameraId("removed")) == CameraRetention(CameraId("removed"), 7, 14)


def test_days_rules_keep_event_footage_longer_and_never_touch_locks(store: Store, media: Path) -> None:
    old_plain = record(store, media, NOW - 8 * DAY)
    old_event = record(store, media, NOW - 9 * DAY)
    older_event = record(store, media, NOW - 15 * DAY)
    ancient_locked = record(store, media, NOW - 29 * DAY)
    fresh = record(store, media, NOW - DAY)
    for index, segment in enumerate((old_event, older_event)):
        end = segment.start + timedelta(seconds=3)
        store.events.upsert(Event(f"e{index}", CAM, EventKind.MOTION, segment.start, end, 0.9))
    store.evidence_locks.add(
        EvidenceLock(CAM, ancient_locked.start, ancient_locked.end, "court order", "alice", NOW)
    )
    retention = manager(store, media, policy())

    report = retention.run_once()

    assert remaining(store) == [ancient_locked.start, old_event.start, fresh.start]
    assert report.evicted(EvictionReason.RETAIN_DAYS).segments == 1
    assert report.evicted(EvictionReason.RETAIN_DAYS).bytes == 1000
    assert report.evicted(EvictionReason.EVENT_RETAIN_DAYS).segments == 1
    assert report.total_segments == 2
    assert not (media / old_plain.path).exists()
    assert not (media / older_event.path).exists()
    assert not (media / old_plain.path).parent.exists()  # emptied folders are pruned
    assert (media / CAM).is_dir()
    assert (media / ancient_locked.path).exists()
    snapshot = retention.stats.snapshot()
    assert snapshot.runs == 1
    assert snapshot.evicted(EvictionReason.RETAIN_DAYS).segments == 1
    assert retention.run_once().total_segments == 0  # idempotent


def test_event_days_shorter_than_days_never_shortens_retention(store: Store, media: Path) -> None:
    segment = record(store, media, NOW - 5 * DAY)
    store.events.upsert(Event("e", CAM, EventKind.MOTION, segment.start, segment.end, 0.9))
    rules = policy(cameras=(CameraRetention(CAM, 7, 2),))
    assert manager(store, media, rules).run_once().total_segments == 0
    assert remaining(store) == [segment.start]


def test_byte_quota_evicts_oldest_first_across_cameras_except_locked(store: Store, media: Path) -> None:
    a = record(store, media, NOW - timedelta(hours=5), CAM)
    b = record(store, media, NOW - timedelta(hours=4), OTHER)
    c = record(store, media, NOW - timedelta(hours=3), CAM)
    d = record(store, media, NOW - timedelta(hours=2), OTHER)
    store.evidence_locks.add(EvidenceLock(CAM, a.start, a.end, "incident", "bob", NOW))
    report = manager(store, media, policy(max_bytes=2500)).run_once()
    assert report.evicted(EvictionReason.QUOTA).segments == 2
    assert report.unmet_bytes == 0
    assert remaining(store, CAM) == [a.start]
    assert remaining(store, OTHER) == [d.start]
    assert not (media / b.path).exists()
    assert not (media / c.path).exists()


def test_a_quota_that_locked_footage_alone_exceeds_is_reported_unmet(store: Store, media: Path) -> None:
    segment = record(store, media, NOW - DAY)
    store.evidence_locks.add(EvidenceLock(CAM, segment.start, segment.end, "incident", "bob", NOW))
    report = manager(store, media, policy(max_bytes=10)).run_once()
    assert report.total_segments == 0
    assert report.unmet_bytes == 990
    assert "still over quota" in report.summary()


def test_min_free_bytes_beyond_the_volume_evicts_every_unlocked_segment(store: Store, media: Path) -> None:
    kept = record(store, media, NOW - 2 * DAY)
    record(store, media, NOW - DAY)
    store.evidence_locks.add(EvidenceLock(CAM, kept.start, kept.end, "incident", "bob", NOW))
    report = manager(store, media, policy(min_free_bytes=2**60)).run_once()
    assert report.evicted(EvictionReason.QUOTA).segments == 1
    assert report.unmet_bytes > 0
    assert remaining(store) == [kept.start]


def test_a_file_that_cannot_be_deleted_keeps_its_row_and_is_reported(store: Store, media: Path) -> None:
    stuck = record(store, media, NOW - 10 * DAY)
    (media / stuck.path).unlink()
    (media / stuck.path).mkdir()  # unlink() fails on a directory
    missing = record(store, media, NOW - 9 * DAY)
    (media / missing.path).unlink()  # already gone: counts as evicted
    report = manager(store, media, policy()).run_once()
    assert report.failed_files == 1
    assert report.evicted(EvictionReason.RETAIN_DAYS).segments == 1
    assert remaining(store) == [stuck.start]


def test_the_loop_runs_at_start_and_stops_promptly(store: Store, media: Path) -> None:
    record(store, media, NOW - 10 * DAY)
    stats = RetentionStats()
    loop = RetentionLoop(RetentionManager(store, media, policy(), stats, clock=lambda: NOW), interval_s=3600)
    loop.start()
    deadline = time.monotonic() + 5
    while stats.snapshot().runs == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    loop.stop()
    assert time.monotonic() - started < 2
    assert stats.snapshot().runs == 1
    assert stats.snapshot().evicted(EvictionReason.RETAIN_DAYS).segments == 1
    assert remaining(store) == []


def test_evicting_a_thousand_segments_is_fast(store: Store, media: Path) -> None:
    for index in range(1000):
        record(store, media, NOW - 10 * DAY + index * timedelta(seconds=10), size=10)
    started = time.monotonic()
    report = manager(store, media, policy()).run_once()
    elapsed = time.monotonic() - started
    assert report.evicted(EvictionReason.RETAIN_DAYS).segments == 1000
    assert not list(media.rglob("*.mp4"))
    assert elapsed < 10, f"evicting 1000 segments took {elapsed:.1f} s"
