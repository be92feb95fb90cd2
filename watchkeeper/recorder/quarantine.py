"""The media folder's quarantine: segment files that nothing may index, kept aside for a while, then deleted.

Files land in ``<root>/.quarantine/`` under a flattened name (``gate/2026/12/06/04/00.10.mp4`` becomes
``gate_2026_12_06_04_00.10.mp4``), each beside a ``<name>.reason`` file (JSON: why, which camera, when, and
the fencing token for a refused segment). Three things put files there: ``.part`` files a crash left
(recovery), complete files that cannot be read (recovery), and segments whose index row the store refused
because their fencing token was superseded (a worker that lost the camera's lease wrote them late):
:class:`FencedSegmentQuarantine`. A file is moved as it is (an encrypted original stays encrypted).

Retention deletes a quarantined file (and its reason) ``days`` after it was quarantined: the reason file's
time, or the file's own time when it has no reason file (older quarantines): :func:`prune_quarantine`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from watchkeeper.domain import Segment, WatchkeeperError, utcnow
from watchkeeper.storage.protocols import RetentionRepository

log = logging.getLogger(__name__)

QUARANTINE = ".quarantine"
REASON_SUFFIX = ".reason"
INDEX_SLACK = timedelta(minutes=1)
"""Around a refused segment's times, where the index is searched for its path (recovery indexes a file
under the start its name says, to the second)."""


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
    """Delete quarantined files (and their reasons) quarantined before ``before``; how many files went."""
    folder = quarantine_dir(media_root)
    if not folder.is_dir():
        return 0
    cutoff = before.timestamp()
    removed = 0
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.endswith(REASON_SUFFIX):
            continue
        reason = path.with_name(path.name + REASON_SUFFIX)
        try:
            quarantined_at = (reason if reason.exists() else path).stat().st_mtime
            if quarantined_at >= cutoff:
                continue
            path.unlink()
            reason.unlink(missing_ok=True)
        except FileNotFoundError:
            continue
        except OSError as err:
            log.warning("quarantine: cannot delete %s: %s", path.name, err)
            continue
        removed += 1
    for reason in folder.glob(f"*{REASON_SUFFIX}"):  # reasons whose file an operator took away
        media = reason.with_name(reason.name.removesuffix(REASON_SUFFIX))
        if not media.exists() and reason.stat().st_mtime < cutoff:
            reason.unlink(missing_ok=True)
    if removed:
        log.info("retention: %d quarantined file(s) older than %s deleted", removed, before.isoformat())
    return removed


class FencedSegmentQuarantine:
    """Moves segment files whose index row was refused as stale into the quarantine (the outbox's hook).

    A refused row means another worker holds the camera under a newer token; its file would otherwise stay
    in the media folder, indexed by nobody: invisible to playback and retention. A file whose path the
    index holds after all (the new owner's recovery indexed it first) stays where it is.
    """

    def __init__(self, media_root: Path, index: RetentionRepository) -> None:
        """Quarantine under ``media_root``; ``index`` says whether a path is indexed after all."""
        self._root = media_root
        self._index = index

    def __call__(self, segment: Segment, token: int) -> Path | None:
        """Quarantine ``segment``'s file refused under ``token``; its new path, or None when it stays.

        It stays when it is gone, when the index holds its path after all, and (logged) when the store
        cannot be asked or the file cannot be moved: nothing is moved that might be indexed.
        """
        path = self._root / segment.path
        if not path.is_file():
            return None
        try:
            indexed = self._index.indexed_paths(
                segment.camera_id, segment.start - INDEX_SLACK, segment.end + INDEX_SLACK
            )
        except WatchkeeperError as err:
            log.warning(
                "camera %s: refused segment %s left in place: %s", segment.camera_id, segment.path, err
            )
            return None
        if segment.path in indexed:
            log.info(
                "camera %s: refused segment %s is indexed by its new owner", segment.camera_id, segment.path
            )
            return None
        note = QuarantineNote(
            QuarantineReason.FENCED,
            f"index row refused: fencing token {token} superseded (another worker holds the camera)",
            camera_id=segment.camera_id,
            token=token,
        )
        try:
            return quarantine(path, self._root, note)
        except FileNotFoundError:
            return None
        except OSError as err:
            log.error(  # noqa: TRY400 - one line
                "camera %s: cannot quarantine refused segment %s: %s", segment.camera_id, segment.path, err
            )
            return None
