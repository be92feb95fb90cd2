"""Start-up recovery on real segments (PyAV) and a real SQLite index."""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchkeeper.domain import CameraId, Segment
from watchkeeper.recorder.recovery import (
    UnreadableSegmentError,
    parse_segment_start,
    probe_segment,
    recover_media,
)
from watchkeeper.recorder.segmenter import Segmenter, SegmenterSettings
from watchkeeper.sources import PyAVSource, ReceivedPacket, SourceSpec
from watchkeeper.storage.protocols import Store

T0 = datetime(2026, 11, 25, 12, 59, 57, tzinfo=UTC)  # segments straddle an hour folder boundary
CAM = CameraId("cam1")


def record_segments(clip: Path, root: Path) -> list[Segment]:
    """Five ~1 s segments of real H.264, written by the real segmenter (unpaced, synthetic clock)."""
    segments: list[Segment] = []
    segmenter = Segmenter(SegmenterSettings(root, CAM, 1.0), segments.append)
    with PyAVSource(SourceSpec(url=str(clip), redacted_url="clip.mp4")).open() as opened:
        segmenter.begin(opened)
        packets = (p for p in opened._container.demux(opened.video) if p.size)
        for index, packet in enumerate(packets):
            segmenter.write(ReceivedPacket(packet=packet, received_at=T0 + timedelta(seconds=index / 10)))
        segmenter.finish()
    return segments


def test_parse_segment_start_reads_the_layout() -> None:
    assert parse_segment_start("cam1/2026/11/25/12/59.57.mp4") == T0
    assert parse_segment_start("cam1/2026/11/25/12/59.57-2.mp4") == T0
    assert parse_segment_start("cam1/2026/11/25/12/notes.txt") is None
    assert parse_segment_start("cam1/2026/13/25/12/00.00.mp4") is None  # month 13
    assert parse_segment_start("cam1/00.00.mp4") is None


def test_probe_reads_real_segments_and_refuses_garbage(clip_file: Path, tmp_path: Path) -> None:
    segment = record_segments(clip_file, tmp_path)[0]
    probed = probe_segment(tmp_path / segment.path)
    assert (probed.video_codec, probed.width, probed.height) == ("h264", 320, 180)
    assert probed.keyframes == segment.keyframes
    assert probed.duration_s == pytest.approx(segment.duration_s, abs=0.15)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not an mp4 at all" * 10)
    with pytest.raises(UnreadableSegmentError, match="cannot be read"):
        probe_segment(garbage)


def test_recovery_repairs_index_and_folder(
    clip_file: Path, tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    media = tmp_path / "media"
    segments = record_segments(clip_file, media)
    assert len(segments) == 5
    assert len({Path(s.path).parent for s in segments}) == 2  # 12:59 and 13:00 folders
    indexed = [store.segments.add(s) for s in segments[:2]]  # the crash lost the last three rows
    ghost = store.segments.add(replace(segments[0], path="cam1/2026/11/25/11/00.00.mp4", id=None))
    partial = media / "cam1/2026/11/25/13/.00.03.mp4.part"
    partial.write_bytes(b"half a segment")
    corrupt = media / "cam1/2026/11/25/13/00.04.mp4"
    corrupt.write_bytes(b"\0" * 100)
    stray = media / "cam1/2026/11/25/13/notes.txt"
    stray.write_text("not a segment")

    with caplog.at_level(logging.INFO, logger="watchkeeper.recorder.recovery"):
        report = recover_media(store, media)

    assert report.quarantined_partials == 1
    assert report.removed_rows == 1
    assert report.reindexed == 3
    assert report.quarantined_unreadable == 1
    assert report.skipped_files == 1
    assert report.repaired
    assert "3 segment(s) re-indexed" in caplog.text
    assert ghost.path not in [s.path for s in store.segments.list(CAM)]
    assert not partial.exists()
    assert not corrupt.exists()
    assert stray.exists()
    aside = sorted(p.name for p in (media / ".quarantine").iterdir())
    assert len(aside) == 4  # two files, each beside its reason
    assert sum(name.endswith(".reason") for name in aside) == 2

    after = list(store.segments.list(CAM))
    assert [s.path for s in after] == [s.path for s in segments]
    assert after[:2] == indexed
    for recovered, original in zip(after[2:], segments[2:], strict=True):
        assert recovered.size_bytes == original.size_bytes
        assert recovered.keyframes == original.keyframes
        assert (recovered.video_codec, recovered.width, recovered.height) == ("h264", 320, 180)
        assert recovered.duration_s == pytest.approx(original.duration_s, abs=1.2)
    for earlier, later in itertools.pairwise(after):
        assert earlier.end <= later.start, "recovered segments overlap their neighbours"
    for segment in after:
        assert (media / segment.path).is_file()

    again = recover_media(store, media)
    assert not again.repaired
    assert again.skipped_files == 1


def test_recovery_of_a_missing_media_folder_does_nothing(tmp_path: Path, store: Store) -> None:
    report = recover_media(store, tmp_path / "absent")
    assert not report.repaired
    assert report.skipped_files == 0
