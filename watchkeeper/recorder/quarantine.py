"""The media folder's quarantine: segment files that nothing may index, kept aside for a while, then deleted.

Files land in ``<root>/.quarantine/`` under a flattened name (``gate/2026/12/06/04/00.10.mp4`` becomes
``gate_2026_12_06_04_00.10.mp4``), each beside a ``<name>.reason`` file (JSON: why, which camera, when, and
the fencing token for a refused segment). Three things put files there: ``.part`` files a crash left
(recovery), complete files that cannot be read (recovery), and segments whose index row the store refused
because their fencing token was superseded (a worker that lost the camera's lease wrote them late) and whose
seconds the new owner recorded too: :class:`FencedSegmentQuarantine`. A refused segment with seconds nobody
else indexed is indexed anyway (it is the only copy of those seconds). A file is moved as it is (an
encrypted original stays encrypted).

Retention deletes a quarantined file (and its reason) ``days`` after it was quarantined: the reason file's
time, or the file's own time when it has no reason file (older quarantines): :func:`prune_quarantine`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from watchkeeper.domain import Segment, WatchkeeperError, utcnow
from watchkeeper.storage.protocols import RetentionRepository, SegmentRepository

log = logging.getLogger(__name__)

QUARANTINE = ".quarantine"
REASON_SUFFIX = ".reason"
INDEX_SLACK = timedelta(minutes=1)
"""Around a refused segment's times, where the index is searched for its path (recovery indexes a file
under the start its name says, to the second)."""
COVER_SLACK = timedelta(milliseconds=500)
"""Gaps up to this between the new owner's segments (a frame or two at a segment boundary) count as
covered when a refused segment's time range is checked against them."""


class QuarantineReason:
    """The ``reason`` values written into reason files."""

    PARTIAL = "partial"
    UNREADABLE = "unreadable"
    FENCED = "fenced"


@dataclass(frozen=True, slots=True)
class QuarantineNote:
    """What the reason file beside a quarantined file says.

    Attributes:
        reason: One of :class:`QuarantineReason`.
        detail: One line for the operator.
        camera_id: The camera whose footage it is, when known.
        token: The stale fencing token of a refused segment.
    """

    reason: str
    detail: str
    camera_id: str | None = None
    token: int | None = None

    def to_json(self, at: datetime) -> str:
        """The reason file's text, stamped with the quarantine time ``at``."""
        body: dict[str, str | int] = {"reason": self.reason, "detail": self.detail, "at": at.isoformat()}
        if self.camera_id is not None:
            body["camera"] = self.camera_id
        if self.token is not None:
            body["token"] = self.token
        return json.dumps(body, sort_keys=True) + "\n"


def quarantine_dir(media_root: Path) -> Path:
    """``<root>/.quarantine``."""
    return media_root / QUARANTINE


def quarantine(path: Path, media_root: Path, note: QuarantineNote | None = None) -> Path:
    """Move ``path`` into ``<root>/.quarantine/`` under a flattened name and write its reason; the new path.

    Raises:
        FileNotFoundError: If ``path`` is gone.
    """
    target = quarantine_dir(media_root) / path.relative_to(media_root).as_posix().replace("/", "_")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    if note is not None:
        try:
            target.with_name(target.name + REASON_SUFFIX).write_text(note.to_json(utcnow()))
        except OSError as err:  # the file is aside already; a missing reason only shortens nothing
            log.warning("quarantine: no reason file for %s: %s", target.name, err)
    return target


def prune_quarantine(media_root: Path, before: datetime) -> int:
    """Delete quarantined files (and their reasons) quarantined before ``before``; how many files went.

    Never raises for the folder: a listing that fails (unreadable, removed meanwhile) is logged in one line
    and counts nothing; a file that vanishes or cannot be read meanwhile is skipped (the next pass retries).
    """
    folder = quarantine_dir(media_root)
    try:
        names = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError as err:
        log.warning("quarantine: cannot list %s: %s; nothing pruned this pass", folder, err)
        return 0
    cutoff = before.timestamp()
    removed = sum(1 for path in names if _prune_file(path, cutoff))
    for reason in names:  # reasons whose file an operator took away
        if reason.name.endswith(REASON_SUFFIX):
            _prune_orphan_reason(reason, cutoff)
    if removed:
        log.info("retention: %d quarantined file(s) older than %s deleted", removed, before.isoformat())
    return removed


def _prune_file(path: Path, cutoff: float) -> bool:
    """Delete one quarantined file and its reason when quarantined before ``cutoff``; true when it went."""
    if path.name.endswith(REASON_SUFFIX):
        return False
    reason = path.with_name(path.name + REASON_SUFFIX)
    try:
        if not path.is_file():
            return False
        quarantined_at = (reason if reason.exists() else path).stat().st_mtime
        if quarantined_at >= cutoff:
            return False
        path.unlink()
        reason.unlink(missing_ok=True)
    except FileNotFoundError:
        return False
    except OSError as err:
        log.warning("quarantine: cannot delete %s: %s", path.name, err)
        return False
    return True


