"""Start-up recovery: make the recording index and the media folder agree again after a crash.

``recover_media`` runs before the camera workers start and

1. moves ``.part`` files (segments that were being written) to ``<root>/.quarantine/``;
2. removes index rows whose file is missing (for example a crash between deleting a file and its row);
3. re-indexes complete segment files that have no row (a crash between the rename and the index write),
   probing them with PyAV for duration, codecs, size and keyframes; unreadable ones are quarantined.
   Encrypted originals are probed through ``open_sealed`` (authenticated plaintext): a complete one (every
   AES-GCM chunk verifies) is indexed, a truncated or unauthenticated one quarantined, and one whose data
   key is not available now is left in place, unindexed, for a later start.

It only walks the ``<camera>/<YYYY>/<MM>/<DD>/<HH>/`` layout the segmenter writes (and the same layout
under ``<camera>/protected/`` for the protected rendition); other files are left alone and counted.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import av
import av.error

from watchkeeper.domain import CameraId, DuplicateError, Rendition, Segment, StorageTier
from watchkeeper.recorder.quarantine import QuarantineNote, QuarantineReason, quarantine
from watchkeeper.recorder.segmenter import recover_partials
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

PROTECTED_DIR = "protected"
"""``<camera>/protected/`` holds the protected rendition, in the same hour layout as the originals."""
PAGE = 2000
HOUR_GLOB = "[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/[0-9][0-9]"
_SEGMENT_NAME = re.compile(r"^(?P<minute>\d\d)\.(?P<second>\d\d)(?:-\d+)?\.mp4$")


class UnreadableSegmentError(Exception):
    """A segment file cannot be probed (truncated, corrupt, fails authentication or without video)."""


class UnverifiableSegmentError(Exception):
    """An encrypted segment cannot be checked now (its data key is unavailable): left alone, not indexed."""


SealedOpener = Callable[[Path], BinaryIO | None]
"""Opens an encrypted segment as plaintext after authenticating every chunk; ``None`` when ``path`` is not
encrypted. Raises ``UnreadableSegmentError`` (truncated, altered) or ``UnverifiableSegmentError`` (no key)."""


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What start-up recovery did."""

    quarantined_partials: int
    removed_rows: int
    reindexed: int
    quarantined_unreadable: int
    skipped_files: int
    duration_s: float

    @property
    def repaired(self) -> bool:
        """True when anything had to be fixed."""
        return bool(
            self.quarantined_partials or self.removed_rows or self.reindexed or self.quarantined_unreadable
        )

    def summary(self) -> str:
        """One line for the log."""
        return (
            f"{self.quarantined_partials} partial segment(s) quarantined, {self.removed_rows} row(s) without "
            f"a file removed, {self.reindexed} segment(s) re-indexed, {self.quarantined_unreadable} "
            f"unreadable segment(s) quarantined, {self.skipped_files} unknown file(s) skipped"
        )


@dataclass(frozen=True, slots=True)
class ProbedMedia:
    """What PyAV reads from a complete segment file."""

    duration_s: float
    video_codec: str
    width: int
    height: int
    keyframes: int
    audio_codec: str | None


def recover_media(store: Store, media_root: Path, open_sealed: SealedOpener | None = None) -> RecoveryReport:
    """Repair the index and the media folder after a crash; logs and returns what was done.

    ``open_sealed`` reads encrypted originals (without it an encrypted file cannot be probed and is
    quarantined as unreadable).

    Raises:
        WatchkeeperError: If the database fails (``StorageUnavailableError``).
    """
    started = time.monotonic()
    partials = len(recover_partials(media_root)) if media_root.is_dir() else 0
    removed = remove_rows_without_files(store, media_root)
    counts = _Counts()
    for camera_dir in _camera_dirs(media_root):
        hours = [*camera_dir.glob(HOUR_GLOB), *(camera_dir / PROTECTED_DIR).glob(HOUR_GLOB)]
        for hour_dir in sorted(hours):
            _recover_hour(store, _Where(media_root, hour_dir, open_sealed), CameraId(camera_dir.name), counts)
    report = RecoveryReport(
        quarantined_partials=partials,
        removed_rows=removed,
        reindexed=counts.reindexed,
        quarantined_unreadable=counts.unreadable,
        skipped_files=counts.skipped,
        duration_s=time.monotonic() - started,
    )
    log.log(
        logging.WARNING if report.repaired else logging.INFO,
        "recovery: %s in %.2f s",
        report.summary(),
        report.duration_s,
    )
    return report


