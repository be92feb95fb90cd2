"""HLS playlists over recorded fragmented-MP4 segments, and the MP4 box scan they need.

Every segment file is a self-contained fragmented MP4: an init section (``ftyp`` + ``moov``) followed by
``moof``/``mdat`` fragments whose timestamps start at zero. A playlist therefore points each HLS segment at
its own file twice: ``EXT-X-MAP`` with a byte range over the init section and a media byte range over the
fragments. Every segment starts a discontinuity (timestamps restart at zero) and carries its wall-clock
start as ``EXT-X-PROGRAM-DATE-TIME`` so players can show real time.
"""

from __future__ import annotations

import math
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from watchkeeper.domain import Segment, WatchkeeperError

INIT_BOXES = frozenset({b"ftyp", b"moov", b"free", b"skip", b"uuid", b"styp", b"sidx", b"pdin"})
"""Top-level boxes that may precede the first fragment."""

MAX_BOXES = 100_000
"""Stop scanning a file after this many top-level boxes (a sane segment has a few hundred)."""


class Mp4LayoutError(WatchkeeperError):
    """A segment file is not a fragmented MP4 we can serve as HLS (truncated, not fMP4)."""

    code = "bad_segment_file"


@dataclass(frozen=True, slots=True)
class Mp4Layout:
    """Where the init section and the fragments are in one fragmented-MP4 file (byte offsets)."""

    init_length: int
    media_start: int
    media_end: int

    @property
    def media_length(self) -> int:
        """Bytes of ``moof``/``mdat`` fragments (trailing boxes such as ``mfra`` excluded)."""
        return self.media_end - self.media_start


def _read_box_header(handle: BinaryIO, offset: int, file_size: int) -> tuple[bytes, int]:
    """Box type and total size of the box at ``offset``."""
    handle.seek(offset)
    header = handle.read(8)
    if len(header) < 8:
        raise Mp4LayoutError(f"truncated box header at byte {offset}")
    size, kind = struct.unpack(">I4s", header)
    if size == 1:
        large = handle.read(8)
        if len(large) < 8:
            raise Mp4LayoutError(f"truncated 64-bit box size at byte {offset}")
        size = struct.unpack(">Q", large)[0]
    elif size == 0:
        size = file_size - offset
    if size < 8 or offset + size > file_size:
        raise Mp4LayoutError(f"box {kind!r} at byte {offset} has an impossible size {size}")
    return kind, size


def scan_layout(path: Path) -> Mp4Layout:
    """Find the init section and the fragment range of a fragmented MP4 by walking its top-level boxes.

    Raises:
        Mp4LayoutError: the file cannot be read, is truncated, or has no ``moov`` or no fragment.
    """
    try:
        with path.open("rb") as handle:
            file_size = path.stat().st_size
            return _scan(handle, file_size, path)
    except OSError as err:
        raise Mp4LayoutError(f"cannot read {path.name}: {err.strerror or err}") from err


def scan_layout_stream(handle: BinaryIO, file_size: int, name: str) -> Mp4Layout:
    """:func:`scan_layout` over an open seekable reader (a warm-tier object: a few ranged reads).

    Raises:
        Mp4LayoutError: truncated, or no ``moov`` or no fragment.
    """
    return _scan(handle, file_size, Path(name))


def _scan(handle: BinaryIO, file_size: int, path: Path) -> Mp4Layout:
    offset = 0
    init_length: int | None = None
    media_end: int | None = None
    seen_moov = False
    for _ in range(MAX_BOXES):
        if offset >= file_size:
            break
        kind, size = _read_box_header(handle, offset, file_size)
        if init_length is None:
            if kind == b"moof":
                init_length = offset
            elif kind not in INIT_BOXES:
                raise Mp4LayoutError(f"{path.name}: unexpected box {kind!r} before the first fragment")
            seen_moov = seen_moov or kind == b"moov"
        if kind in (b"moof", b"mdat") and init_length is not None:
            media_end = offset + size
        offset += size
    if not seen_moov or init_length is None or media_end is None:
        raise Mp4LayoutError(f"{path.name} is not a fragmented MP4 (no moov or no fragment)")
    return Mp4Layout(init_length=init_length, media_start=init_length, media_end=media_end)


class LayoutCache:
    """A bounded, thread-safe LRU of ``Mp4Layout`` per segment id (segment files never change)."""

    def __init__(self, capacity: int = 4096) -> None:
        """Keep at most ``capacity`` layouts."""
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._items: OrderedDict[int, Mp4Layout] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, segment_id: int, path: Path | Callable[[], Mp4Layout]) -> Mp4Layout:
        """The layout of segment ``segment_id`` stored at ``path`` (scanned once, then cached).

        ``path`` may instead be a function that scans the segment (one in the warm tier).
        """
        with self._lock:
            found = self._items.get(segment_id)
            if found is not None:
                self._items.move_to_end(segment_id)
                return found
        layout = scan_layout(path) if isinstance(path, Path) else path()
        with self._lock:
            self._items[segment_id] = layout
            self._items.move_to_end(segment_id)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return layout

    def __len__(self) -> int:
        """Number of cached layouts."""
        with self._lock:
            return len(self._items)


@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    """One segment as the playlist lists it."""

    segment: Segment
    layout: Mp4Layout
    media_url: str


def _program_date_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_playlist(entries: Sequence[PlaylistEntry], *, complete: bool) -> str:
    """Render an HLS media playlist (version 7, fMP4 with byte ranges).

    Args:
        entries: segments oldest first.
        complete: ``True`` for a closed range (VOD, ``EXT-X-ENDLIST``); ``False`` for a range that is
            still growing (``EVENT`` playlist without ``EXT-X-ENDLIST``, players reload it).
    """
    target = max((math.ceil(entry.segment.duration_s) for entry in entries), default=1)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{max(1, target)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-DISCONTINUITY-SEQUENCE:0",
        f"#EXT-X-PLAYLIST-TYPE:{'VOD' if complete else 'EVENT'}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for index, entry in enumerate(entries):
        layout = entry.layout
        if index > 0:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [
            f'#EXT-X-MAP:URI="{entry.media_url}",BYTERANGE="{layout.init_length}@0"',
            f"#EXT-X-PROGRAM-DATE-TIME:{_program_date_time(entry.segment.start)}",
            f"#EXTINF:{max(entry.segment.duration_s, 0.001):.3f},",
            f"#EXT-X-BYTERANGE:{layout.media_length}@{layout.media_start}",
            entry.media_url,
        ]
    if complete:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def playlist_entries(
    segments: Sequence[Segment],
    layout_of: Callable[[Segment], Mp4Layout | None],
    url_of: Callable[[Segment], str],
) -> list[PlaylistEntry]:
    """Pair each segment with its layout; segments whose file is missing or unreadable are skipped."""
    entries: list[PlaylistEntry] = []
    for segment in segments:
        layout = layout_of(segment)
        if layout is not None and layout.media_length > 0:
            entries.append(PlaylistEntry(segment, layout, url_of(segment)))
    return entries