def _prune_orphan_reason(reason: Path, cutoff: float) -> None:
    media = reason.with_name(reason.name.removesuffix(REASON_SUFFIX))
    try:
        if not media.exists() and reason.stat().st_mtime < cutoff:
            reason.unlink(missing_ok=True)
    except FileNotFoundError:
        return
    except OSError as err:
        log.warning("quarantine: cannot delete %s: %s", reason.name, err)


class SetAsideKind(StrEnum):
    """What became of the file of a segment whose index row was refused as stale."""

    QUARANTINED = "quarantined"
    INDEXED = "indexed"
    KEPT = "kept"


@dataclass(frozen=True, slots=True)
class SetAside:
    """The outcome for one refused segment: ``path`` is the quarantined file (``QUARANTINED`` only)."""

    kind: SetAsideKind
    path: Path | None = None

    def describe(self) -> str:
        """The end of the refusal's log line."""
        if self.kind is SetAsideKind.QUARANTINED and self.path is not None:
            return f"; its file was quarantined as {self.path.name}"
        if self.kind is SetAsideKind.INDEXED:
            return "; indexed anyway (nobody else recorded its seconds)"
        return "; its file was not moved"


KEPT = SetAside(SetAsideKind.KEPT)


def uncovered(segment: Segment, others: Sequence[Segment]) -> bool:
    """True when part of ``segment``'s time range is in none of ``others`` (gaps to ``COVER_SLACK`` aside)."""
    reached = segment.start
    for other in sorted(others, key=lambda item: item.start):
        if other.start - COVER_SLACK > reached:
            break
        reached = max(reached, other.end)
        if reached + COVER_SLACK >= segment.end:
            return False
    return reached + COVER_SLACK < segment.end


class FencedSegmentQuarantine:
    """Sets aside the files of segments whose index row was refused as stale (the outbox's hook).

    A refused row only means another worker's token moved the camera's fence, not that the footage is
    recorded twice: a worker cut off from the cluster records on until its watchdog stops the camera, and the
    new owner starts a lease timeout later. So a refused segment whose time range the index already covers
    with segments of the same camera and rendition (the new owner's) goes to the quarantine; one with seconds
    nobody else indexed is indexed anyway, without the fence (playback tolerates the one-segment overlap of a
    handover), logged and counted. A file whose path the index holds after all (the new owner's recovery
    indexed it first) stays where it is.
    """

    def __init__(self, media_root: Path, index: RetentionRepository, segments: SegmentRepository) -> None:
        """Set aside under ``media_root``; ``index`` and ``segments`` say what the index holds already."""
        self._root = media_root
        self._index = index
        self._segments = segments

    def __call__(self, segment: Segment, token: int) -> SetAside:
        """Set aside ``segment``'s file refused under ``token``: quarantined, indexed anyway, or kept.

        It stays (kept) when it is gone, when the index holds its path after all, and (logged) when the store
        cannot be asked or the file cannot be moved: nothing is moved that might be indexed.
        """
        path = self._root / segment.path
        if not path.is_file():
            return KEPT
        camera_id = segment.camera_id
        try:
            indexed = self._index.indexed_paths(
                camera_id, segment.start - INDEX_SLACK, segment.end + INDEX_SLACK
            )
            if segment.path in indexed:
                log.info("camera %s: refused segment %s is indexed by its new owner", camera_id, segment.path)
                return KEPT
            others = self._segments.list(camera_id, segment.start, segment.end, rendition=segment.rendition)
            if uncovered(segment, others):
                return self._index_anyway(segment)
        except WatchkeeperError as err:
            log.warning("camera %s: refused segment %s left in place: %s", camera_id, segment.path, err)
            return KEPT
        return self._quarantine(path, segment, token)

    def _index_anyway(self, segment: Segment) -> SetAside:
        """Index the stale owner's segment without the fence: nobody else recorded its seconds."""
        self._segments.add(segment)
        log.warning(
            "camera %s: indexed the stale owner's segment: nobody else recorded %s-%s (%s)",
            segment.camera_id,
            segment.start.isoformat(),
            segment.end.isoformat(),
            segment.path,
            extra={"camera": segment.camera_id},
        )
        return SetAside(SetAsideKind.INDEXED)

    def _quarantine(self, path: Path, segment: Segment, token: int) -> SetAside:
        note = QuarantineNote(
            QuarantineReason.FENCED,
            f"index row refused: fencing token {token} superseded (another worker holds the camera and "
            "recorded these seconds)",
            camera_id=segment.camera_id,
            token=token,
        )
        try:
            return SetAside(SetAsideKind.QUARANTINED, quarantine(path, self._root, note))
        except FileNotFoundError:
            return KEPT
        except OSError as err:
            log.error(  # noqa: TRY400 - one line
                "camera %s: cannot quarantine refused segment %s: %s", segment.camera_id, segment.path, err
            )
            return KEPT
