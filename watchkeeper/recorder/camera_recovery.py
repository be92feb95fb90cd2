"""Recovery of one camera's files in a media folder that several worker processes share.

The single box (``recover_media``) repairs the whole folder before any camera starts. A worker cannot: other
workers record into the same folder, and the previous owner of a camera it just took may still be writing
(a drain handover records on for up to two segments; a worker cut off from NATS stops within the lease
timeout, but a starved one may take longer). So a worker recovers only the cameras it holds, and only files
that have stood still:

1. :func:`mark_camera_files`, run when the lease is taken and *before* the camera starts, notes the size and
   modification time of every ``.part`` file and every segment file of the camera (originals and the
   protected rendition). Files the worker itself writes later are never in this list.
2. :func:`drop_indexed` forgets the segment files the index already has (most of them).
3. :func:`settle`, run ``quiet_s`` later (the worker's own monotonic clock, no other host's clock is
   trusted), handles the files whose size and modification time have not changed since: a ``.part`` is
   quarantined, a complete file still missing from the index is probed and indexed (or quarantined when
   unreadable), like the single box does. Files that changed are noted again and checked after another
   ``quiet_s``; files that are gone were finished by their writer.

The index itself refuses a second row for one path, so a file is indexed once however many workers look at
it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from watchkeeper.domain import CameraId
from watchkeeper.recorder.quarantine import QuarantineNote, QuarantineReason, quarantine
from watchkeeper.recorder.recovery import (
    HOUR_GLOB,
    PROTECTED_DIR,
    SealedOpener,
    UnreadableSegmentError,
    UnverifiableSegmentError,
    parse_segment_start,
    probe_segment,
    reindex_file,
    unreadable_note,
)
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

PART_SUFFIX = ".mp4.part"


@dataclass(frozen=True, slots=True)
class FileMark:
    """A file's size and modification time when it was looked at: unchanged means nobody wrote to it."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileMark | None:
        """The mark of ``path`` now; None when it is gone."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return cls(stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class CameraFiles:
    """Files of one camera that may need recovery, with their marks.

    Attributes:
        camera_id: The camera.
        partials: ``.part`` files (segments whose writer has not finished them yet, or never will).
        segments: Complete segment files not known to be indexed.
    """

    camera_id: CameraId
    partials: Mapping[Path, FileMark] = field(default_factory=dict)
    segments: Mapping[Path, FileMark] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when there is nothing to check."""
        return not self.partials and not self.segments

    @property
    def count(self) -> int:
        """How many files are still to check."""
        return len(self.partials) + len(self.segments)


@dataclass(frozen=True, slots=True)
class SettleReport:
    """What one :func:`settle` pass did.

    Attributes:
        quarantined_partials: ``.part`` files moved to ``.quarantine/``.
        reindexed: Complete files added to the index.
        quarantined_unreadable: Complete files that could not be read, moved to ``.quarantine/``.
        unverifiable: Encrypted files whose data key is unavailable now (left alone, unindexed).
        finished: Files that were gone or indexed meanwhile (their writer finished them).
        pending: Files that changed since they were marked: to check again later.
    """

    quarantined_partials: int
    reindexed: int
    quarantined_unreadable: int
    unverifiable: int
    finished: int
    pending: CameraFiles

    @property
    def repaired(self) -> bool:
        """True when anything was moved or indexed."""
        return bool(self.quarantined_partials or self.reindexed or self.quarantined_unreadable)

    def summary(self) -> str:
        """One line for the log."""
        return (
            f"{self.quarantined_partials} partial segment(s) quarantined, {self.reindexed} segment(s) "
            f"re-indexed, {self.quarantined_unreadable} unreadable segment(s) quarantined, "
            f"{self.unverifiable} left unverified, {self.finished} finished by their writer, "
            f"{self.pending.count} still changing"
        )


def mark_camera_files(media_root: Path, camera_id: CameraId, since: datetime | None = None) -> CameraFiles:
    """Note every ``.part`` and segment file of ``camera_id`` now (call it before the camera starts).

    With ``since``, hour folders that end before it are not looked at (a crash leaves its files in the hour
    folder of the segment it was writing; older ones were looked at by earlier owners).
    """
    camera_dir = media_root / camera_id
    hours = [*camera_dir.glob(HOUR_GLOB), *(camera_dir / PROTECTED_DIR).glob(HOUR_GLOB)]
    partials: dict[Path, FileMark] = {}
    segments: dict[Path, FileMark] = {}
    for hour_dir in sorted(hours):
        hour = _start_of(hour_dir / "00.00.mp4", media_root)
        if since is not None and hour is not None and hour + timedelta(hours=1) < since:
            continue
        try:
            entries = list(os.scandir(hour_dir))
        except FileNotFoundError:
            continue  # retention removed the folder meanwhile
        for entry in entries:
            if not entry.is_file(follow_symlinks=False):
                continue
            path = Path(entry.path)
            is_part = entry.name.startswith(".") and entry.name.endswith(PART_SUFFIX)
            if not is_part and (entry.name.startswith(".") or _start_of(path, media_root) is None):
                continue  # not ours: the single box's recovery leaves such files alone too
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # finished (renamed) or deleted while listing
            (partials if is_part else segments)[path] = FileMark(stat.st_size, stat.st_mtime_ns)
    return CameraFiles(camera_id, partials, segments)


