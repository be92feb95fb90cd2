"""Event snapshots follow their event's footage out of retention, unless an evidence lock holds them."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watchkeeper.domain import CameraId, Event, EventKind
from watchkeeper.domain.evidence import EvidenceLock
from watchkeeper.recorder.retention import CameraRetention, RetentionManager, RetentionPolicy
from watchkeeper.recorder.snapshot_retention import prune_event_snapshots
from watchkeeper.storage.protocols import Store

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CAM = CameraId("cam1")
DAY = timedelta(days=1)


def snapshot(media: Path, name: str, written: datetime) -> Path:
    """A snapshot file as ``EventSnapshotStore`` writes it, with its modification time at ``written``."""
    path = media / CAM / "events" / f"{name}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8 jpeg \xff\xd9")
    os.utime(path, (written.timestamp(), written.timestamp()))
    return path


def event(store: Store, media: Path, name: str, start: datetime, end: datetime | None) -> Path:
    store.events.upsert(Event(name, CAM, EventKind.OBJECT, start, end, 0.9, label="person"))
    return snapshot(media, name, end or start)


def test_snapshots_past_event_retention_are_deleted_except_locked_and_ongoing(
    store: Store, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    expired = event(store, media, "expired", NOW - 20 * DAY, NOW - 20 * DAY + timedelta(seconds=30))
    kept = event(store, media, "kept", NOW - 10 * DAY, NOW - 10 * DAY + timedelta(seconds=30))
    locked = event(store, media, "locked", NOW - 25 * DAY, NOW - 25 * DAY + timedelta(seconds=30))
    ongoing = event(store, media, "ongoing", NOW - 20 * DAY, None)
    # written long ago, but its event ended recently (the best frame replaced it at the end)
    late_end = event(store, media, "late-end", NOW - 30 * DAY, NOW - 2 * DAY)
    os.utime(late_end, ((NOW - 30 * DAY).timestamp(),) * 2)
    orphan_old = snapshot(media, "orphan-old", NOW - 16 * DAY)
    orphan_new = snapshot(media, "orphan-new", NOW - 3 * DAY)
    store.evidence_locks.add(
        EvidenceLock(CAM, NOW - 25 * DAY - timedelta(minutes=1), NOW - 25 * DAY + DAY, "claim", "alice", NOW)
    )
    rules = RetentionPolicy(cameras=(CameraRetention(CAM, 7, 14),), max_bytes=None, min_free_bytes=0)

    RetentionManager(store, media, rules, clock=lambda: NOW).run_once()

    assert not expired.exists()
    assert not orphan_old.exists()
    assert all(path.exists() for path in (kept, locked, ongoing, late_end, orphan_new))


def test_a_released_lock_no_longer_holds_a_snapshot_and_missing_folders_are_fine(
    store: Store, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    path = event(store, media, "old", NOW - 40 * DAY, NOW - 40 * DAY + timedelta(seconds=5))
    lock = store.evidence_locks.add(EvidenceLock(CAM, NOW - 41 * DAY, NOW - 39 * DAY, "x", "alice", NOW))
    cutoff = NOW - 14 * DAY
    assert prune_event_snapshots(store, media, [(CAM, cutoff), (CameraId("nothing-here"), cutoff)]) == 0
    assert lock.id is not None
    store.evidence_locks.release(lock.id, NOW)
    assert prune_event_snapshots(store, media, [(CAM, cutoff)]) == 1
    assert not path.exists()
