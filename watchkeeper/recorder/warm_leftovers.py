"""Local copies of warm segments that a crash left behind: verified against the bucket, then deleted.

Tiering switches a segment's row to ``warm`` and only then deletes the local file; a crash (or a failed
delete) between the two leaves a local file identical to the object that nothing else removes: recovery
and retention leave warm rows' local files alone, and playback reads the bucket. :class:`WarmLeftovers`
walks the warm rows, and for each one whose file is on this host's disk it

1. hashes the local file and compares it with the SHA-256 the row recorded at the move;
2. reads the object back (one GET) and compares its size, its recorded SHA-256 and the hash of its bytes;
3. only when all agree, deletes the local file.

Any disagreement or error keeps the local file (it may be the only good copy) and is logged and counted.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from watchkeeper.domain import CameraId, Segment, WatchkeeperError
from watchkeeper.media.protocol import ObjectMissingError, ObjectStore, ObjectStoreError
from watchkeeper.recorder.retention import prune_empty_folders
from watchkeeper.storage.protocols import Store

log = logging.getLogger(__name__)

PAGE = 500
HASH_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class LeftoverReport:
    """The outcome of one walk over the warm rows.

    Attributes:
        removed: Local copies deleted (the bucket holds the same bytes).
        removed_bytes: Their bytes.
        kept: Local copies kept because the bucket or the file disagreed with the row, or could not be read.
    """

    removed: int = 0
    removed_bytes: int = 0
    kept: int = 0


class LeftoverKeptError(WatchkeeperError):
    """A warm segment's local copy cannot be proven identical to its object: it stays."""

    code = "warm_leftover_kept"


class WarmLeftovers:
    """Deletes local copies of warm segments once the bucket is verified to hold the same bytes."""

    def __init__(self, store: Store, media_root: Path, warm: ObjectStore) -> None:
        """Walk ``store``'s warm rows; local files under ``media_root``; objects in ``warm``."""
        self._store = store
        self._root = media_root
        self._warm = warm

    def sweep(self, cameras: Collection[CameraId] | None = None) -> LeftoverReport:
        """One walk over the warm rows (only those of ``cameras`` when given); logs what it removed and kept.

        A site worker passes its scope's cameras: another site's warm rows have no local copy here.

        Raises:
            WatchkeeperError: If the index cannot be read (``StorageUnavailableError``).
        """
        removed = removed_bytes = kept = 0
        after = 0
        while page := self._store.tiers.warm_after(after, PAGE, cameras=cameras):
            after = page[-1].id or after
            for segment in page:
                local = self._local(segment)
                if local is None:
                    continue
                try:
                    size = self._verify(segment, local)
                    local.unlink()
                except FileNotFoundError:
                    continue  # removed meanwhile (another worker on a shared folder)
                except (LeftoverKeptError, ObjectMissingError, ObjectStoreError, OSError) as err:
                    kept += 1
                    log.error("tiering: local copy of warm segment %s kept: %s", segment.id, err)  # noqa: TRY400
                    continue
                prune_empty_folders(local.parent, self._root)
                removed += 1
                removed_bytes += size
        report = LeftoverReport(removed, removed_bytes, kept)
        if removed or kept:
            log.warning(
                "tiering: %d local copy(ies) of warm segments (%d bytes) verified against the bucket and "
                "deleted, %d kept",
                removed,
                removed_bytes,
                kept,
            )
        return report

    def _local(self, segment: Segment) -> Path | None:
        relative = PurePosixPath(segment.path)
        if relative.is_absolute() or ".." in relative.parts:
            return None
        path = self._root / relative
        return path if path.is_file() and not path.is_symlink() else None

    def _verify(self, segment: Segment, local: Path) -> int:
        """The local file's size when it, the row and the object agree; raises otherwise."""
        if segment.object_key is None or segment.sha256 is None:
            raise LeftoverKeptError("the row names no object or no SHA-256")
        size = local.stat().st_size
        digest = _sha256(local)
        if digest != segment.sha256:
            raise LeftoverKeptError(
                f"the local file hashes to {digest[:12]}..., not the row's {segment.sha256[:12]}..."
            )
        info = self._warm.stat(segment.object_key)
        if info.size != size or info.sha256 != segment.sha256:
            raise LeftoverKeptError(
                f"object {segment.object_key} has size {info.size} and SHA-256 {str(info.sha256)[:12]}..., "
                f"the local file {size} and {digest[:12]}..."
            )
        reread = hashlib.sha256()
        for piece in self._warm.iter_range(segment.object_key, 0, info.size):
            reread.update(piece)
        if reread.hexdigest() != digest:
            raise LeftoverKeptError(f"the bytes of object {segment.object_key} differ from the local file")
        return size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()
