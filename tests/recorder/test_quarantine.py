"""The media folder's quarantine: reason files beside each quarantined file, and retention that deletes
quarantined files once they are older than the longer default retention (they are footage nobody indexes)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.recorder.test_retention import record
from watchkeeper.domain import CameraId
from watchkeeper.recorder.quarantine import (
    QUARANTINE,
    QuarantineNote,
    QuarantineReason,
    prune_quarantine,
    quarantine,
)
from watchkeeper.recorder.retention import EvictionReason, RetentionManager, RetentionPolicy
from watchkeeper.recorder.segmenter import recover_partials
from watchkeeper.storage.factory import open_store
from watchkeeper.storage.protocols import Store

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
CAM = CameraId("cam1")
DAY = timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'wk.db'}")
    yield opened
    opened.close()


def _segment_file(media: Path, name: str, content: bytes = b"\x00fmp4") -> Path:
    path = media / CAM / "2026" / "03" / "01" / "10" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _age(path: Path, at: datetime) -> None:
    os.utime(path, (at.timestamp(), at.timestamp()))


def test_a_quarantined_file_keeps_its_bytes_and_gets_a_reason_file(tmp_path: Path) -> None:
    media = tmp_path / "media"
    path = _segment_file(media, "00.10.mp4", b"sealed bytes, not decrypted")
    note = QuarantineNote(QuarantineReason.FENCED, "stale token", camera_id=CAM, token=5)
    moved = quarantine(path, media, note)
    assert not path.exists()
    assert moved == media / QUARANTINE / "cam1_2026_03_01_10_00.10.mp4"
    assert moved.read_bytes() == b"sealed bytes, not decrypted"
    reason = json.loads((moved.parent / (moved.name + ".reason")).read_text())
    assert reason["reason"] == "fenced"
    assert reason["camera"] == "cam1"
    assert reason["token"] == 5
    assert datetime.fromisoformat(reason["at"]).tzinfo is not None


def test_partials_left_by_a_crash_are_quarantined_with_a_reason(tmp_path: Path) -> None:
    media = tmp_path / "media"
    _segment_file(media, ".00.10.mp4.part")
    [moved] = recover_partials(media)
    reason = json.loads((moved.parent / (moved.name + ".reason")).read_text())
    assert reason["reason"] == "partial"
    assert recover_partials(media) == []  # the quarantine itself is not walked again


def test_retention_deletes_quarantined_files_older_than_the_longer_retention(
    store: Store, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    note = QuarantineNote(QuarantineReason.UNREADABLE, "truncated", camera_id=CAM)
    old = quarantine(_segment_file(media, "00.10.mp4"), media, note)
    recent = quarantine(_segment_file(media, "00.20.mp4"), media, note)
    legacy = quarantine(_segment_file(media, "00.30.mp4"), media)  # quarantined before reason files
    _age(old.with_name(old.name + ".reason"), NOW - 15 * DAY)
    _age(recent.with_name(recent.name + ".reason"), NOW - 13 * DAY)
    _age(old, NOW - 40 * DAY)  # the recording's own time does not count when a reason says when
    _age(recent, NOW - 40 * DAY)
    _age(legacy, NOW - 15 * DAY)
    policy = RetentionPolicy(cameras=(), default_retain_days=7, default_event_retain_days=14)
    report = RetentionManager(store, media, policy, clock=lambda: NOW).run_once()
    assert report.quarantine_deleted == 2
    assert "2 quarantined file(s) deleted" in report.summary()
    assert sorted(p.name for p in (media / QUARANTINE).iterdir()) == [
        recent.name,
        recent.name + ".reason",
    ]


def test_pruning_a_missing_quarantine_or_an_orphan_reason(tmp_path: Path) -> None:
    media = tmp_path / "media"
    assert prune_quarantine(media, NOW) == 0
    moved = quarantine(_segment_file(media, "00.10.mp4"), media, QuarantineNote("partial", "crash"))
    moved.unlink()  # an operator took the file away for analysis
    reason = moved.with_name(moved.name + ".reason")
    _age(reason, NOW - 30 * DAY)
    assert prune_quarantine(media, NOW - 14 * DAY) == 0
    assert not reason.exists()


def test_a_quarantine_entry_that_cannot_be_read_does_not_stop_the_quotas(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    media = tmp_path / "media"
    recent = quarantine(_segment_file(media, "00.10.mp4"), media, QuarantineNote("partial", "crash"))
    aside = media / QUARANTINE
    (aside / "taken.mp4.reason").symlink_to(aside / "gone")  # vanishes between the listing and its stat
    (aside / "loop.mp4.reason").symlink_to(aside / "loop.mp4.reason")  # stat fails: too many links
    footage = record(store, media, NOW - timedelta(hours=1), CAM)
    policy = RetentionPolicy(cameras=(), max_bytes=0)
    with caplog.at_level(logging.WARNING, logger="watchkeeper.recorder.quarantine"):
        report = RetentionManager(store, media, policy, clock=lambda: NOW).run_once()
    assert report.evicted(EvictionReason.QUOTA).segments == 1  # the eviction ran after the prune
    assert store.segments.get(footage.id or 0) is None
    assert recent.exists()
    problems = [r.getMessage() for r in caplog.records]
    assert len(problems) == 1
    assert "loop.mp4.reason" in problems[0]
    assert "\n" not in problems[0]
