"""Per-camera recovery in a shared media folder: real segments (PyAV), a real SQLite index, real files."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.recorder.test_recovery import CAM, record_segments
from watchkeeper.domain import CameraId, Segment
from watchkeeper.recorder import recovery as recovery_module
from watchkeeper.recorder.camera_recovery import (
    CameraFiles,
    FileMark,
    drop_indexed,
    mark_camera_files,
    settle,
)
from watchkeeper.recorder.scope import FootageScope
from watchkeeper.runtime.media_recovery import WorkerRecovery
from watchkeeper.storage.protocols import Store

OTHER = CameraId("cam2")


@pytest.fixture
def crashed(clip_file: Path, tmp_path: Path, store: Store) -> Crashed:
    """cam1's folder after a crash: 2 segments indexed, 3 not, a ``.part``, a corrupt file, a stray file."""
    media = tmp_path / "media"
    segments = record_segments(clip_file, media)
    for segment in segments[:2]:
        store.segments.add(segment)
    hour = media / "cam1/2026/11/25/13"
    partial = hour / ".00.03.mp4.part"
    partial.write_bytes(b"half a segment")
    corrupt = hour / "00.04.mp4"
    corrupt.write_bytes(b"\0" * 100)
    (hour / "notes.txt").write_text("not a segment")
    other = media / "cam2/2026/11/25/13/.00.01.mp4.part"  # another worker is writing cam2
    other.parent.mkdir(parents=True)
    other.write_bytes(b"cam2 being written")
    return Crashed(media, segments, partial, corrupt, other)


@dataclass
class Crashed:
    """What the ``crashed`` fixture left."""

    media: Path
    segments: list[Segment]
    partial: Path
    corrupt: Path
    other: Path


def _quarantined(media: Path) -> list[str]:
    folder = media / ".quarantine"
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    assert all(f"{name}.reason" in names for name in names if not name.endswith(".reason"))
    return [name for name in names if not name.endswith(".reason")]


def test_marking_lists_the_cameras_leftovers_and_drop_indexed_keeps_the_unindexed(
    crashed: Crashed, store: Store
) -> None:
    files = mark_camera_files(crashed.media, CAM)
    assert set(files.partials) == {crashed.partial}
    assert len(files.segments) == 6  # five real ones and the corrupt one; notes.txt is not a segment
    assert crashed.other not in files.partials
    unindexed = drop_indexed(store, crashed.media, files)
    expected = {crashed.media / s.path for s in crashed.segments[2:]} | {crashed.corrupt}
    assert set(unindexed.segments) == expected
    assert unindexed.partials == files.partials
    assert mark_camera_files(crashed.media, CameraId("absent")).empty
    recent = mark_camera_files(crashed.media, CAM, since=datetime(2026, 11, 25, 13, 30, tzinfo=UTC))
    assert set(recent.partials) == {crashed.partial}  # only the 13:00 folder is recent enough
    assert all(path.parent.name == "13" for path in recent.segments)
    assert mark_camera_files(crashed.media, CAM, since=datetime(2026, 11, 25, 14, 1, tzinfo=UTC)).empty


def test_settle_recovers_quiet_files_once_and_never_another_cameras(crashed: Crashed, store: Store) -> None:
    files = drop_indexed(store, crashed.media, mark_camera_files(crashed.media, CAM))
    report = settle(store, crashed.media, files, None)
    assert (report.quarantined_partials, report.reindexed, report.quarantined_unreadable) == (1, 3, 1)
    assert report.pending.empty
    assert report.repaired
    assert not crashed.partial.exists()
    assert not crashed.corrupt.exists()
    assert crashed.other.exists(), "a file of a camera this worker does not hold was touched"
    assert _quarantined(crashed.media) == [
        "cam1_2026_11_25_13_.00.03.mp4.part",
        "cam1_2026_11_25_13_00.04.mp4",
    ]
    paths = [s.path for s in store.segments.list(CAM)]
    assert paths == [s.path for s in crashed.segments]
    again = settle(store, crashed.media, files, None)  # a second worker with the same list: nothing twice
    assert not again.repaired
    assert again.finished == files.count
    assert [s.path for s in store.segments.list(CAM)] == paths


def test_files_that_change_are_left_until_they_stand_still(crashed: Crashed, store: Store) -> None:
    files = drop_indexed(store, crashed.media, mark_camera_files(crashed.media, CAM))
    with crashed.partial.open("ab") as growing:  # the previous owner still writes it
        growing.write(b" and some more")
    unfinished = crashed.media / crashed.segments[2].path
    os.utime(unfinished, ns=(0, unfinished.stat().st_mtime_ns + 1))
    report = settle(store, crashed.media, files, None)
    assert crashed.partial.exists()
    assert set(report.pending.partials) == {crashed.partial}
    assert set(report.pending.segments) == {unfinished}
    assert report.pending.partials[crashed.partial] == FileMark.of(crashed.partial)
    assert report.reindexed == 2
    final = settle(store, crashed.media, report.pending, None)
    assert (final.quarantined_partials, final.reindexed) == (1, 1)
    assert final.pending.empty


