"""Box scan of our fMP4 segment files and the HLS playlist built over them."""

from __future__ import annotations

import struct
from datetime import timedelta
from pathlib import Path

import pytest

from tests.recorder.playback_footage import T0, record, source_clip
from watchkeeper.domain import Segment
from watchkeeper.recorder.hls import (
    LayoutCache,
    Mp4Layout,
    Mp4LayoutError,
    PlaylistEntry,
    build_playlist,
    playlist_entries,
    scan_layout,
)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Segment]]:
    folder = tmp_path_factory.mktemp("hls")
    return folder, record(source_clip(folder, 3.0), folder, "cam1", T0)


def _boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    out, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        out.append((kind, offset, size))
        offset += size
    return out


def test_layout_splits_init_section_and_fragments(recorded: tuple[Path, list[Segment]]) -> None:
    folder, segments = recorded
    path = folder / segments[0].path
    layout = scan_layout(path)
    boxes = _boxes(path.read_bytes())
    first_moof = next(offset for kind, offset, _ in boxes if kind == b"moof")
    last_mdat = max(offset + size for kind, offset, size in boxes if kind == b"mdat")
    assert layout == Mp4Layout(init_length=first_moof, media_start=first_moof, media_end=last_mdat)
    assert [kind for kind, offset, _ in boxes if offset < layout.init_length] == [b"ftyp", b"moov"]
    assert layout.media_length > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no moov"),
        (struct.pack(">I4s", 8, b"ftyp"), "no moov"),
        (struct.pack(">I4s", 500, b"ftyp"), "impossible size"),
        (struct.pack(">I4s", 8, b"mdat"), "unexpected box"),
        (b"\x00\x00", "truncated"),
    ],
)
def test_bad_files_raise_a_typed_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(Mp4LayoutError, match=message):
        scan_layout(path)


def test_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(Mp4LayoutError, match="cannot read"):
        scan_layout(tmp_path / "gone.mp4")


def test_truncated_segment_is_rejected(recorded: tuple[Path, list[Segment]], tmp_path: Path) -> None:
    folder, segments = recorded
    data = (folder / segments[0].path).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(Mp4LayoutError, match="impossible size"):
        scan_layout(cut)


def test_layout_cache_is_bounded_and_reuses_scans(recorded: tuple[Path, list[Segment]]) -> None:
    folder, segments = recorded
    cache = LayoutCache(capacity=2)
    for index, segment in enumerate(segments):
        cache.get(index, folder / segment.path)
    assert len(cache) == 2
    # A cached entry is served without touching the file again.
    assert cache.get(len(segments) - 1, folder / "no-such-file.mp4").media_length > 0
    with pytest.raises(ValueError, match="capacity"):
        LayoutCache(capacity=0)


def test_playlist_lists_every_segment_with_byte_ranges(recorded: tuple[Path, list[Segment]]) -> None:
    folder, segments = recorded
    entries = playlist_entries(segments, lambda s: scan_layout(folder / s.path), lambda s: f"/m/{s.path}")
    text = build_playlist(entries, complete=True)
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    assert "#EXT-X-VERSION:7" in lines
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert text.count("#EXTINF:1.000,") == len(segments) == 3
    assert text.count("#EXT-X-DISCONTINUITY\n") == len(segments) - 1
    first = entries[0]
    assert f'#EXT-X-MAP:URI="/m/{segments[0].path}",BYTERANGE="{first.layout.init_length}@0"' in lines
    assert f"#EXT-X-BYTERANGE:{first.layout.media_length}@{first.layout.init_length}" in lines
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:01.000Z" in lines


def test_open_playlist_is_an_event_playlist_without_endlist(recorded: tuple[Path, list[Segment]]) -> None:
    folder, segments = recorded
    entries = [PlaylistEntry(s, scan_layout(folder / s.path), "/x") for s in segments]
    text = build_playlist(entries, complete=False)
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text
    assert "#EXT-X-ENDLIST" not in text


def test_segments_without_a_layout_are_left_out(recorded: tuple[Path, list[Segment]]) -> None:
    folder, segments = recorded
    entries = playlist_entries(
        segments,
        lambda s: None if s.start == T0 + timedelta(seconds=1) else scan_layout(folder / s.path),
        lambda s: "/x",
    )
    assert [entry.segment for entry in entries] == [segments[0], segments[2]]
