"""Retention of event snapshots: ``<media_root>/<camera>/events/<event id>.jpg`` go with their footage.

A snapshot is kept as long as footage overlapping its event is (``max(retain_days, event_retain_days)`` of
the camera) and, whatever its age, while an active evidence lock of the camera overlaps the event. A file
whose event is not in the index any more is judged by its modification time (when it was written: the
event's start or end). Files newer than the cut-off are not looked up at all, so a pass costs one
directory listing per camera plus one index lookup per expired file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from watchkeeper.domain import CameraId
from watchkeeper.domain.evidence import EvidenceLock
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

EVENTS_FOLDER = "events"
"""The folder of a camera's event snapshots (written by ``analyzers.event_snapshots``)."""


def prune_event_snapshots(
    store: Store, media_root: Path, cutoffs: Iterable[tuple[CameraId, datetime]]
) -> int:
    """Delete the event snapshots that are past their camera's cut-off and not under an evidence lock.

    Args:
        store: The index (events, evidence locks).
        media_root: The media folder.
        cutoffs: Per camera, the time before which its event footage is no longer kept.

    Returns:
        How many snapshot files were deleted.
    """
    deleted = 0
    for camera_id, cutoff in cutoffs:
        folder = media_root / camera_id / EVENTS_FOLDER
        if not folder.is_dir():
            continue
        expired = [path for path in folder.glob("*.jpg") if _written_at(path) < cutoff]
        if not expired:
            continue
        locks = list(store.evidence_locks.list(camera_id, active_only=True))
        for path in expired:
            if _keep(store, path, cutoff, locks):
                continue
            try:
                path.unlink(missing_ok=True)
            except OSError as err:
                log.error("cannot delete event snapshot %s: %s", path, err)  # noqa: TRY400
                continue
            deleted += 1
    if deleted:
        log.info("retention: %d event snapshot(s) deleted", deleted)
    return deleted


def _written_at(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError:
        return datetime.max.replace(tzinfo=UTC)  # gone meanwhile: nothing to do


def _keep(store: Store, path: Path, cutoff: datetime, locks: list[EvidenceLock]) -> bool:
    """Whether the snapshot at ``path`` (its name is the event id) must stay."""
    event = store.events.get(path.stem)
    if event is None:
        start = end = _written_at(path)
    elif event.end is None or event.end >= cutoff:
        return True  # an ongoing event, or one whose footage is still kept
    else:
        start, end = event.start, event.end
    return any(lock.start <= end and start < lock.end for lock in locks)
