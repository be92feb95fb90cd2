"""Disk full for real: a small tmpfs volume (or a loop-mounted ext2 image) fills while recording.

The test mounts a 4 MiB volume (we run as root in CI). When neither tmpfs nor a loop mount is permitted
it is skipped with the reason. Which path ran is in the test's output (``-rs`` / ``-s``).
"""

from __future__ import annotations

import errno
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import TEST_FOOTAGE
from watchkeeper.domain import CameraId, Segment
from watchkeeper.recorder.diskfull import DiskFullGuard
from watchkeeper.recorder.retention import (
    CameraRetention,
    EvictionReason,
    RetentionManager,
    RetentionPolicy,
)
from watchkeeper.recorder.segmenter import DiskFullError, Segmenter, SegmenterSettings
from watchkeeper.simulator import write_mp4
from watchkeeper.sources import PyAVSource, ReceivedPacket, SourceSpec
from watchkeeper.storage.protocols import Store

CAM = CameraId("cam1")
T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
VOLUME = "4m"


def _mount(target: Path, image: Path) -> str:
    """Mount a small volume on ``target``; returns how (``tmpfs`` or ``loop``), or skips."""
    target.mkdir()
    tmpfs = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={VOLUME}", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    if tmpfs.returncode == 0:
        return "tmpfs"
    if shutil.which("mkfs.ext2") is None:
        pytest.skip(f"cannot mount tmpfs ({tmpfs.stderr.decode().strip()}) and mkfs.ext2 is missing")
    subprocess.run(["truncate", "-s", VOLUME.upper(), str(image)], check=True)
    subprocess.run(["mkfs.ext2", "-q", "-F", str(image)], check=True, capture_output=True)
    loop = subprocess.run(["mount", "-o", "loop", str(image), str(target)], capture_output=True, check=False)
    if loop.returncode != 0:
        pytest.skip(
            f"cannot mount tmpfs ({tmpfs.stderr.decode().strip()}) nor a loop device "
            f"({loop.stderr.decode().strip()}): run as root with CAP_SYS_ADMIN"
        )
    return "loop"


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "volume"
    how = _mount(target, tmp_path / "volume.img")
    print(f"disk-full test volume: {how} ({VOLUME})")  # says which path the test took
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = replace(TEST_FOOTAGE, width=640, height=360, duration_s=4.0)
    return write_mp4(spec, tmp_path_factory.mktemp("clip") / "clip.mp4")


def feed(clip: Path, recorder: Segmenter | DiskFullGuard, start: datetime) -> datetime:
    """Play the clip once into ``recorder`` with a 10 packets/s receipt clock; returns the next time."""
    at = start
    with PyAVSource(SourceSpec(url=str(clip), redacted_url="clip.mp4")).open() as opened:
        recorder.begin(opened)
        for packet in opened._container.demux(opened.video):
            if packet.size:
                recorder.write(ReceivedPacket(packet=packet, received_at=at))
                at += timedelta(seconds=0.1)
        recorder.finish()
    return at


def test_the_segmenter_reports_enospc_as_disk_full_and_drops_the_broken_segment(
    small_volume: Path, clip_file: Path
) -> None:
    filler = small_volume / "filler"
    filler.write_bytes(b"\0" * (shutil.disk_usage(small_volume).free - 20_000))
    segmenter = Segmenter(SegmenterSettings(small_volume, CAM, 1.0), lambda _segment: None)
    with pytest.raises(DiskFullError, match="disk full") as caught:
        feed(clip_file, segmenter, T0)
    assert getattr(caught.value.__cause__, "errno", None) == errno.ENOSPC
    assert not list(small_volume.rglob("*.part"))


def test_recording_evicts_the_oldest_footage_and_continues_when_the_disk_fills(
    small_volume: Path, clip_file: Path, store: Store
) -> None:
    written: list[Segment] = []

    def index(segment: Segment) -> None:
        written.append(store.segments.add(segment))

    retention = RetentionManager(
        store, small_volume, RetentionPolicy(cameras=(CameraRetention(CAM, 7, 14),), min_free_bytes=600_000)
    )
    reasons: list[str] = []
    guard = DiskFullGuard(
        Segmenter(SegmenterSettings(small_volume, CAM, 1.0), index), retention.free_space, reasons.append
    )

    at = T0
    for _ in range(3):  # old footage
        at = feed(clip_file, guard, at)
    old = list(written)
    assert len(old) >= 9
    filler = small_volume / "another-program"  # someone else fills the volume
    filler.write_bytes(b"\0" * (shutil.disk_usage(small_volume).free - 100_000))

    at += timedelta(hours=1)
    new_start = at
    for _ in range(2):  # recording goes on
        at = feed(clip_file, guard, at)

    assert guard.disk_full_count >= 1
    assert reasons
    assert reasons[0].startswith("disk full: evicted")
    snapshot = retention.stats.snapshot()
    assert snapshot.disk_full_events >= 1
    evicted = snapshot.evicted(EvictionReason.DISK_FULL)
    assert evicted.segments >= 1
    indexed = list(store.segments.list(CAM))
    # the oldest footage went first, the newest was kept and recording continued after the eviction
    assert indexed[0].start > old[0].start
    assert [s.path for s in indexed] == sorted(s.path for s in indexed)
    recorded_after = [s for s in indexed if s.start >= new_start]
    assert len(recorded_after) >= 3
    assert indexed[-1].start >= at - timedelta(seconds=2)
    # the index and the files agree: no row without a file, no file without a row, no leftovers
    files = {p.relative_to(small_volume).as_posix() for p in small_volume.rglob("*.mp4")}
    assert files == {s.path for s in indexed}
    assert not list(small_volume.rglob("*.part"))
    assert filler.exists()