def drop_indexed(store: Store, media_root: Path, files: CameraFiles) -> CameraFiles:
    """``files`` without the segment files the index has (one query per hour folder).

    Raises:
        WatchkeeperError: If the database fails (``StorageUnavailableError``).
    """
    by_hour: dict[Path, list[Path]] = {}
    for path in files.segments:
        by_hour.setdefault(path.parent, []).append(path)
    kept: dict[Path, FileMark] = {}
    for hour_dir, paths in by_hour.items():
        hour = _start_of(hour_dir / "00.00.mp4", media_root)
        if hour is None:
            continue
        known = store.retention.indexed_paths(files.camera_id, hour, hour + timedelta(hours=1))
        kept.update(
            (path, files.segments[path])
            for path in paths
            if path.relative_to(media_root).as_posix() not in known
        )
    return CameraFiles(files.camera_id, files.partials, kept)


def settle(
    store: Store, media_root: Path, files: CameraFiles, open_sealed: SealedOpener | None
) -> SettleReport:
    """Recover the files of ``files`` that have not changed since they were marked.

    Raises:
        WatchkeeperError: If the database fails (``StorageUnavailableError``).
    """
    tally = _Tally()
    pending_partials: dict[Path, FileMark] = {}
    for path, mark in files.partials.items():
        now = FileMark.of(path)
        if now is None:
            tally.finished += 1
        elif now != mark:
            pending_partials[path] = now
        elif _quarantine(path, media_root, _partial_note(files.camera_id)) is not None:
            log.warning("recovery: quarantined partial segment %s", path.relative_to(media_root).as_posix())
            tally.partials += 1
        else:
            tally.finished += 1
    pending_segments: dict[Path, FileMark] = {}
    unindexed = drop_indexed(store, media_root, CameraFiles(files.camera_id, {}, files.segments)).segments
    for path, mark in files.segments.items():
        now = FileMark.of(path) if path in unindexed else None
        if now is None:
            tally.finished += 1  # indexed or removed by its writer meanwhile
        elif now != mark:
            pending_segments[path] = now
        else:
            _recover_segment(store, _Where(media_root, path, open_sealed), files.camera_id, tally)
    return SettleReport(
        quarantined_partials=tally.partials,
        reindexed=tally.reindexed,
        quarantined_unreadable=tally.unreadable,
        unverifiable=tally.unverifiable,
        finished=tally.finished,
        pending=CameraFiles(files.camera_id, pending_partials, pending_segments),
    )


# -- internals -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    partials: int = 0
    reindexed: int = 0
    unreadable: int = 0
    unverifiable: int = 0
    finished: int = 0


@dataclass(frozen=True, slots=True)
class _Where:
    media_root: Path
    path: Path
    open_sealed: SealedOpener | None


def _start_of(path: Path, media_root: Path) -> datetime | None:
    return parse_segment_start(path.relative_to(media_root).as_posix())


def _partial_note(camera_id: CameraId) -> QuarantineNote:
    return QuarantineNote(QuarantineReason.PARTIAL, "partial segment left by a crash", camera_id=camera_id)


def _quarantine(path: Path, media_root: Path, note: QuarantineNote) -> Path | None:
    """Quarantine ``path``; None when it vanished first (another worker or its writer got there)."""
    try:
        return quarantine(path, media_root, note)
    except FileNotFoundError:
        return None


def _recover_segment(store: Store, where: _Where, camera_id: CameraId, tally: _Tally) -> None:
    """Index one quiet, unindexed segment file, or quarantine it when it cannot be read."""
    relative = where.path.relative_to(where.media_root).as_posix()
    start = parse_segment_start(relative)
    if start is None:
        return
    try:
        probed = probe_segment(where.path, where.open_sealed)
    except UnverifiableSegmentError as err:
        log.warning("recovery: left unindexed (cannot verify it now): %s", err)
        tally.unverifiable += 1
        return
    except UnreadableSegmentError as err:
        if _quarantine(where.path, where.media_root, unreadable_note(camera_id, err)) is not None:
            log.warning("recovery: quarantined unreadable segment of camera %s: %s", camera_id, err)
            tally.unreadable += 1
        return
    try:
        indexed = reindex_file(store, camera_id, where.path, relative, start, probed)
    except FileNotFoundError:
        indexed = False  # removed between the probe and the index write
    if indexed:
        tally.reindexed += 1
    else:
        tally.finished += 1