def probe_segment(path: Path, open_sealed: SealedOpener | None = None) -> ProbedMedia:
    """Read a segment's duration, codecs, size and keyframe count without decoding.

    An encrypted segment is read through ``open_sealed`` (which authenticates it first).

    Raises:
        UnreadableSegmentError: If the file cannot be opened, fails authentication or holds no video packet.
        UnverifiableSegmentError: If it is encrypted and its data key is unavailable.
    """
    handle = open_sealed(path) if open_sealed is not None else None
    try:
        with av.open(handle if handle is not None else str(path), mode="r") as container:
            if not container.streams.video:
                raise UnreadableSegmentError(f"{path} has no video stream")
            video = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            first: int | None = None
            last_end = keyframes = 0
            for packet in container.demux(video):
                if packet.pts is None or packet.size == 0:
                    continue
                first = packet.pts if first is None else min(first, packet.pts)
                last_end = max(last_end, packet.pts + (packet.duration or 0))
                keyframes += int(packet.is_keyframe)
            if first is None or video.time_base is None:
                raise UnreadableSegmentError(f"{path} holds no video packet")
            return ProbedMedia(
                duration_s=max(0.0, float((last_end - first) * video.time_base)),
                video_codec=video.codec_context.name,
                width=video.codec_context.width,
                height=video.codec_context.height,
                keyframes=keyframes,
                audio_codec=audio.codec_context.name if audio is not None else None,
            )
    except (OSError, av.error.FFmpegError) as err:
        raise UnreadableSegmentError(f"{path} cannot be read: {err}") from err
    finally:
        if handle is not None:
            handle.close()


def rendition_of(relative: str) -> Rendition:
    """``protected`` for ``<camera>/protected/...`` (the protected rendition's layout), else ``original``."""
    parts = relative.split("/")
    return Rendition.PROTECTED if len(parts) > 1 and parts[1] == PROTECTED_DIR else Rendition.ORIGINAL