def test_files_finished_by_their_writer_meanwhile_are_left_to_it(crashed: Crashed, store: Store) -> None:
    files = drop_indexed(store, crashed.media, mark_camera_files(crashed.media, CAM))
    finished = crashed.partial.with_name("00.03.mp4")
    crashed.partial.rename(finished)  # its writer renamed it...
    store.segments.add(replace(crashed.segments[2], id=None))  # ...and another one indexed by its writer
    report = settle(store, crashed.media, files, None)
    assert report.quarantined_partials == 0
    assert report.finished == 2
    assert finished.exists()
    assert report.reindexed == 2


def test_files_written_after_marking_are_never_touched(crashed: Crashed, store: Store) -> None:
    files = mark_camera_files(crashed.media, CAM)
    own = crashed.partial.with_name(".00.09.mp4.part")  # this worker's camera started after the marking
    own.write_bytes(b"mine")
    settle(store, crashed.media, files, None)
    assert own.exists()


async def test_worker_recovery_settles_only_while_the_camera_is_held(crashed: Crashed, store: Store) -> None:
    recovery = WorkerRecovery(store, crashed.media, None, quiet_s=0.05, lookback=None)  # T0 is long past
    held = {"cam1": False}
    await recovery.before_start(CAM, lambda: held["cam1"])
    await recovery.wait(CAM)
    assert crashed.partial.exists(), "recovered a camera this worker no longer holds"
    held["cam1"] = True
    await recovery.before_start(CAM, lambda: held["cam1"])
    await recovery.wait(CAM)
    assert not crashed.partial.exists()
    assert len(list(store.segments.list(CAM))) == 5
    assert crashed.other.exists()
    await recovery.before_start(OTHER, lambda: True)
    await recovery.stop()  # cancels the wait: cam2's file is left for later
    assert crashed.other.exists()


async def test_the_start_up_index_check_runs_in_the_background_per_camera_page_by_page(
    crashed: Crashed, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery_module, "PAGE", 2)  # the ghosts sit on different pages
    first = crashed.segments[0]
    early = store.segments.add(replace(first, path="cam1/2026/11/25/11/00.00.mp4", id=None))
    shift = timedelta(hours=10)
    late_path = "cam1/2026/11/25/23/00.00.mp4"
    late = store.segments.add(
        replace(first, path=late_path, start=first.start + shift, end=first.end + shift, id=None)
    )
    other_path = "cam2/2026/11/25/11/00.00.mp4"
    elsewhere = store.segments.add(replace(first, camera_id=OTHER, path=other_path, id=None))
    recovery = WorkerRecovery(store, crashed.media, None, quiet_s=0.1)
    ready = threading.Event()
    recovery.store_ready = ready  # the store has not answered yet: the check waits, start-up does not
    recovery.check_index()
    await asyncio.sleep(0.3)
    assert early.path in [s.path for s in store.segments.list(CAM)]
    ready.set()
    await asyncio.wait_for(recovery.wait_index_check(), 30)
    paths = [s.path for s in store.segments.list(CAM, limit=100)]
    assert early.path not in paths
    assert late.path not in paths
    assert all(segment.path in paths for segment in crashed.segments[:2])
    assert elsewhere.path not in [s.path for s in store.segments.list(OTHER)]
    assert crashed.partial.exists()  # the index check touches no file
    assert (
        await asyncio.to_thread(recovery_module.remove_camera_rows_without_files, store, crashed.media, CAM)
        == 0
    )
    await recovery.stop()


async def test_the_index_check_of_a_site_worker_removes_no_row_without_a_file(
    crashed: Crashed, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # With a media folder per site, another site's files are never here, and a camera moved between sites
    # left its old footage at its old site: rows without a file here must stay (counted and logged).
    first = crashed.segments[0]
    ghost = store.segments.add(replace(first, path="cam1/2026/11/25/11/00.00.mp4", id=None))
    elsewhere = store.segments.add(
        replace(first, camera_id=OTHER, path="cam2/2026/11/25/11/00.00.mp4", id=None)
    )
    recovery = WorkerRecovery(store, crashed.media, None, quiet_s=0.1)
    recovery.scope = FootageScope(cameras=frozenset({CAM}), site="north")
    with caplog.at_level(logging.INFO, logger="watchkeeper.runtime.media_recovery"):
        recovery.check_index()
        await asyncio.wait_for(recovery.wait_index_check(), 30)
    assert ghost.path in [s.path for s in store.segments.list(CAM, limit=100)]
    assert elsewhere.path in [s.path for s in store.segments.list(OTHER)]
    assert "1 hot row(s) without a file here kept" in caplog.text
    await recovery.stop()


def test_an_empty_list_settles_to_nothing(tmp_path: Path, store: Store) -> None:
    report = settle(store, tmp_path, CameraFiles(CAM), None)
    assert not report.repaired
    assert report.pending.empty
    assert "0 partial segment(s) quarantined" in report.summary()