def parse_segment_start(relative: str) -> datetime | None:
    """The UTC start in ``<camera>/[protected/]<YYYY>/<MM>/<DD>/<HH>/<MM.SS>[-n].mp4``, or ``None``."""
    parts = relative.split("/")
    if rendition_of(relative) is Rendition.PROTECTED:
        del parts[1]
    match = _SEGMENT_NAME.match(parts[-1]) if len(parts) == 6 else None
    if match is None:
        return None
    try:
        return datetime(
            int(parts[1]),
            int(parts[2]),
            int(parts[3]),
            int(parts[4]),
            int(match["minute"]),
            int(match["second"]),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def remove_rows_without_files(store: Store, media_root: Path) -> int:
    """Delete index rows of hot segments whose file is missing; returns how many were deleted.

    Meant to be safe while other processes record into the same folder: a segment's row is written after
    its file is complete and retention deletes the file before the row, so a hot row without a file is
    footage that is gone. Each such row is read again just before the delete, so a segment that the tiering
    of another process moved to the warm tier meanwhile (row marked warm, then the local file deleted)
    keeps its row.
    """
    missing: list[int] = []
    after = 0
    while page := store.retention.page(after, PAGE):
        after = page[-1].id or after
        missing += [s.id for s in page if s.id is not None and _hot_without_file(s, media_root)]
    missing = _still_missing(store, media_root, missing)
    if not missing:
        return 0
    removed = store.retention.delete(missing)
    log.warning("recovery: removed %d index row(s) whose file is missing", removed)
    return removed


def remove_camera_rows_without_files(
    store: Store, media_root: Path, camera_id: CameraId, *, remove: bool = True
) -> int:
    """:func:`remove_rows_without_files` for one camera, a page at a time; returns how many were deleted.

    Reads ``PAGE`` rows of the camera at a time (in start order) and deletes that page's rows without a file
    before reading the next: memory stays bounded by a page, whatever the size of the index. With ``remove``
    false nothing is deleted: it returns how many hot rows have no file here (a media folder per site, where
    an absent file may be another site's footage).
    """
    removed = 0
    after: Segment | None = None
    while page := store.retention.camera_page(camera_id, after, PAGE):
        after = page[-1]
        missing = [s.id for s in page if s.id is not None and _hot_without_file(s, media_root)]
        if not remove:
            removed += len(missing)
            continue
        still = _still_missing(store, media_root, missing)
        if still:
            removed += store.retention.delete(still)
    if not remove:
        return removed
    if removed:
        log.warning("recovery: removed %d index row(s) of camera %s without a file", removed, camera_id)
    return removed


# -- internals -----------------------------------------------------------------------------------------


def _still_missing(store: Store, media_root: Path, segment_ids: list[int]) -> list[int]:
    """The rows of ``segment_ids`` that are still hot without a file, each read again just now."""
    return [
        segment_id
        for segment_id in segment_ids
        if any(
            s.id == segment_id and _hot_without_file(s, media_root)
            for s in store.retention.page(segment_id - 1, 1)
        )
    ]


def _hot_without_file(segment: Segment, media_root: Path) -> bool:
    return segment.tier is StorageTier.HOT and not (media_root / segment.path).is_file()


def _camera_dirs(media_root: Path) -> list[Path]:
    if not media_root.is_dir():
        return []
    return sorted(p for p in media_root.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass(frozen=True, slots=True)
class _Where:
    """The hour folder being recovered, its media root and the reader of encrypted segments."""

    media_root: Path
    hour_dir: Path
    open_sealed: SealedOpener | None


@dataclass(slots=True)
class _Counts:
    reindexed: int = 0
    unreadable: int = 0
    skipped: int = 0


def _recover_hour(store: Store, where: _Where, camera_id: CameraId, counts: _Counts) -> None:
    """Re-index one hour folder's files that have no index row."""
    media_root, hour_dir = where.media_root, where.hour_dir
    files = sorted(p for p in hour_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    hour = parse_segment_start(f"{hour_dir.relative_to(media_root).as_posix()}/00.00.mp4")
    if not files or hour is None:
        return
    known = store.retention.indexed_paths(camera_id, hour, hour + timedelta(hours=1))
    for path in files:
        relative = path.relative_to(media_root).as_posix()
        if relative in known:
            continue
        start = parse_segment_start(relative)
        if start is None:
            counts.skipped += 1
            continue
        try:
            probed = probe_segment(path, where.open_sealed)
        except UnverifiableSegmentError as err:
            log.warning("recovery: left unindexed (cannot verify it now): %s", err)
            counts.skipped += 1
            continue
        except UnreadableSegmentError as err:
            moved = quarantine(path, media_root, unreadable_note(camera_id, err))
            log.warning("recovery: quarantined unreadable segment %s -> %s", err, moved)
            counts.unreadable += 1
            continue
        counts.reindexed += int(reindex_file(store, camera_id, path, relative, start, probed))


def reindex_file(
    store: Store, camera_id: CameraId, path: Path, relative: str, start: datetime, probed: ProbedMedia
) -> bool:
    """Index a recovered file between its neighbours (never overlapping them); False if already indexed."""
    stat = path.stat()
    closed_at = datetime.fromtimestamp(stat.st_mtime, UTC)
    precise = closed_at - timedelta(seconds=probed.duration_s)
    if start <= precise < start + timedelta(seconds=1):
        start = precise  # the path has whole seconds; the file's close time gives the fraction
    end = start + timedelta(seconds=probed.duration_s)
    rendition = rendition_of(relative)
    for neighbour in store.segments.list(camera_id, start, end, limit=100, rendition=rendition):
        if neighbour.start <= start:
            start = max(start, neighbour.end)
        else:
            end = min(end, neighbour.start)
    segment = Segment(
        camera_id=camera_id,
        start=start,
        end=max(start, end),
        path=relative,
        size_bytes=stat.st_size,
        video_codec=probed.video_codec,
        width=probed.width,
        height=probed.height,
        keyframes=probed.keyframes,
        audio_codec=probed.audio_codec,
        rendition=rendition,
    )
    try:
        store.segments.add(segment)
    except DuplicateError:
        return False
    log.info("recovery: re-indexed %s (%.1f s)", relative, segment.duration_s)
    return True


def unreadable_note(camera_id: CameraId, err: UnreadableSegmentError) -> QuarantineNote:
    """The reason file of a segment quarantined because it cannot be read."""
    return QuarantineNote(QuarantineReason.UNREADABLE, str(err), camera_id=camera_id)
